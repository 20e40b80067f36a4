"""Import of dossiers from a CSV or XLSX file: template, all-or-nothing, errors by line."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from portal.dossiers import services
from portal.errors import Refused
from portal.extensions import db
from portal.models import AuditEvent, Dossier, Provider, Role
from portal.public_list.importer import import_list
from tests.factories import FunderFactory, ProviderFactory

SAMPLE = Path(__file__).parent.parent / "fixtures" / "public_list_sample.csv"
PAGE = "/dossiers/import"
HEADER = [header for header, _, _ in services.IMPORT_COLUMNS]


@pytest.fixture
def public_list(app) -> None:
    import_list(str(SAMPLE), as_of=date.today() - timedelta(days=2), triggered_by="test")


def line(**changes) -> list[str]:
    values = {
        "reference": "IMP-1",
        "organisme": "81234567600017",
        "beneficiaire_nom": "Martin",
        "beneficiaire_prenom": "Claire",
        "intitule": "Secrétaire assistant",
        "categorie": "actions_formation",
        "dispositif": "cpf",
        "code_rncp_rs": "",
        "modalite": "Présentiel",
        "date_debut": "01/09/2026",
        "date_fin": "31/10/2026",
        "heures_prevues": "70",
        "montant_accorde": "1 234,50",
        "rythme_paiement": "fin_de_formation",
        "nombre_echeances": "",
        "sous_traitance": "non",
    }
    values.update(changes)
    return [values[header] for header in HEADER]


def csv_file(rows: list[list[str]], header: list[str] = HEADER, sep: str = ";") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def upload(auth, data: bytes, filename: str = "dossiers.csv"):
    return auth.post(
        PAGE,
        {"file": (io.BytesIO(data), filename)},
        token_from=PAGE,
        content_type="multipart/form-data",
    )


def count() -> int:
    return db.session.scalar(select(func.count(Dossier.id))) or 0


# --- Template ------------------------------------------------------------------------------------


def test_the_page_explains_the_columns_and_offers_the_templates(client, login_as) -> None:
    login_as(Role.FUNDER_ADMIN)
    body = client.get(PAGE).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in body
    assert "/dossiers/import/modele.csv" in body and "/dossiers/import/modele.xlsx" in body
    for header in HEADER:
        assert f"<code>{header}</code>" in body


def test_csv_template_has_the_headers_and_an_example_that_imports(
    client, auth, login_as, public_list
):
    login_as(Role.FUNDER_ADMIN)
    response = client.get("/dossiers/import/modele.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "modele-import-dossiers.csv" in response.headers["Content-Disposition"]
    rows = list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    assert rows[0] == HEADER
    assert len(rows) == 2
    assert rows[1][HEADER.index("montant_accorde")] == "14250,50"
    assert upload(auth, response.data, "modele.csv").status_code == 303
    assert count() == 1


def test_xlsx_template_has_the_headers_and_an_example_that_imports(
    client, auth, login_as, public_list
):
    login_as(Role.FUNDER_ADMIN)
    response = client.get("/dossiers/import/modele.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == services.XLSX_TYPE
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    example = dict(zip(HEADER, rows[1], strict=True))
    assert example["organisme"] == "81234567600017"  # a text cell
    assert example["date_debut"].date() == date(2026, 9, 1)
    assert upload(auth, response.data, "modele.xlsx").status_code == 303
    dossier = db.session.scalars(select(Dossier)).one()
    assert dossier.agreed_amount == Decimal("14250.50")
    assert dossier.scheme == "ptp"


# --- All or nothing ------------------------------------------------------------------------------


def test_bad_lines_are_listed_by_line_and_column_and_nothing_is_created(
    client, auth, login_as, public_list
) -> None:
    user = login_as(Role.FUNDER_ADMIN)
    ProviderFactory()  # an unrelated OF
    from tests.dossiers.test_funder_dossiers import make_dossier

    existing_provider = ProviderFactory(nda="11000000009")
    make_dossier(user.funder, existing_provider, "DEJA-1")
    data = csv_file(
        [
            line(reference="OK-1"),  # line 2: good
            line(reference="OK-2", montant_accorde="12,345", date_fin="01/08/2026"),  # line 3
            line(reference="OK-1"),  # line 4: reference already in the file
            line(reference="DEJA-1"),  # line 5: reference already used by the funder
            line(reference="PTP-1", dispositif="ptp"),  # line 6: PTP paid on completion
            ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],  # blank: skipped
            line(reference="OK-3", organisme="73282932000074"),  # line 8: OF in no list
            line(reference="OK-4", rythme_paiement="echeances"),  # line 9: how many?
            # line 10: a PTP funds an action de formation, not a VAE (issue 14)
            line(reference="PTP-2", dispositif="ptp", categorie="vae", rythme_paiement="mensuel"),
        ]
    )
    response = upload(auth, data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Aucun dossier importé" in body
    report = services.import_dossiers(user, services.read_import(data)[0])
    db.session.rollback()
    found = {(e.line, e.column) for e in report.errors}
    assert found == {
        (3, "montant_accorde"),
        (3, "date_fin"),
        (4, "reference"),
        (5, "reference"),
        (6, "rythme_paiement"),
        (8, "organisme"),
        (9, "nombre_echeances"),
        (10, "categorie"),
    }
    for error in report.errors:
        assert f"<tr><td>{error.line}</td><td><code>{error.column}</code></td>" in body
    assert "Référence déjà utilisée ligne 2 de ce fichier." in body
    assert "payé mensuellement" in body
    assert "(PTP) finance une action de formation" in body
    assert count() == 1  # only DEJA-1
    assert db.session.scalar(select(func.count(Provider.id))) == 2  # nothing created either
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("dossier.%"))
    ).all()


def test_a_good_file_creates_every_dossier_and_audits_them(client, auth, login_as, public_list):
    user = login_as(Role.FUNDER_ADMIN)
    data = csv_file(
        [
            line(reference="IMP-1"),
            line(reference="IMP-2", organisme="76311234567", code_rncp_rs="rs 5678"),
            line(
                reference="IMP-3",
                organisme="01971234567",
                dispositif="plan",
                rythme_paiement="Par échéances",
                nombre_echeances="3",
                sous_traitance="oui",
            ),
        ],
        header=[*HEADER, "commentaire"],
    )
    response = upload(auth, data, "lot de septembre.csv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/dossiers/"
    page = client.get("/dossiers/").get_data(as_text=True)
    assert "3 dossiers importés depuis « lot de septembre.csv »." in page
    assert "Colonnes ignorées : commentaire." in page
    dossiers = db.session.scalars(select(Dossier).order_by(Dossier.reference)).all()
    assert [d.reference for d in dossiers] == ["IMP-1", "IMP-2", "IMP-3"]
    assert all(d.funder_id == user.funder_id for d in dossiers)
    assert dossiers[0].provider_id == dossiers[1].provider_id  # the same OF, created once
    assert dossiers[1].rncp_code == "RS5678"
    assert dossiers[2].instalments == 3 and dossiers[2].subcontracted is True
    assert dossiers[2].provider.name == "Caraïbes Compétences Formation"
    assert dossiers[0].agreed_amount == Decimal("1234.50")
    # 31/10 end, paid on completion: due on 15 November.
    assert dossiers[0].first_missing_due == date(2026, 11, 15)
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("dossier.created") == 3
    assert actions.count("provider.created") == 2
    assert actions.count("dossier.imported") == 1
    created = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "dossier.created").order_by(AuditEvent.id)
    ).all()
    assert [e.details["line"] for e in created] == [2, 3, 4]
    assert {e.object_id for e in created} == {str(d.id) for d in dossiers}


def test_the_same_references_may_be_imported_by_another_funder(client, auth, login_as, public_list):
    other = FunderFactory()
    from tests.dossiers.test_funder_dossiers import make_dossier

    make_dossier(other, ProviderFactory(), "IMP-1")
    login_as(Role.FUNDER_ADMIN)
    assert upload(auth, csv_file([line(reference="IMP-1")])).status_code == 303
    assert count() == 2


def test_xlsx_with_typed_cells(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Référence du dossier", *HEADER[1:]])  # a form label as header works too
    row = line(reference="X-1", organisme="01971234567")
    values = dict(zip(HEADER, row, strict=True))
    values.update(
        organisme=1971234567,  # an NDA typed as a number: its leading 0 was lost
        date_debut=date(2026, 9, 1),
        date_fin=date(2026, 10, 31),
        heures_prevues=70,
        montant_accorde=1234.5,
    )
    sheet.append([values[h] for h in HEADER])
    out = io.BytesIO()
    workbook.save(out)
    response = upload(auth, out.getvalue(), "dossiers.xlsx")
    assert response.status_code == 303, response.get_data(as_text=True)
    dossier = db.session.scalars(select(Dossier)).one()
    assert dossier.provider.nda == "01971234567"
    assert dossier.agreed_amount == Decimal("1234.50")
    assert dossier.start_date == date(2026, 9, 1)


def test_an_export_reads_back_as_an_import_check(client, auth, login_as, public_list) -> None:
    """The CSV columns in common with the import keep the import's formats."""
    login_as(Role.FUNDER_ADMIN)
    upload(auth, csv_file([line(reference="RT-1", montant_accorde="1 234,56")]))
    exported = client.get("/dossiers/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff")), delimiter=";"))
    assert rows[0]["montant_accorde"] == "1234,56"
    assert rows[0]["date_debut"] == "01/09/2026"


