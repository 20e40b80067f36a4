"""The rules of the pieces' fields, table-driven (piece_rules: pure functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.dossiers.piece_rules import (
    FIELDS,
    SPECS_BY_NAME,
    Context,
    check,
    fields_for,
    format_value,
    input_value,
    parse_piece_hours,
)
from portal.dossiers.rules import RuleError
from portal.models import PieceKind

D = date
CONTEXT = Context(
    action_start=D(2026, 1, 15),
    action_end=D(2026, 6, 30),
    modality="presentiel",
    today=D(2026, 4, 10),
)
DISTANCE = Context(
    action_start=D(2026, 1, 15),
    action_end=D(2026, 6, 30),
    modality="distance",
    today=D(2026, 4, 10),
)

VALID = {
    PieceKind.INVOICE: {
        "period_start": "15/01/2026",
        "period_end": "2026-01-31",
        "invoice_number": " F-2026-001 ",
        "invoice_date": "02/02/2026",
        "amount_excl_tax": "1 250,50",
        "amount_incl_tax": "1 500,60 €",
        "hours_billed": "70",
    },
    PieceKind.COMPLETION_CERTIFICATE: {
        "period_start": "2026-01-15",
        "period_end": "2026-01-31",
        "nature": "actions_formation",
        "hours_completed": "69h30",
        "signatory": "Sophie Martin",
        "signed_on": "2026-02-01",
    },
    PieceKind.ATTENDANCE_SHEET: {
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
        "half_days_planned": "40",
        "half_days_signed": "38",
        "hours_attended": "133,5",
    },
    PieceKind.EXPENSE_STATEMENT: {
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
        "amount": "0",
    },
}


def test_valid_values_come_back_typed() -> None:
    invoice = check(PieceKind.INVOICE, VALID[PieceKind.INVOICE], CONTEXT)
    assert invoice.ok, invoice.errors
    assert invoice.values == {
        "period_start": D(2026, 1, 15),
        "period_end": D(2026, 1, 31),
        "invoice_number": "F-2026-001",
        "invoice_date": D(2026, 2, 2),
        "amount_excl_tax": Decimal("1250.50"),
        "amount_incl_tax": Decimal("1500.60"),
        "minutes_billed": 70 * 60,  # hours typed, minutes kept
    }
    certificate = check(
        PieceKind.COMPLETION_CERTIFICATE, VALID[PieceKind.COMPLETION_CERTIFICATE], CONTEXT
    )
    assert certificate.ok, certificate.errors
    assert certificate.values["minutes_completed"] == 69 * 60 + 30
    assert certificate.values["months_completed"] is None
    assert "distance_activities" not in certificate.values  # on-site training
    sheet = check(PieceKind.ATTENDANCE_SHEET, VALID[PieceKind.ATTENDANCE_SHEET], CONTEXT)
    assert sheet.ok and sheet.values["half_days_signed"] == 38
    assert sheet.values["minutes_attended"] == 133 * 60 + 30
    statement = check(PieceKind.EXPENSE_STATEMENT, VALID[PieceKind.EXPENSE_STATEMENT], CONTEXT)
    assert statement.ok and statement.values["amount"] == Decimal("0.00")


def test_typed_values_from_code_are_accepted() -> None:
    values = {
        "period_start": D(2026, 2, 1),
        "period_end": D(2026, 2, 28),
        "half_days_planned": 40,
        "half_days_signed": 40,
        "hours_attended": Decimal("140"),
    }
    assert check(PieceKind.ATTENDANCE_SHEET, values, CONTEXT).ok


def test_fields_of_another_kind_are_ignored() -> None:
    raw = {**VALID[PieceKind.EXPENSE_STATEMENT], "amount_incl_tax": "n'importe quoi"}
    result = check(PieceKind.EXPENSE_STATEMENT, raw, CONTEXT)
    assert result.ok and "amount_incl_tax" not in result.values


# (kind, changes, field in error, part of the French message)
CASES = [
    # Period: present, in order, inside the action, begun.
    (PieceKind.INVOICE, {"period_start": ""}, "period_start", "obligatoire"),
    (PieceKind.INVOICE, {"period_end": "31/02/2026"}, "period_end", "illisible"),
    (
        PieceKind.INVOICE,
        {"period_start": "2026-01-31", "period_end": "2026-01-15"},
        "period_end",
        "précéder son début",
    ),
    (
        PieceKind.INVOICE,
        {"period_start": "2026-01-01"},
        "period_start",
        "comprise dans celle de l'action (du 15/01/2026 au 30/06/2026)",
    ),
    (
        PieceKind.EXPENSE_STATEMENT,
        {"period_end": "2026-07-31"},
        "period_end",
        "comprise dans celle de l'action",
    ),
    (
        PieceKind.EXPENSE_STATEMENT,
        {"period_start": "2026-05-01", "period_end": "2026-05-31"},
        "period_start",
        "commencer après aujourd'hui",
    ),
    (PieceKind.EXPENSE_STATEMENT, {"period_start": "1999-05-01"}, "period_start", "2000 à 2099"),
    # Amounts: numbers, ≥ 0, cents at most, incl. ≥ excl.
    (PieceKind.INVOICE, {"amount_excl_tax": "-10"}, "amount_excl_tax", "négatif"),
    (PieceKind.INVOICE, {"amount_excl_tax": "12,345"}, "amount_excl_tax", "2 décimales"),
    (PieceKind.INVOICE, {"amount_excl_tax": "douze"}, "amount_excl_tax", "pas un nombre"),
    (
        PieceKind.INVOICE,
        {"amount_incl_tax": "1 000"},
        "amount_incl_tax",
        "TTC ne peut pas être inférieur au montant HT",
    ),
    (PieceKind.INVOICE, {"amount_excl_tax": "99999999999"}, "amount_excl_tax", "trop grand"),
    (PieceKind.EXPENSE_STATEMENT, {"amount": "-0,01"}, "amount", "négatif"),
    # Invoice: its number and date.
    (PieceKind.INVOICE, {"invoice_number": "   "}, "invoice_number", "obligatoire"),
    (PieceKind.INVOICE, {"invoice_number": "F" * 51}, "invoice_number", "Au plus 50 caractères"),
    (PieceKind.INVOICE, {"invoice_date": "2026-04-11"}, "invoice_date", "futur"),
    # Hours: ≥ 0, readable, at most 24 a day of the period.
    (PieceKind.INVOICE, {"hours_billed": "-1"}, "hours_billed", "négative"),
    (PieceKind.INVOICE, {"hours_billed": "7h75"}, "hours_billed", "minutes vont de 0 à 59"),
    (PieceKind.INVOICE, {"hours_billed": "beaucoup"}, "hours_billed", "pas une durée lisible"),
    (PieceKind.INVOICE, {"hours_billed": "1,125"}, "hours_billed", "2 décimales"),
    (PieceKind.INVOICE, {"hours_billed": "409"}, "hours_billed", "plus de 24 heures par jour"),
    (PieceKind.ATTENDANCE_SHEET, {"hours_attended": ""}, "hours_attended", "obligatoire"),
    # Half-days: whole numbers, signed ≤ planned ≤ 2 a day.
    (
        PieceKind.ATTENDANCE_SHEET,
        {"half_days_signed": "41"},
        "half_days_signed",
        "ne peut pas dépasser",
    ),
    (
        PieceKind.ATTENDANCE_SHEET,
        {"half_days_planned": "2,5"},
        "half_days_planned",
        "nombre entier",
    ),
    (PieceKind.ATTENDANCE_SHEET, {"half_days_planned": "-2"}, "half_days_planned", "négatif"),
    (
        PieceKind.ATTENDANCE_SHEET,
        {"half_days_planned": "57", "half_days_signed": "0"},
        "half_days_planned",
        "au plus 56 demi-journées",
    ),
    # Certificat de réalisation: nature, hours or months, signature.
    (PieceKind.COMPLETION_CERTIFICATE, {"nature": ""}, "nature", "obligatoire"),
    (PieceKind.COMPLETION_CERTIFICATE, {"nature": "cuisine"}, "nature", "quatre catégories"),
    (PieceKind.COMPLETION_CERTIFICATE, {"hours_completed": ""}, "hours_completed", "en heures"),
    (
        PieceKind.COMPLETION_CERTIFICATE,
        {"nature": "apprentissage", "hours_completed": ""},
        "months_completed",
        "apprentissage, indiquez la durée réalisée en mois",
    ),
    (
        PieceKind.COMPLETION_CERTIFICATE,
        {"months_completed": "1"},
        "months_completed",
        "ne vaut que pour l'apprentissage",
    ),
    (
        PieceKind.COMPLETION_CERTIFICATE,
        {"nature": "apprentissage", "months_completed": "-1"},
        "months_completed",
        "négative",
    ),
    (PieceKind.COMPLETION_CERTIFICATE, {"signed_on": "2026-04-11"}, "signed_on", "futur"),
    (
        PieceKind.COMPLETION_CERTIFICATE,
        {"signed_on": "2026-01-14"},
        "signed_on",
        "précéder le début de la période",
    ),
    (PieceKind.COMPLETION_CERTIFICATE, {"signatory": ""}, "signatory", "obligatoire"),
]


@pytest.mark.parametrize(("kind", "changes", "field", "message"), CASES)
def test_rule(kind: PieceKind, changes: dict, field: str, message: str) -> None:
    result = check(kind, {**VALID[kind], **changes}, CONTEXT)
    assert message in " ".join(result.errors.get(field, [])), result.errors
    assert not result.ok


def test_apprenticeship_is_counted_in_months() -> None:
    raw = {
        **VALID[PieceKind.COMPLETION_CERTIFICATE],
        "nature": "apprentissage",
        "hours_completed": "",
        "months_completed": "0,5",
    }
    result = check(PieceKind.COMPLETION_CERTIFICATE, raw, CONTEXT)
    assert result.ok, result.errors
    assert result.values["months_completed"] == Decimal("0.50")


def test_distance_learning_asks_for_the_activities() -> None:
    raw = VALID[PieceKind.COMPLETION_CERTIFICATE]
    names = [spec.name for spec in fields_for(PieceKind.COMPLETION_CERTIFICATE, DISTANCE)]
    assert "distance_activities" in names
    missing = check(PieceKind.COMPLETION_CERTIFICATE, raw, DISTANCE)
    assert "décrivez les activités réalisées" in missing.errors["distance_activities"][0]
    given = check(
        PieceKind.COMPLETION_CERTIFICATE,
        {**raw, "distance_activities": "Classe virtuelle 10 h\r\nQuiz 2 h"},
        DISTANCE,
    )
    assert given.ok and given.values["distance_activities"] == "Classe virtuelle 10 h\nQuiz 2 h"


def test_every_error_is_reported_at_once() -> None:
    raw = {"period_start": "", "period_end": "", "amount_excl_tax": "x"}
    result = check(PieceKind.INVOICE, raw, CONTEXT)
    assert set(result.errors) == {
        "period_start",
        "period_end",
        "invoice_number",
        "invoice_date",
        "amount_excl_tax",
        "amount_incl_tax",
        "hours_billed",
    }


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("7", 420),
        ("7,5", 450),
        ("7.25", 435),
        ("7h", 420),
        ("7h30", 450),
        ("7 h 30", 450),
        ("7:30", 450),
        ("7H20", 440),  # whole minutes: three of them prove 22 h
        ("7,33", 440),
        ("0", 0),
        ("1 200", 72000),
    ],
)
def test_hours_are_read_as_typed_and_kept_in_minutes(text: str, hours: int) -> None:
    assert parse_piece_hours(text) == hours


def test_unreadable_hours_say_how_to_write_them() -> None:
    with pytest.raises(RuleError, match="13h30, 13:30 ou 13,5"):
        parse_piece_hours("sept heures")


@pytest.mark.parametrize(
    ("name", "value", "shown", "in_form"),
    [
        ("amount_excl_tax", Decimal("1250.5"), "1\u202f250,50\u00a0€", "1250,5"),
        ("hours_billed", 69 * 60 + 30, "69\u00a0h\u00a030", "69h30"),
        ("hours_billed", 70 * 60, "70\u00a0h", "70"),
        ("hours_billed", 440, "7\u00a0h\u00a020", "7h20"),
        ("months_completed", Decimal("2.50"), "2,5\u00a0mois", "2,5"),
        ("signed_on", D(2026, 2, 1), "01/02/2026", "2026-02-01"),
        ("nature", "vae", "Validation des acquis de l'expérience (VAE)", "vae"),
        ("half_days_signed", 19, "19", "19"),
    ],
)
def test_values_are_written_back_the_french_way(name, value, shown, in_form) -> None:
    spec = SPECS_BY_NAME[name]
    assert format_value(spec, value) == shown
    assert input_value(spec, value) == in_form


def test_every_kind_has_its_period() -> None:
    for kind, specs in FIELDS.items():
        assert [s.name for s in specs[:2]] == ["period_start", "period_end"], kind
