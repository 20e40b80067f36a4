"""The control bundle: a ZIP with a printable summary, every piece's file (current and
replaced), the files of the thread, and a manifest whose SHA-256 match the files."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from portal import clock
from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import (
    AuditEvent,
    CheckFinding,
    InvoiceDecision,
    Role,
    ServiceFaitControl,
)
from portal.service_fait import document_requests as requests_service
from portal.service_fait.controls import control_for, refresh_state
from portal.storage import storage_for
from tests.dossiers.piece_helpers import JPEG, first_month, make_pdf
from tests.factories import FunderFactory, UserFactory
from tests.service_fait.request_helpers import first_slot_key, setup_dossier


def _file(name: str, content: bytes) -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=name)


def _invoice_fields(dossier, number: str, amount: str) -> dict:
    start, end = (date.fromisoformat(v) for v in first_month(dossier))
    return {
        "period_start": start,
        "period_end": end,
        "invoice_number": number,
        "invoice_date": end,
        "amount_excl_tax": Decimal(amount),
        "amount_incl_tax": Decimal(amount),
        "hours_billed": Decimal("70"),
    }


def _dossier_with_everything():
    s = setup_dossier()
    dossier, of_user = s.dossier, s.provider_user
    (old,) = pieces_service.add_pieces(
        of_user,
        dossier,
        "facture",
        _invoice_fields(dossier, "F-1", "1500"),
        [_file("facture.pdf", make_pdf())],
    )
    db.session.commit()
    new = pieces_service.replace_piece(
        of_user,
        old,
        _invoice_fields(dossier, "F-1", "1400"),
        _file("facture corrigée.pdf", make_pdf() + b"\n% v2"),
    )
    db.session.commit()
    request = requests_service.create_request(
        s.controller,
        dossier,
        selected=[first_slot_key(dossier, "certificat_realisation")],
        reasons={first_slot_key(dossier, "certificat_realisation"): "Non reçu"},
        message="Merci d'envoyer le certificat.",
        due_date=clock.today() + timedelta(days=15),
    )
    requests_service.answer_request(
        of_user, request, message="Voici le certificat.", files=[_file("certif.jpg", JPEG)]
    )
    control = control_for(dossier)
    db.session.add(
        CheckFinding(
            control_id=control.id,
            dossier_id=dossier.id,
            code="heures_facture_certificat",
            severity="alerte",
            severity_rank=1,
            label="Heures facturées supérieures aux heures réalisées",
            explanation="70 h facturées pour 69,5 h sur le certificat de réalisation.",
            piece_id=new.id,
        )
    )
    decision = InvoiceDecision(
        dossier_id=dossier.id,
        invoice_id=new.id,
        outcome="partiellement_conforme",
        amount_invoiced=Decimal("1400"),
        amount_validated=Decimal("1200"),
        reason_code="heures_non_justifiees",
        note="Une demi-journée non signée.",
        decided_by_id=s.controller.id,
    )
    decision.pieces = [new]
    db.session.add(decision)
    db.session.flush()
    refresh_state(control)
    db.session.commit()
    return s, old, new


def _download(client, dossier_id: int):
    response = client.get(f"/service-fait/dossiers/{dossier_id}/dossier-de-controle.zip")
    response.streamed_before_read = response.is_streamed
    body = response.get_data()
    response.close()
    return response, body


def test_the_manifest_matches_the_files_of_the_bundle(app: Flask, auth) -> None:
    s, old, new = _dossier_with_everything()
    auth.log_in(s.controller)
    response, body = _download(auth.client, s.dossier.id)
    assert response.status_code == 200
    assert response.streamed_before_read  # written chunk by chunk, not built in memory
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert (
        f"dossier-de-controle-{s.dossier.reference}.zip" in response.headers["Content-Disposition"]
    )
    assert response.headers["Cache-Control"] == "no-store"

    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = set(archive.namelist())
    manifest = list(
        csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig")), delimiter=";")
    )
    # Every file is listed once, with the SHA-256 and the size of what is in the archive.
    assert {row["chemin"] for row in manifest} == names - {"manifest.csv"}
    assert len(manifest) == len(names) - 1
    for row in manifest:
        content = archive.read(row["chemin"])
        assert hashlib.sha256(content).hexdigest() == row["sha256"], row["chemin"]
        assert len(content) == int(row["taille_octets"])
        if row["sha256_a_la_reception"]:  # a stored file is unchanged since it came
            assert row["sha256_a_la_reception"] == row["sha256"]

    # Both versions of the invoice, named clearly, the thread's file, the summary.
    pieces = sorted(n for n in names if n.startswith("pieces/"))
    assert len(pieces) == 2
    assert any(f"piece-{old.id}_remplacee_facture.pdf" in n for n in pieces)
    assert any(f"piece-{new.id}_actuelle_facture corrigée.pdf" in n for n in pieces)
    (attachment,) = [n for n in names if n.startswith("echanges/")]
    assert attachment.endswith("certif.jpg")
    assert archive.read(attachment) == JPEG
    summary = archive.read("recapitulatif.html").decode()
    for expected in (
        f"dossier {s.dossier.reference}",
        s.dossier.provider.name,
        "Heures facturées supérieures aux heures réalisées",
        "70 h facturées pour 69,5 h sur le certificat de réalisation.",
        "Partiellement conforme",
        "Heures facturées non justifiées",
        "Une demi-journée non signée.",
        "Merci d&#39;envoyer le certificat.",
        "Voici le certificat.",
        "Non reçu",
        attachment,
        "@media print",
        new.document.sha256,
        old.document.sha256,
    ):
        assert expected in summary, expected
    # Self-contained: nothing to fetch when it is opened months later.
    assert "<script" not in summary
    assert "src=" not in summary and "<link" not in summary

    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.bundle_exported")
    )
    assert event.actor_id == s.controller.id
    assert event.details["files"] == len(names) - 1


def test_a_file_missing_from_the_store_is_named_not_fatal(app: Flask, auth) -> None:
    s, old, _new = _dossier_with_everything()
    with app.app_context():
        storage_for(app).delete(old.document.storage_key)
    auth.log_in(s.controller)
    response, body = _download(auth.client, s.dossier.id)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body))
    manifest = archive.read("manifest.csv").decode("utf-8-sig")
    assert "ABSENT du stockage" in manifest
    assert not any(f"piece-{old.id}_" in n for n in archive.namelist())


def test_only_the_funders_staff_get_the_bundle(app: Flask, auth) -> None:
    s, _old, _new = _dossier_with_everything()
    path = f"/service-fait/dossiers/{s.dossier.id}/dossier-de-controle.zip"
    auth.log_in(s.provider_user)
    assert auth.client.get(path).status_code == 403
    auth.logout()
    other = UserFactory(role=Role.CONTROLLER.value, funder=FunderFactory())
    auth.log_in(other)
    assert auth.client.get(path).status_code == 404
    auth.logout()
    admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=s.dossier.funder)
    auth.log_in(admin)
    response, _body = _download(auth.client, s.dossier.id)
    assert response.status_code == 200


def test_an_empty_dossier_still_gives_a_bundle(app: Flask, auth) -> None:
    s = setup_dossier()
    assert db.session.scalar(select(ServiceFaitControl.id)) is None
    auth.log_in(s.controller)
    response, body = _download(auth.client, s.dossier.id)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["manifest.csv", "recapitulatif.html"]
    assert "Aucune pièce reçue." in archive.read("recapitulatif.html").decode()


def test_the_archive_is_written_chunk_by_chunk(app: Flask, tmp_path) -> None:
    """A large file goes through in pieces: the archive is never held whole in memory."""
    import os

    from portal.service_fait.bundle import Bundle, BundleEntry, stream_zip
    from portal.storage import LocalStorage, new_key

    storage = LocalStorage(tmp_path)
    key = new_key()
    content = os.urandom(3 * 1024 * 1024)  # incompressible
    storage.save(key, io.BytesIO(content))
    bundle = Bundle(dossier_id=1, reference="R", filename="r.zip")
    bundle.entries.append(
        BundleEntry(path="pieces/gros.pdf", description="", storage_key=key, size=len(content))
    )
    chunks = list(stream_zip(bundle, storage))
    assert len(chunks) > 10
    assert max(len(c) for c in chunks) < 512 * 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("pieces/gros.pdf") == content
    assert hashlib.sha256(content).hexdigest() in archive.read("manifest.csv").decode()
