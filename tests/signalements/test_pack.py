"""The transmission pack for the certifier: a ZIP with a printable summary and the
evidence files, whose manifest gives the SHA-256 and size of every file it holds."""

from __future__ import annotations

import hashlib
import io
import zipfile

from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.packs import MANIFEST_NAME, read_manifest
from portal.signalements import services
from tests.dossiers.piece_helpers import make_pdf
from tests.signalements.helpers import (
    add_finding,
    as_multidict,
    bring_to,
    client_as,
    draft_form,
    make_world,
)


def test_the_pack_manifest_matches_its_files(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "en_examen")
    add_finding(w)
    services.transition(
        w.liaison,
        s,
        "demander_complement",
        services.Payload(message="Le rapport de visite, s'il vous plaît."),
    )
    from werkzeug.datastructures import FileStorage

    services.transition(
        w.controller,
        s,
        "repondre",
        services.Payload(message="Le voici."),
        files=[FileStorage(io.BytesIO(make_pdf("Rapport de visite")), filename="visite.pdf")],
    )
    client, _ = client_as(app, w.liaison)
    response = client.get(f"/signalements/{s.id}/dossier-de-transmission.zip")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert f"{s.reference}-dossier-de-transmission.zip" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    names = set(archive.namelist())
    manifest = read_manifest(archive)
    assert names == {MANIFEST_NAME, *manifest}
    assert set(manifest) == {
        "resume.html",
        "preuves/01-facture-mars.pdf",
        "preuves/02-visite.pdf",
    }
    for path, (sha256, size) in manifest.items():
        content = archive.read(path)
        assert hashlib.sha256(content).hexdigest() == sha256, path
        assert len(content) == size, path
    # The files are the stored ones, unchanged.
    stored = {e.title: e.file.sha256 for e in s.evidence if e.file}
    assert manifest["preuves/01-facture-mars.pdf"][0] in stored.values()
    assert manifest["preuves/02-visite.pdf"][0] == stored["visite.pdf"]

    summary = archive.read("resume.html").decode("utf-8")
    assert f"Signalement {s.reference}" in summary
    assert w.provider.nda in summary and "Occitanie" in summary
    assert "Indicateur 10 — adaptation de la prestation" in summary
    assert "NC majeure uniquement" in summary
    assert 'href="preuves/01-facture-mars.pdf"' in summary
    assert w.dossier.reference in summary
    assert w.dossier.beneficiary_last_name not in summary  # the certifier needs no names
    assert "Le voici." not in summary  # the thread stays between funder and ministry

    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "signalement.pack_downloaded")
    ).one()
    assert {f["path"]: f["sha256"] for f in event.details["files"]} == {
        path: sha for path, (sha, _size) in manifest.items()
    }


def test_only_the_ministry_downloads_the_pack(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    client, _ = client_as(app, w.controller)
    assert client.get(f"/signalements/{s.id}/dossier-de-transmission.zip").status_code == 403


def test_a_pack_of_control_results_only_holds_the_summary(app: Flask) -> None:
    w = make_world()
    finding = add_finding(w)
    s = services.create_draft(w.controller, w.provider, dossiers=[w.dossier])
    services.update_draft(
        w.controller,
        s,
        services.read_draft(
            as_multidict(draft_form(dossiers=str(w.dossier.id), preuves=f"constat-{finding.id}"))
        ),
    )
    services.transition(w.controller, s, "transmettre")
    client, _ = client_as(app, w.national)
    response = client.get(f"/signalements/{s.id}/dossier-de-transmission.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    response.close()
    assert set(read_manifest(archive)) == {"resume.html"}
    assert "Demi-journées sans signature" in archive.read("resume.html").decode()