def test_a_long_file_is_imported_whole(client, auth, login_as, public_list) -> None:
    """More lines than the import writes between two releases of its session."""
    login_as(Role.FUNDER_ADMIN)
    response = upload(auth, csv_file([line(reference=f"L-{n:04d}") for n in range(250)]))
    assert response.status_code == 303
    assert count() == 250
    created = db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "dossier.created")
    )
    assert created == 250


def test_a_file_with_too_many_lines_is_refused() -> None:
    data = csv_file([line(reference=f"M-{n:05d}") for n in range(services.MAX_IMPORT_LINES + 1)])
    with pytest.raises(Refused, match="plus de 2\u202f000 dossiers"):
        services.read_import(data)


# --- Refused files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "dossiers.csv", "un document PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "dossiers.xlsx", "une image PNG"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "dossiers.xls", "Excel 97-2003"),
        (b"PK\x03\x04not really a zip", "dossiers.xlsx", "pas un classeur XLSX"),
        (b"\x00\x01\x02binary", "dossiers.csv", "ni un CSV ni un classeur"),
        (b"", "dossiers.csv", "vide"),
        (b"reference;organisme\r\nA;1\r\n", "dossiers.csv", "Colonnes obligatoires absentes"),
        (";".join(HEADER).encode() + b"\r\n", "dossiers.csv", "que la ligne des noms"),
        (
            (";".join([*HEADER, "reference"]) + "\r\n").encode(),
            "dossiers.csv",
            "figure deux fois",
        ),
    ],
)
def test_files_that_are_not_a_dossier_table_are_refused(
    client, auth, login_as, data, filename, message
) -> None:
    login_as(Role.CONTROLLER)
    response = upload(auth, data, filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert count() == 0


def test_a_post_without_file_is_refused_in_french(client, auth, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = auth.post(PAGE, {}, token_from=PAGE, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choisissez un fichier CSV ou XLSX." in response.get_data(as_text=True)


def test_an_of_user_may_not_import(client, login_as) -> None:
    login_as(Role.PROVIDER)
    assert client.get(PAGE).status_code == 403
    assert client.get("/dossiers/import/modele.csv").status_code == 403
