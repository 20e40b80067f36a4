"""The report of a control: the printable page, and the ZIP with the report, every evidence
file, the files of the corrective actions and a manifest whose SHA-256 sums hold."""

from __future__ import annotations

import hashlib
import io
import zipfile

from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from portal.extensions import db
from portal.models import AuditEvent, CorrectiveMessage, Document
from portal.packs import MANIFEST_NAME, read_manifest
from portal.storage import storage_for
from portal.uploads import store_upload
from tests.quality.helpers import (
    add_invoice,
    client_as,
    fill_all,
    make_pdf,
    make_world,
    plan,
    row_of,
    upload,
)


def _proof_message(world, control, code: str) -> CorrectiveMessage:
    """The OF's action plan with one proof file, written straight to the database."""
    stored = store_upload(
        storage_for(current_app),
        FileStorage(io.BytesIO(make_pdf("Plan d'action")), filename="plan-action.pdf"),
        max_bytes=10 * 1024 * 1024,
    )
    document = Document(
        storage_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        original_name=stored.original_name,
        uploaded_by_id=world.provider_user.id,
    )
    row = row_of(control, code)
    message = CorrectiveMessage(
        finding=row,
        author_id=world.provider_user.id,
        kind="plan",
        body="Nous publions désormais nos indicateurs de résultats.",
        documents=[document],
    )
    row.nc_status = "reponse"
    db.session.add(message)
    db.session.commit()
    return message


def _reported_control(app, world):
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    upload(auth, control, "2", ("site-web.pdf", make_pdf("Capture du site")))
    piece = add_invoice(world)
    auth.post(
        f"/qualite/controles/{control.id}/indicateurs/9/pieces", {"pc9-pieces": [str(piece.id)]}
    )
    fill_all(control, **{"2": "nc_mineure", "4": "nc_majeure"})
    db.session.refresh(control)
    auth.post(
        f"/qualite/controles/{control.id}/rapport/emettre",
        {"version": str(control.version), "confirme": "oui"},
    )
    _proof_message(world, control, "2")
    return client, control


def test_printable_report(app, outbox) -> None:
    world = make_world()
    client, control = _reported_control(app, world)
    response = client.get(f"/qualite/controles/{control.id}/rapport")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Rapport de contrôle qualité — Formation Témoin" in page
    assert "Indicateur 4 — " in page and "NC majeure uniquement" in page
    assert "Non-conformité mineure" in page and "28/02/2027" in page
    assert "site-web.pdf" in page and "facture-mars.pdf" in page
    assert "Plan d&#39;action et preuves" in page or "Plan d'action et preuves" in page
    assert "Nous publions désormais nos indicateurs de résultats." in page
    assert "5 mineures = 1 majeure, règle à confirmer" in page
    assert db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_control.report_viewed")
    ).first()


def test_report_pack_holds_every_file_with_its_sum(app, outbox) -> None:
    world = make_world()
    client, control = _reported_control(app, world)
    response = client.get(f"/qualite/controles/{control.id}/rapport.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    names = archive.namelist()
    assert names[0] == "rapport.html" and names[-1] == MANIFEST_NAME
    evidence = [n for n in names if n.startswith("preuves/")]
    assert evidence == [
        "preuves/indicateur-02/01-site-web.pdf",
        "preuves/indicateur-09/01-facture-mars.pdf",
    ]
    proofs = [n for n in names if n.startswith("actions-correctives/")]
    assert len(proofs) == 1 and proofs[0].startswith("actions-correctives/indicateur-02/")
    manifest = read_manifest(archive)
    assert set(manifest) == set(names) - {MANIFEST_NAME}
    for name, (sha256, size) in manifest.items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == sha256
        assert len(data) == size
    summary = archive.read("rapport.html").decode()
    assert "preuves/indicateur-02/01-site-web.pdf" in summary
    assert "<style>" in summary and "/static/" not in summary  # readable offline
    # The sums recorded when the files were received are in the manifest too.
    text = archive.read(MANIFEST_NAME).decode("utf-8-sig")
    stored = {d.original_name: d.sha256 for d in db.session.scalars(select(Document))}
    assert stored["site-web.pdf"] in text and stored["plan-action.pdf"] in text
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_control.pack_downloaded")
    ).one()
    assert {f["path"] for f in event.details["files"]} == set(manifest)


def test_the_provider_reads_its_report_once_issued(app, outbox) -> None:
    world = make_world()
    _, control = _reported_control(app, world)
    client, _ = client_as(app, world.provider_user)
    assert client.get(f"/qualite/controles/{control.id}/rapport").status_code == 200
    response = client.get(f"/qualite/controles/{control.id}/rapport.zip")
    assert response.status_code == 200
    response.close()
