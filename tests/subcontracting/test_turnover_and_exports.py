"""The OF's CPF turnover, typed in or imported from a CSV (errors per line, nothing saved on
error), and the exports of contracts and ceilings with their stable columns."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, CpfTurnover, Role
from portal.subcontracting import services
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory, FunderProviderFactory, ProviderFactory
from tests.subcontracting.helpers import PRINCIPAL, SUB, import_lists, make_contract, provider_of

PAGE = "/sous-traitance/chiffre-affaires"


@pytest.fixture
def of_user(app, tmp_path, login_as):
    import_lists(tmp_path, (date(2026, 1, 1), [PRINCIPAL, SUB]))
    return login_as(Role.PROVIDER, provider=provider_of(PRINCIPAL))


def turnovers() -> dict[int, tuple[Decimal, date | None, str]]:
    return {
        row.year: (row.amount, row.as_of, row.source)
        for row in db.session.scalars(select(CpfTurnover))
    }


def upload(auth, content: bytes, name: str = "ca.csv"):
    return auth.post(
        f"{PAGE}/import",
        {"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        token_from=PAGE,
    )


# --- Typed in -------------------------------------------------------------------------------


def test_the_of_types_its_yearly_cpf_turnover(client, auth, of_user) -> None:
    page = client.get(PAGE).get_data(as_text=True)
    assert "Chiffre d&#39;affaires CPF" in page
    response = auth.post(
        PAGE, {"year": "2025", "amount": "185 000,00", "as_of": ""}, token_from=PAGE
    )
    assert response.status_code == 303
    assert turnovers() == {2025: (Decimal("185000.00"), None, "saisie")}
    # Typing the year again corrects it, and both are audited.
    auth.post(PAGE, {"year": "2025", "amount": "190000", "as_of": "2025-06-30"}, token_from=PAGE)
    assert turnovers() == {2025: (Decimal("190000.00"), date(2025, 6, 30), "saisie")}
    saved = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "cpf_turnover.saved").order_by(AuditEvent.id)
    ).all()
    assert [e.details["before"] for e in saved] == [
        None,
        {"amount": "185000.00", "as_of": None},
    ]
    assert saved[1].details["after"] == {"amount": "190000.00", "as_of": "2025-06-30"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"year": "2023", "amount": "1000"}, "Année 2023 hors du plafond CPF"),
        ({"year": "vingt", "amount": "1000"}, "Année « vingt » illisible"),
        ({"year": "2025", "amount": "-5"}, "ne peut pas être négatif"),
        (
            {"year": "2024", "amount": "1000", "as_of": "2024-02-01"},
            "du 01/04/2024 au 31/12/2024",
        ),
    ],
)
def test_a_typed_turnover_is_checked(client, auth, of_user, values, message) -> None:
    response = auth.post(PAGE, {"as_of": "", **values}, token_from=PAGE)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert turnovers() == {}


# --- Imported from a CSV ----------------------------------------------------------------------


def test_a_csv_of_turnovers_is_imported(client, auth, of_user) -> None:
    template = client.get(f"{PAGE}/modele.csv")
    assert template.data.decode("utf-8-sig").splitlines()[0] == (
        "annee;chiffre_affaires_cpf;arrete_au"
    )
    response = upload(auth, template.data)
    assert response.status_code == 303
    assert turnovers() == {
        2025: (Decimal("185000.00"), None, "import"),
        2026: (Decimal("92400.00"), date(2026, 6, 30), "import"),
    }
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "cpf_turnover.saved")
    ).all()
    assert {e.details["import"] for e in events} == {"ca.csv"}


def test_errors_are_given_per_line_and_nothing_is_saved(client, auth, of_user) -> None:
    db.session.add(CpfTurnover(provider_id=of_user.provider_id, year=2025, amount=Decimal("1.00")))
    db.session.commit()
    content = (
        "Année;Chiffre d'affaires CPF;Arrêté au\r\n"
        "2025;120 000,00;\r\n"
        "2026;douze;\r\n"
        "\r\n"
        "2023;1000;\r\n"
        "2025;5000;\r\n"
        "2024;1000;15/02/2024\r\n"
    ).encode("cp1252")

    response = upload(auth, content)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Rien n'a été importé : 4 erreurs" in page
    for line, column in (
        (3, "chiffre_affaires_cpf"),
        (5, "annee"),  # 2023: before the ceiling (line 4 is blank)
        (6, "annee"),  # 2025 twice
        (7, "arrete_au"),  # before 1 April 2024
    ):
        assert f"<tr><td>{line}</td><td><code>{column}</code></td>" in page
    assert "« douze » n&#39;est pas un nombre lisible" in page
    assert "Année 2025 déjà donnée ligne 2." in page
    assert turnovers() == {2025: (Decimal("1.00"), None, "saisie")}  # as it was


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Le fichier est vide"),
        (b"annee;montant_total\r\n2025;1000\r\n", "Colonnes obligatoires absentes"),
        (b"annee;chiffre_affaires_cpf\r\n", "ne contient aucune année"),
        (b"PK\x03\x04binary", "enregistrez-le au format CSV"),
        (b"%PDF-1.4 ...", "est un document PDF"),
    ],
)
def test_an_unreadable_file_is_refused_as_a_whole(client, auth, of_user, content, message):
    response = upload(auth, content)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert turnovers() == {}


# --- Exports -----------------------------------------------------------------------------------


@pytest.fixture
def followed(app, tmp_path):
    """The principal's contracts and turnover, followed by a funder; another OF's contract."""
    import_lists(tmp_path, (date(2026, 1, 1), [PRINCIPAL, SUB]))
    principal = provider_of(PRINCIPAL)
    funder = FunderFactory()
    FunderProviderFactory(funder=funder, provider=principal)
    make_contract(principal, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
    make_contract(principal, contract_document=None, is_cpf=False, price=Decimal("500.00"))
    # A dossier of the funder that both contracts cover (category and period).
    make_dossier(
        funder,
        principal,
        category="actions_formation",
        start_date=date(2026, 2, 2),
        end_date=date(2026, 5, 29),
    )
    stranger = ProviderFactory(name="Organisme inconnu du financeur")
    make_contract(stranger, actions="Contrat d'un autre organisme")
    db.session.add(CpfTurnover(provider_id=principal.id, year=2026, amount=Decimal("20000")))
    db.session.commit()
    return funder, principal


def test_contracts_export_has_stable_columns(client, login_as, followed) -> None:
    funder, principal = followed
    login_as(Role.CONTROLLER, funder=funder)
    response = client.get("/sous-traitance/export/contrats.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="sous-traitance-contrats-'
    )
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";") == list(services.CONTRACT_COLUMNS)
    assert services.CONTRACT_COLUMNS[:6] == (
        "id_contrat",
        "donneur_ordre_nda",
        "donneur_ordre_denomination",
        "sous_traitant_nda",
        "sous_traitant_siret",
        "sous_traitant_denomination",
    )
    rows = [
        dict(zip(services.CONTRACT_COLUMNS, line.split(";"), strict=True)) for line in lines[1:]
    ]
    assert len(rows) == 2  # not the other OF's
    first, second = rows
    assert first["donneur_ordre_nda"] == principal.nda
    assert (first["cpf"], first["prix"], first["conforme"]) == ("oui", "18000,00", "oui")
    assert first["date_debut"] == "01/01/2026"
    assert second["conforme"] == "non"
    assert "Aucun contrat signé déposé" in second["non_conformites"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "subcontract.exported")
    ).one()
    assert event.details == {"what": "contrats", "format": "csv", "count": 2}


def test_ceilings_export_in_csv_and_xlsx(client, login_as, followed) -> None:
    funder, principal = followed
    login_as(Role.FUNDER_ADMIN, funder=funder)
    lines = client.get("/sous-traitance/export/plafonds.csv").data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";") == list(services.CEILING_COLUMNS)
    rows = [dict(zip(services.CEILING_COLUMNS, line.split(";"), strict=True)) for line in lines[1:]]
    by_year = {row["annee"]: row for row in rows}
    # 18,000 € of CPF subcontracting in 2026 on 20,000 € of CPF turnover: 90 %, a breach.
    assert by_year["2026"]["taux_pourcent"] == "90,00"
    assert by_year["2026"]["niveau"] == "non_conforme"
    assert by_year["2026"]["sous_traitance_cpf_periode"] == "18000,00"
    assert by_year["2026"]["donneur_ordre_nda"] == principal.nda

    response = client.get("/sous-traitance/export/plafonds.xlsx")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    header, *data = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(services.CEILING_COLUMNS)
    assert any(row[2] == 2026 and row[9] == 90 for row in data)

    response = client.get("/sous-traitance/export/contrats.xlsx")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    assert list(next(sheet.iter_rows(values_only=True))) == list(services.CONTRACT_COLUMNS)
