"""The rules of a dossier's fields, table-driven (shared by the form and the import)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from portal.dossiers import rules
from portal.dossiers.rules import RuleError, validate_dossier

D = Decimal


def _ok(parse, raw, expected) -> None:
    value = parse(raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TP-2026-00042", "TP-2026-00042"),
        ("  ab_12/3.4 ", "ab_12/3.4"),
        ("7", "7"),
        ("A" * 50, "A" * 50),
    ],
)
def test_reference_accepted(raw, expected) -> None:
    _ok(rules.parse_reference, raw, expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "obligatoire"),
        (None, "obligatoire"),
        ("A" * 51, "au plus 50"),
        ("TP 2026", "sans espace"),
        ("-TP", "commence par une lettre"),
        ("réf-1", "sans accent"),
        ("TP;1", "lettres"),
    ],
)
def test_reference_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        rules.parse_reference(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RNCP34567", "RNCP34567"),
        ("rncp34567", "RNCP34567"),
        ("Rncp 34567", "RNCP34567"),
        ("RNCP-34567", "RNCP34567"),
        ("rs5678", "RS5678"),
        ("RS 5678", "RS5678"),
        ("", None),
        (None, None),
        ("  ", None),
    ],
)
def test_rncp_code_accepted_and_normalised(raw, expected) -> None:
    assert rules.parse_rncp(raw) == expected


@pytest.mark.parametrize("raw", ["RNCP", "RS", "34567", "RNCPX12", "RSS12", "RNCP123456789", "R12"])
def test_rncp_code_refused(raw) -> None:
    with pytest.raises(RuleError, match="RNCP suivi de chiffres"):
        rules.parse_rncp(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 234,50", D("1234.50")),
        ("1234.50", D("1234.50")),
        ("1234,5", D("1234.50")),
        ("1\u202f234,50\u00a0€", D("1234.50")),
        ("1.234,50", D("1234.50")),
        ("1,234.50", D("1234.50")),
        ("1 000 000", D("1000000.00")),
        ("0", D("0.00")),
        ("0,00", D("0.00")),
        (1234, D("1234.00")),
        (1234.5, D("1234.50")),  # an XLSX number cell, through its decimal writing
        (0.1, D("0.10")),
        (D("99.9"), D("99.90")),
        ("9999999999,99", D("9999999999.99")),
    ],
)
def test_amount_accepted(raw, expected) -> None:
    value = rules.parse_amount(raw)
    assert value == expected
    assert isinstance(value, Decimal)
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "obligatoire"),
        ("-1", "négatif"),
        ("-0,01", "négatif"),
        ("12,345", "2 décimales"),
        ("1.234", "2 décimales"),  # a dot alone is a decimal point
        ("0.001", "2 décimales"),
        ("12 euros", "nombre lisible"),
        ("1,2,3", "nombre lisible"),
        ("12.34.56,7", "nombre lisible"),
        ("1e3", "nombre lisible"),
        ("NaN", "nombre lisible"),
        ("10000000000", "trop grand"),
        (True, "pas un nombre"),
    ],
)
def test_amount_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        rules.parse_amount(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Kept in minutes (issue 14): every writing DOMAIN.md lists.
        ("35", 35 * 60),
        ("35,5", 35 * 60 + 30),
        ("35.25", 35 * 60 + 15),
        ("1 200", 1200 * 60),
        ("35h", 35 * 60),
        ("13h30", 810),
        ("13 h 30", 810),
        ("13 h 30 min", 810),
        ("13:30", 810),
        ("13,5", 810),
        ("13.5", 810),
        ("7h20", 440),
        ("7,33", 440),  # to the nearest minute
        ("1 085 h", 1085 * 60),
        (35, 35 * 60),
        (12.5, 12 * 60 + 30),
        (D("7.5"), 450),
        ("0,01", 1),  # 36 seconds: the nearest minute
        ("0h01", 1),
    ],
)
def test_planned_hours_accepted(raw, expected) -> None:
    assert rules.parse_hours(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "supérieure à 0"),
        ("0,00", "supérieure à 0"),
        ("0h00", "supérieure à 0"),
        ("-3", "supérieure à 0"),
        ("35,125", "2 décimales"),
        ("", "obligatoire"),
        ("trente", "pas une durée lisible : écrivez par exemple 13h30, 13:30 ou 13,5"),
        ("13h75", "les minutes vont de 0 à 59"),
        ("13:3:0", "pas une durée lisible"),
        ("1000000", "trop grande"),
    ],
)
def test_planned_hours_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        rules.parse_hours(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15/03/2026", date(2026, 3, 15)),
        ("2026-03-15", date(2026, 3, 15)),
        (" 01/01/2000 ", date(2000, 1, 1)),
        (date(2026, 3, 15), date(2026, 3, 15)),
        (datetime(2026, 3, 15, 0, 0), date(2026, 3, 15)),
    ],
)
def test_date_accepted(raw, expected) -> None:
    _ok(rules.parse_date, raw, expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("31/02/2026", "illisible"),
        ("15-03-2026", "illisible"),
        ("2026/03/15", "illisible"),
        ("", "obligatoire"),
        ("15/03/1999", "2000 à 2099"),
        ("15/03/2100", "2000 à 2099"),
    ],
)
def test_date_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        rules.parse_date(raw)


@pytest.mark.parametrize(
    ("parse", "raw", "expected"),
    [
        (rules.parse_category, "actions_formation", "actions_formation"),
        (rules.parse_category, "VAE", "vae"),
        (rules.parse_category, "Bilan de compétences", "bilans_competences"),
        (rules.parse_category, "bilans de competences", "bilans_competences"),
        (rules.parse_category, "Apprentissage", "apprentissage"),
        (rules.parse_scheme, "PTP", "ptp"),
        (rules.parse_scheme, "cpf", "cpf"),
        (rules.parse_scheme, "Plan de développement des compétences", "plan"),
        (rules.parse_scheme, "alternance", "alternance"),
        (rules.parse_scheme, "Autre", "autre"),
        (rules.parse_modality, "Présentiel", "presentiel"),
        (rules.parse_modality, "presentiel", "presentiel"),
        (rules.parse_modality, "À distance", "distance"),
        (rules.parse_modality, "a distance", "distance"),
        (rules.parse_modality, "mixte", "mixte"),
        (rules.parse_modality, "situation_travail", "situation_travail"),
        (rules.parse_modality, "En situation de travail", "situation_travail"),
        (rules.parse_rhythm, "MENSUEL", "mensuel"),
        (rules.parse_rhythm, "fin_de_formation", "fin_de_formation"),
        (rules.parse_rhythm, "Par échéances", "echeances"),
        (rules.parse_status, "clos", "clos"),
        (rules.parse_status, "Annulé", "annule"),
    ],
)
def test_choices_by_key_or_label(parse, raw, expected) -> None:
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (rules.parse_category, "formation continue"),
        (rules.parse_scheme, "CPF+"),
        (rules.parse_modality, "hybride"),
        (rules.parse_rhythm, "trimestriel"),
        (rules.parse_status, "ouvert"),
    ],
)
def test_unknown_choices_name_the_possible_values(parse, raw) -> None:
    with pytest.raises(RuleError, match="valeurs possibles"):
        parse(raw)


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("81234567600017", "siret", "81234567600017"),
        ("812 345 676 00017", "siret", "81234567600017"),
        ("01971234567", "nda", "01971234567"),
        ("01 97 123 4567", "nda", "01971234567"),
    ],
)
def test_provider_identifier(raw, kind, value) -> None:
    ident = rules.parse_provider(raw)
    assert (ident.kind, ident.value) == (kind, value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("812345676", "Un SIREN ne suffit pas"),
        ("81234567600018", "clé de contrôle"),
        ("1971234567", "Identifiant non reconnu"),
        ("", "obligatoire"),
    ],
)
def test_provider_identifier_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        rules.parse_provider(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("oui", True),
        ("Oui", True),
        ("x", True),
        ("VRAI", True),
        (True, True),
        (1, True),
        ("non", False),
        ("", False),
        (None, False),
        (False, False),
        (0, False),
    ],
)
def test_yes_no(raw, expected) -> None:
    assert rules.parse_bool(raw) is expected


def test_yes_no_refused() -> None:
    with pytest.raises(RuleError, match="oui ou non"):
        rules.parse_bool("peut-être")


# --- The whole dossier -----------------------------------------------------------------------

VALID = {
    "reference": "TP-1",
    "provider": "81234567600017",
    "beneficiary_last_name": "Martin",
    "beneficiary_first_name": "Claire",
    "action_title": "Titre professionnel  Secrétaire assistant",
    "category": "actions_formation",
    "scheme": "ptp",
    "rncp_code": "rncp37796",
    "modality": "presentiel",
    "start_date": "01/09/2026",
    "end_date": "2027-03-31",
    "planned_hours": "1085",
    "agreed_amount": "14 250,50",
    "payment_rhythm": "mensuel",
    "instalments": "",
    "subcontracted": "non",
}


def test_a_valid_dossier() -> None:
    data, errors = validate_dossier(VALID)
    assert errors == {}
    assert data is not None
    assert data.reference == "TP-1"
    assert data.provider.kind == "siret"
    assert data.action_title == "Titre professionnel Secrétaire assistant"
    assert data.rncp_code == "RNCP37796"
    assert (data.start_date, data.end_date) == (date(2026, 9, 1), date(2027, 3, 31))
    assert data.agreed_amount == D("14250.50")
    assert data.planned_minutes == 1085 * 60
    assert data.instalments is None
    assert data.subcontracted is False
    assert data.status is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end_date": "31/08/2026"}, "end_date", "postérieure à la date de début"),
        ({"payment_rhythm": "fin_de_formation"}, "payment_rhythm", "PTP"),
        ({"payment_rhythm": "echeances", "instalments": "3"}, "payment_rhythm", "Mensuel"),
        (
            {"scheme": "cpf", "payment_rhythm": "echeances", "instalments": ""},
            "instalments",
            "au moins 2",
        ),
        (
            {"scheme": "cpf", "payment_rhythm": "echeances", "instalments": "1"},
            "instalments",
            "de 2 à 60",
        ),
        (
            {"scheme": "cpf", "payment_rhythm": "echeances", "instalments": "61"},
            "instalments",
            "de 2 à 60",
        ),
        (
            {"scheme": "cpf", "payment_rhythm": "echeances", "instalments": "2,5"},
            "instalments",
            "entier",
        ),
        ({"beneficiary_last_name": " "}, "beneficiary_last_name", "obligatoire"),
        ({"action_title": "x" * 301}, "action_title", "300"),
        ({"category": ""}, "category", "obligatoire"),
        ({"status": "ouvert"}, "status", "valeurs possibles"),
    ],
)
def test_rules_between_and_on_fields(changes, field, message) -> None:
    data, errors = validate_dossier({**VALID, **changes})
    assert data is None
    assert field in errors
    assert any(message in text for text in errors[field]), errors


@pytest.mark.parametrize(
    ("scheme", "rhythm", "instalments", "expected"),
    [
        ("cpf", "echeances", "3", 3),
        ("plan", "echeances", 4, 4),
        ("cpf", "fin_de_formation", "3", None),  # ignored unless paid by instalments
        ("ptp", "mensuel", "", None),
        ("alternance", "mensuel", "", None),
    ],
)
def test_instalments_only_for_payment_by_instalments(scheme, rhythm, instalments, expected) -> None:
    data, errors = validate_dossier(
        {**VALID, "scheme": scheme, "payment_rhythm": rhythm, "instalments": instalments}
    )
    assert errors == {}
    assert data.instalments == expected


def test_every_error_is_reported_at_once() -> None:
    data, errors = validate_dossier(
        {**VALID, "reference": "", "agreed_amount": "-5", "planned_hours": "0", "modality": "?"}
    )
    assert data is None
    assert set(errors) == {"reference", "agreed_amount", "planned_hours", "modality"}


def test_status_is_checked_only_when_given() -> None:
    data, errors = validate_dossier({**VALID, "status": "Clos"})
    assert errors == {}
    assert data.status == "clos"


def test_ptp_message_is_french_and_names_the_rhythm() -> None:
    assert rules.rhythm_error("ptp", "echeances") == (
        "Un projet de transition professionnelle (PTP) est payé mensuellement : "
        "choisissez le rythme « Mensuel »."
    )
    assert rules.rhythm_error("cpf", "echeances") is None


@pytest.mark.parametrize(
    ("scheme", "category", "refused"),
    [
        ("ptp", "actions_formation", False),
        ("ptp", "bilans_competences", True),
        ("ptp", "vae", True),
        ("ptp", "apprentissage", True),
        # Other schemes fund every category.
        ("cpf", "bilans_competences", False),
        ("cpf", "vae", False),
    ],
)
def test_a_ptp_funds_an_action_de_formation_only(scheme, category, refused) -> None:
    rhythm = "mensuel" if scheme == "ptp" else "fin_de_formation"
    raw = {**VALID, "scheme": scheme, "category": category, "payment_rhythm": rhythm}
    data, errors = validate_dossier(raw)
    if refused:
        assert data is None
        (message,) = errors["category"]
        assert "projet de transition professionnelle (PTP) finance une action de formation" in (
            message
        )
    else:
        assert errors == {}, errors
