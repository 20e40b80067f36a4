"""The OF's certification space: recording its certificate (certifier, categories, dates, the
file checked by content), its audits, the deadlines computed, the comparison with the
public list in force, edits with a version check, and isolation between OF."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Certificate, CertificationAudit, Certifier, Provider, Role
from portal.public_list.importer import import_list
from tests.factories import ProviderFactory
from tests.public_list.lists import Org, write_list
from tests.test_uploads import make_pdf

MINE = "/certification/"
NEW = "/certification/certificats/nouveau"
PDF = make_pdf("Certificat Qualiopi")
ORG = Org("76311234567", "Atelier Formation Garonne", "81234567", apprentissage=False)


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def provider_of(org: Org) -> Provider:
    provider = Provider(nda=org.nda, siren=org.siren, siret=org.siret, name=org.name)
    db.session.add(provider)
    db.session.commit()
    return provider


def import_public_list(tmp_path: Path, orgs: list[Org], on: date | None = None) -> None:
    path = write_list(tmp_path / "liste.csv", orgs)
    import_list(str(path), as_of=on or clock.today(), triggered_by="test")


@pytest.fixture
def afnor(app) -> Certifier:
    row = Certifier(name="AFNOR Certification")
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def of_user(app, login_as):
    return login_as(Role.PROVIDER, provider=provider_of(ORG))


def post(auth, path: str, data: dict, file: tuple[str, bytes] | None = None):
    body = dict(data)
    if file is not None:
        body["file"] = (io.BytesIO(file[1]), file[0])
    return auth.post(path, body, content_type="multipart/form-data", token_from=path)


def valid(chosen: Certifier, **changes) -> dict:
    data = {
        "certifier": str(chosen.id),
        "certifier_other": "",
        "number": "QUALIOPI-2025-0042",
        "categories": ["actions_formation"],
        "start_date": "2025-03-15",
        "end_date": "",
    }
    data.update(changes)
    return data


def certificate(provider: Provider, start: date, **values) -> Certificate:
    row = Certificate(
        provider_id=provider.id,
        certifier_name=values.pop("certifier_name", "Bureau Veritas Certification"),
        categories=values.pop("categories", "actions_formation"),
        start_date=start,
        end_date=values.pop("end_date", start + relativedelta(years=3, days=-1)),
        **values,
    )
    db.session.add(row)
    db.session.commit()
    return row


# --- Recording ----------------------------------------------------------------------------------


def test_without_certificate_the_space_says_so(client, of_user) -> None:
    page = client.get(MINE).get_data(as_text=True)
    assert "Ma certification Qualiopi" in page
    assert "Aucun certificat enregistré" in page


def test_record_a_certificate_the_end_defaults_to_three_years(client, auth, of_user, afnor):
    response = post(auth, NEW, valid(afnor), ("certificat.pdf", PDF))
    assert response.status_code == 303
    row = db.session.scalars(select(Certificate)).one()
    assert row.provider_id == of_user.provider_id
    assert row.certifier_id == afnor.id
    assert row.certifier_name == "AFNOR Certification"
    assert (row.start_date, row.end_date) == (date(2025, 3, 15), date(2028, 3, 14))
    assert row.document.original_name == "certificat.pdf"
    assert row.document.content_type == "application/pdf"
    [event] = events("certificate.recorded")
    assert event.details["after"]["end_date"] == "2028-03-14"
    assert event.details["document"]["name"] == "certificat.pdf"

    page = client.get(MINE).get_data(as_text=True)
    assert "valable du 15/03/2025 au 14/03/2028" in page
    assert "Audit de surveillance" in page
    assert "du 15/04/2026 au 14/01/2027" in page  # 14th to 22nd month
    assert "Préparer le renouvellement" in page
    download = client.get(f"/certification/certificats/{row.id}/fichier")
    assert download.status_code == 200
    assert download.data == PDF
    download.close()
    assert events("certificate.document_downloaded")


def test_a_certifier_not_in_the_list_is_typed(client, auth, of_user, afnor) -> None:
    data = valid(afnor, certifier="autre", certifier_other="Certif'Région Occitanie")
    assert post(auth, NEW, data).status_code == 303
    row = db.session.scalars(select(Certificate)).one()
    assert (row.certifier_id, row.certifier_name) == (None, "Certif'Région Occitanie")
    assert row.document is None


def test_field_errors_are_french_and_nothing_is_written(client, auth, of_user, afnor) -> None:
    data = valid(afnor, certifier="autre", categories=[], end_date="2024-01-01")
    response = post(auth, NEW, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Saisissez le nom de l&#39;organisme certificateur" in page
    assert "Cochez au moins une catégorie" in page
    assert "postérieure au début" in page
    assert db.session.scalars(select(Certificate)).first() is None


def test_a_file_that_is_not_a_pdf_is_refused_whatever_its_name(client, auth, of_user, afnor):
    response = post(auth, NEW, valid(afnor), ("certificat.pdf", b"MZ\x90\x00 not a pdf"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Seuls les fichiers PDF, JPEG et PNG sont acceptés" in page
    assert db.session.scalars(select(Certificate)).first() is None
    assert events("certificate.upload_refused")


def test_edit_with_a_stale_version_changes_nothing(client, auth, of_user, afnor) -> None:
    provider = db.session.get(Provider, of_user.provider_id)
    row = certificate(provider, date(2025, 3, 15))
    path = f"/certification/certificats/{row.id}/modifier"
    form = client.get(path).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    first = post(auth, path, valid(afnor, number="N-1", version=version))
    assert first.status_code == 303
    second = post(auth, path, valid(afnor, number="N-2", version=version))
    assert second.status_code == 409
    assert "modifié entre-temps" in second.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Certificate, row.id).number == "N-1"
    assert len(events("certificate.updated")) == 1


# --- Audits and deadlines -----------------------------------------------------------------------


def test_a_surveillance_audit_in_its_window_marks_it_done(client, auth, of_user) -> None:
    today = clock.today()
    provider = db.session.get(Provider, of_user.provider_id)
    row = certificate(provider, today - relativedelta(months=15))
    page = client.get(MINE).get_data(as_text=True)
    surveillance = re.search(r"<th scope=\"row\">Audit de surveillance</th>(.*?)</tr>", page, re.S)
    assert "En cours" in surveillance.group(1)

    audit_day = today - relativedelta(months=1)
    response = auth.post(
        f"/certification/certificats/{row.id}/audits",
        {"kind": "surveillance", "audit_date": audit_day.isoformat(), "notes": "Sans écart"},
        token_from=MINE,
    )
    assert response.status_code == 303
    page = client.get(MINE).get_data(as_text=True)
    surveillance = re.search(r"<th scope=\"row\">Audit de surveillance</th>(.*?)</tr>", page, re.S)
    assert ">Fait<" in surveillance.group(1)
    assert f"Audit du {audit_day:%d/%m/%Y}" in surveillance.group(1)
    assert events("certification_audit.recorded")


def test_an_overdue_deadline_is_said_in_words(client, of_user) -> None:
    provider = db.session.get(Provider, of_user.provider_id)
    certificate(provider, clock.today() - relativedelta(months=24))
    page = client.get(MINE).get_data(as_text=True)
    surveillance = re.search(r"<th scope=\"row\">Audit de surveillance</th>(.*?)</tr>", page, re.S)
    assert "Dépassé" in surveillance.group(1)


def test_an_audit_without_date_is_refused_in_french(client, auth, of_user) -> None:
    provider = db.session.get(Provider, of_user.provider_id)
    row = certificate(provider, date(2025, 3, 15))
    response = auth.post(
        f"/certification/certificats/{row.id}/audits",
        {"kind": "", "audit_date": "32/13/2025"},
        token_from=MINE,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choisissez le type d&#39;audit" in page
    assert "illisible" in page
    assert db.session.scalars(select(CertificationAudit)).first() is None


def test_delete_an_audit(client, auth, of_user) -> None:
    provider = db.session.get(Provider, of_user.provider_id)
    row = certificate(provider, date(2025, 3, 15))
    audit_row = CertificationAudit(
        certificate_id=row.id, kind="initial", audit_date=date(2025, 2, 1)
    )
    db.session.add(audit_row)
    db.session.commit()
    response = auth.post(f"/certification/audits/{audit_row.id}/supprimer", token_from=MINE)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(CertificationAudit)).first() is None
    assert events("certification_audit.deleted")


# --- The public list ----------------------------------------------------------------------------


def test_categories_match_the_public_list(client, of_user, tmp_path) -> None:
    import_public_list(tmp_path, [ORG])
    provider = db.session.get(Provider, of_user.provider_id)
    certificate(provider, date(2025, 3, 15))
    page = client.get(MINE).get_data(as_text=True)
    assert "Catégories conformes à la liste publique" in page
    assert "Écart" not in page


def test_a_category_mismatch_is_flagged(client, of_user, tmp_path) -> None:
    import_public_list(tmp_path, [ORG.but(vae=True)])
    provider = db.session.get(Provider, of_user.provider_id)
    certificate(provider, date(2025, 3, 15), categories="actions_formation,apprentissage")
    page = client.get(MINE).get_data(as_text=True)
    assert "Écart avec la liste publique" in page
    assert (
        "déclarées au certificat mais non certifiées dans la liste publique : "
        "Actions de formation par apprentissage" in page
    )
    assert "certifiées dans la liste publique mais absentes du certificat : Validation" in page


def test_an_nda_absent_from_the_list_is_flagged(client, of_user, tmp_path) -> None:
    import_public_list(tmp_path, [Org("76340987654", "Un autre organisme", "79876543")])
    provider = db.session.get(Provider, of_user.provider_id)
    certificate(provider, date(2025, 3, 15))
    page = client.get(MINE).get_data(as_text=True)
    assert "ne figure pas dans la liste publique en vigueur" in page


def test_without_a_list_imported_the_comparison_is_said_impossible(client, of_user) -> None:
    provider = db.session.get(Provider, of_user.provider_id)
    certificate(provider, date(2025, 3, 15))
    page = client.get(MINE).get_data(as_text=True)
    assert "Aucune liste publique importée" in page


# --- Isolation ----------------------------------------------------------------------------------


def test_another_ofs_certificate_is_not_found(client, auth, of_user, afnor) -> None:
    other = certificate(ProviderFactory(), date(2025, 3, 15), number="AUTRE")
    base = f"/certification/certificats/{other.id}"
    assert client.get(f"{base}/modifier").status_code == 404
    assert client.get(f"{base}/fichier").status_code == 404
    assert post(auth, f"{base}/modifier", valid(afnor, version="1")).status_code == 404
    assert (
        auth.post(
            f"{base}/audits", {"kind": "initial", "audit_date": "2025-01-01"}, token_from=MINE
        ).status_code
        == 404
    )
    assert "AUTRE" not in client.get(MINE).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Certificate, other.id).number == "AUTRE"
    assert db.session.scalars(select(CertificationAudit)).first() is None
    assert events("access.denied")
