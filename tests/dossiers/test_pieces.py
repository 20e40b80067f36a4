"""Sending pieces: each kind with its fields, several files at once, refused files (nothing
stored, nothing lost of what was typed), 413, replacement, duplicates, downloads."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from portal.dossiers import pieces as service
from portal.errors import Refused
from portal.extensions import db
from portal.models import (
    AttendanceSheet,
    AuditEvent,
    CompletionCertificate,
    Document,
    Dossier,
    ExpenseStatement,
    Invoice,
    Piece,
    Role,
)
from portal.storage import LocalStorage
from tests.dossiers.piece_helpers import (
    JPEG,
    fields_for,
    first_month,
    make_dossier,
    make_pdf,
    make_png,
    month_end,
    new_piece_path,
    post_piece,
    stored_files,
)
from tests.factories import FunderFactory, ProviderFactory
from tests.support.auth import csrf_token

PDF = make_pdf("Certificat de realisation")


@pytest.fixture
def of_setup(login_as):
    """A dossier of a funder for an OF, and that OF's user logged in."""
    provider = ProviderFactory()
    dossier = make_dossier(provider=provider)
    user = login_as(Role.PROVIDER, provider=provider)
    return dossier, user


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def fetch(client, path: str):
    """GET a download, read it whole and close it (the file stays open otherwise)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def fresh(dossier: Dossier) -> Dossier:
    db.session.expire_all()
    return db.session.get(Dossier, dossier.id)


# --- Each kind, with its fields -------------------------------------------------------------

EXPECTED = {
    "facture": (
        Invoice,
        {
            "invoice_number": "F-2026-001",
            "amount_excl_tax": Decimal("1250.50"),
            "amount_incl_tax": Decimal("1500.60"),
            "minutes_billed": 70 * 60,
        },
    ),
    "certificat_realisation": (
        CompletionCertificate,
        {
            "nature": "actions_formation",
            "minutes_completed": 69 * 60 + 30,
            "months_completed": None,
            "signatory": "Sophie Martin, directrice",
        },
    ),
    "feuille_emargement": (
        AttendanceSheet,
        {"half_days_planned": 20, "half_days_signed": 19, "minutes_attended": 66 * 60 + 30},
    ),
    "releve_depenses": (ExpenseStatement, {"amount": Decimal("310.20")}),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_an_of_sends_each_kind_of_piece_with_its_fields(app, client, auth, of_setup, kind) -> None:
    dossier, user = of_setup
    page = client.get(new_piece_path(dossier.id, kind)).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input[^>]*id="files"[^>]*multiple', page)
    assert "js/uploads.js" in page and "defer" in page
    before = stored_files(app)

    response = post_piece(auth, dossier.id, kind, fields_for(kind, dossier), [("piece.pdf", PDF)])

    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/dossiers/{dossier.id}"
    model, figures = EXPECTED[kind]
    piece = db.session.scalars(select(Piece)).one()
    assert isinstance(piece, model)
    assert (piece.period_start, piece.period_end) == (
        dossier.start_date,
        month_end(dossier.start_date, 0),
    )
    for name, value in figures.items():
        assert getattr(piece, name) == value, name
    assert piece.created_by_id == user.id and piece.superseded_at is None
    document = piece.document
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (document.size, document.content_type, document.original_name) == (
        len(PDF),
        "application/pdf",
        "piece.pdf",
    )
    assert stored_files(app) - before == {document.storage_key}
    event_row = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "piece.added")
    ).one()
    assert (event_row.object_type, event_row.object_id) == ("pieces", str(piece.id))
    assert event_row.funder_id == dossier.funder_id
    assert event_row.details == {
        "dossier_id": dossier.id,
        "kind": kind,
        "period": [piece.period_start.isoformat(), piece.period_end.isoformat()],
        "sha256": document.sha256,
        "size": len(PDF),
        "duplicate_of": [],
    }
    detail = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "fichier envoyé" in detail
    assert "piece.pdf" in detail


def test_several_files_at_once_make_one_piece_each(app, client, auth, of_setup) -> None:
    dossier, _ = of_setup
    files = [("emargement-1.pdf", PDF), ("emargement-2.png", make_png()), ("photo.jpg", JPEG)]
    response = post_piece(
        auth, dossier.id, "feuille_emargement", fields_for("feuille_emargement", dossier), files
    )
    assert response.status_code == 303
    pieces = db.session.scalars(select(Piece).order_by(Piece.id)).all()
    assert [p.document.original_name for p in pieces] == [name for name, _ in files]
    assert [p.document.content_type for p in pieces] == [
        "application/pdf",
        "image/png",
        "image/jpeg",
    ]
    assert {p.half_days_signed for p in pieces} == {19}
    assert count(AuditEvent.__table__) >= 3
    assert "3 fichiers envoyés" in client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)


def test_the_number_of_files_is_limited(app, client, auth, of_setup) -> None:
    app.config["MAX_FILES_PER_UPLOAD"] = 2
    dossier, _ = of_setup
    before = stored_files(app)
    response = post_piece(
        auth,
        dossier.id,
        "releve_depenses",
        fields_for("releve_depenses", dossier),
        [(f"r{i}.pdf", PDF) for i in range(3)],
    )
    assert response.status_code == 200
    assert "Au plus 2 fichiers par envoi" in response.get_data(as_text=True)
    assert count(Piece) == 0 and stored_files(app) == before


# --- Refused files: nothing stored, nothing lost of what was typed ----------------------------

REFUSED = [
    pytest.param(
        "facture.pdf", b"Bonjour, ceci n'est pas un PDF.", "PDF, JPEG et PNG", id="pdf-not-pdf"
    ),
    pytest.param(
        "photo.png",
        b"<!doctype html><html><script>alert(1)</script></html>",
        "PDF, JPEG et PNG",
        id="html-as-png",
    ),
    pytest.param("vide.pdf", b"", "Le fichier est vide", id="empty"),
    pytest.param("image.jpg", b"GIF89a\x01\x00\x01\x00", "PDF, JPEG et PNG", id="gif-as-jpeg"),
]


@pytest.mark.parametrize(("name", "content", "message"), REFUSED)
def test_a_refused_file_leaves_nothing_behind(
    app, client, auth, of_setup, name, content, message
) -> None:
    dossier, user = of_setup
    before_files = stored_files(app)
    before = (dossier.first_missing_due, dossier.version)
    fields = fields_for("facture", dossier, invoice_number="F-REFUS-42")

    response = post_piece(auth, dossier.id, "facture", fields, [(name, content)])

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    errors = re.search(r'<div id="files-erreur"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert f"« {name} »" in errors and message in errors
    assert "choisissez de nouveau vos fichiers" in errors
    assert "les fichiers, eux, doivent être choisis de nouveau" in page
    assert 'value="F-REFUS-42"' in page and 'value="1 250,50"' in page  # what was typed
    assert count(Piece) == 0 and count(Document) == 0
    assert stored_files(app) == before_files
    dossier = fresh(dossier)
    assert (dossier.first_missing_due, dossier.version) == before
    refusal = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "piece.upload_refused")
    ).one()
    assert refusal.actor_id == user.id and refusal.details["dossier_id"] == dossier.id


def test_one_refused_file_among_good_ones_stores_none_of_them(app, auth, of_setup) -> None:
    dossier, _ = of_setup
    before = stored_files(app)
    files = [("bon-1.pdf", PDF), ("faux.pdf", b"<html></html>"), ("bon-2.png", make_png())]
    response = post_piece(auth, dossier.id, "facture", fields_for("facture", dossier), files)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "« faux.pdf »" in page
    assert "« bon-1.pdf »" not in page  # only the refused file is named
    assert count(Piece) == 0 and count(Document) == 0
    assert stored_files(app) == before


def test_a_file_above_the_size_limit_is_refused(app, auth, of_setup) -> None:
    app.config["MAX_UPLOAD_BYTES"] = 1024
    dossier, _ = of_setup
    before = stored_files(app)
    big = make_pdf(padding=4000)
    response = post_piece(
        auth, dossier.id, "facture", fields_for("facture", dossier), [("gros.pdf", big)]
    )
    assert response.status_code == 200
    assert "dépasse la taille maximale de 1 Ko" in response.get_data(as_text=True)
    assert count(Piece) == 0 and stored_files(app) == before


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_an_oversized_body_gets_413_and_nothing_is_stored(app, client, of_setup, htmx) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 4096
    dossier, _ = of_setup
    token = csrf_token(client)
    before = stored_files(app)
    data = {
        "csrf_token": token,
        **fields_for("facture", dossier),
        "files": [(io.BytesIO(make_pdf(padding=10_000)), "gros.pdf")],
    }
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(
        new_piece_path(dossier.id, "facture"),
        data=data,
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Envoi trop volumineux" in page and "Rien n'a été enregistré" in page
    assert f'href="{new_piece_path(dossier.id, "facture")}"' in page
    assert count(Piece) == 0 and count(Document) == 0
    assert stored_files(app) == before


def test_field_errors_are_shown_at_their_field_and_nothing_is_stored(app, auth, of_setup) -> None:
    dossier, _ = of_setup
    before = stored_files(app)
    fields = fields_for("facture", dossier, amount_excl_tax="2000", amount_incl_tax="1000")
    response = post_piece(auth, dossier.id, "facture", fields, [("f.pdf", PDF)])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(
        r'id="amount_incl_tax-erreur"[^>]*>Le montant TTC ne peut pas être inférieur', page
    )
    assert re.search(
        r'id="amount_incl_tax"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="amount_incl_tax"',
        page,
    )
    assert 'value="2000"' in page and 'value="1000"' in page
    assert "Rien n&#39;a été enregistré" in page or "Rien n'a été enregistré" in page
    assert count(Piece) == 0 and stored_files(app) == before


def test_no_file_chosen_is_said_at_the_file_field(auth, of_setup) -> None:
    dossier, _ = of_setup
    response = post_piece(
        auth, dossier.id, "releve_depenses", fields_for("releve_depenses", dossier), []
    )
    assert response.status_code == 200
    assert "Choisissez au moins un fichier" in response.get_data(as_text=True)


def test_the_calendar_link_proposes_the_period(client, of_setup) -> None:
    dossier, _ = of_setup
    start, end = first_month(dossier)
    page = client.get(
        new_piece_path(dossier.id, "certificat_realisation") + f"&debut={start}&fin={end}"
    ).get_data(as_text=True)
    assert f'value="{start}"' in page and f'value="{end}"' in page
    assert '<option selected value="actions_formation">' in page


def test_without_a_kind_the_form_asks_which_piece(client, of_setup) -> None:
    dossier, _ = of_setup
    page = client.get(f"/dossiers/{dossier.id}/pieces/nouvelle").get_data(as_text=True)
    assert "Envoyer un certificat de réalisation" in page
    assert f"/dossiers/{dossier.id}/pieces/nouvelle?type=feuille_emargement" in page


# --- HTMX: the form swaps itself, inline validation of one field -----------------------------


def test_htmx_upload_redirects_and_errors_come_back_as_a_fragment(client, auth, of_setup) -> None:
    dossier, _ = of_setup
    headers = {"HX-Request": "true"}
    bad = post_piece(
        auth,
        dossier.id,
        "facture",
        fields_for("facture", dossier, invoice_number=""),
        [("f.pdf", PDF)],
        headers=headers,
    )
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<form id="piece-form"')
    assert 'id="piece-form-errors"' in body and "Ce champ est obligatoire." in body
    assert "HX-Request" in bad.headers.get("Vary", "")
    good = post_piece(
        auth,
        dossier.id,
        "facture",
        fields_for("facture", dossier),
        [("f.pdf", PDF)],
        headers=headers,
    )
    assert good.status_code == 200
    assert good.headers["HX-Redirect"] == f"/dossiers/{dossier.id}"
    assert count(Piece) == 1


def test_inline_validation_answers_for_one_field(client, of_setup) -> None:
    dossier, _ = of_setup
    token = csrf_token(client, new_piece_path(dossier.id, "facture"))
    path = f"/dossiers/{dossier.id}/pieces/valider?type=facture&champ=amount_incl_tax"
    data = fields_for("facture", dossier, amount_excl_tax="2000", amount_incl_tax="1000")
    response = client.post(path, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.startswith("Le montant TTC ne peut pas être inférieur au montant HT.")
    # The other filled fields are refreshed out of band (here: no message).
    assert '<small id="amount_excl_tax-erreur" hx-swap-oob="innerHTML"></small>' in body
    fixed = client.post(
        path,
        data={**data, "amount_incl_tax": "2400"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert fixed.get_data(as_text=True).split("<small", 1)[0].strip() == ""
    unknown = client.post(
        path.replace("amount_incl_tax", "kind"), data=data, headers={"X-CSRFToken": token}
    )
    assert unknown.status_code == 400


def test_the_form_wires_inline_validation_and_the_progress_bar(client, of_setup) -> None:
    dossier, _ = of_setup
    page = client.get(new_piece_path(dossier.id, "facture")).get_data(as_text=True)
    assert (
        f'hx-post="/dossiers/{dossier.id}/pieces/valider?type=facture&amp;champ=invoice_number"'
        in page
    )
    assert 'hx-target="#invoice_number-erreur"' in page and 'hx-params="not files"' in page
    assert '<small id="invoice_number-erreur" class="field-error" aria-live="polite">' in page
    assert "<progress data-upload-progress" in page and "data-drop-zone" in page
    assert f'hx-post="/dossiers/{dossier.id}/pieces/nouvelle?type=facture"' in page
    assert "<script>" not in page  # CSP: no inline script


# --- Replacement keeps the old version -------------------------------------------------------


def test_replacing_a_piece_keeps_the_old_version(app, client, auth, of_setup) -> None:
    dossier, _ = of_setup
    fields = fields_for("certificat_realisation", dossier)
    post_piece(auth, dossier.id, "certificat_realisation", fields, [("v1.pdf", PDF)])
    old = db.session.scalars(select(Piece)).one()
    form = client.get(f"/dossiers/{dossier.id}/pieces/{old.id}/remplacer").get_data(as_text=True)
    assert 'value="69h30"' in form and 'value="Sophie Martin, directrice"' in form
    new_pdf = make_pdf("Certificat corrige")

    response = auth.post(
        f"/dossiers/{dossier.id}/pieces/{old.id}/remplacer",
        {**fields, "hours_completed": "70", "files": (io.BytesIO(new_pdf), "v2.pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 303
    db.session.expire_all()
    old, new = db.session.scalars(select(Piece).order_by(Piece.id)).all()
    assert old.superseded_at is not None and new.superseded_at is None
    assert new.replaces_id == old.id and new.minutes_completed == 70 * 60
    assert old.minutes_completed == 69 * 60 + 30  # the old figures stay as they were
    assert old.document.storage_key in stored_files(app)
    event_row = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "piece.replaced")
    ).one()
    assert event_row.details["replaces"] == old.id
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "Versions remplacées (1)" in page and "v1.pdf" in page and "v2.pdf" in page
    old_file = fetch(client, f"/dossiers/{dossier.id}/pieces/{old.id}/fichier")
    assert old_file.status_code == 200 and old_file.data == PDF
    # The old version cannot be replaced again.
    again = client.get(f"/dossiers/{dossier.id}/pieces/{old.id}/remplacer")
    assert again.status_code == 303


def test_a_refused_replacement_changes_nothing(app, auth, of_setup) -> None:
    dossier, _ = of_setup
    fields = fields_for("releve_depenses", dossier)
    post_piece(auth, dossier.id, "releve_depenses", fields, [("r.pdf", PDF)])
    piece = db.session.scalars(select(Piece)).one()
    before = stored_files(app)
    response = auth.post(
        f"/dossiers/{dossier.id}/pieces/{piece.id}/remplacer",
        {**fields, "files": (io.BytesIO(b"<svg onload=alert(1)>"), "r.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and "« r.png »" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalars(select(Piece)).one().superseded_at is None
    assert stored_files(app) == before


def test_replace_piece_refuses_a_piece_already_replaced(app, of_setup, tmp_path) -> None:
    dossier, user = of_setup
    storage = LocalStorage(tmp_path)
    fields = fields_for("releve_depenses", dossier)
    (piece,) = service.add_pieces(
        user, dossier, "releve_depenses", fields, [_upload(PDF)], storage=storage
    )
    db.session.commit()
    service.replace_piece(user, piece, fields, _upload(make_png()), storage=storage)
    db.session.commit()
    with pytest.raises(Refused, match="déjà été remplacée"):
        service.replace_piece(user, piece, fields, _upload(JPEG), storage=storage)
    assert len(list(tmp_path.rglob("*"))) - len([p for p in tmp_path.rglob("*") if p.is_dir()]) == 2


# --- Duplicates: flagged to the funder's staff, within their funder -------------------------


def test_a_file_sent_to_another_dossier_is_flagged_to_the_controller(
    app, client, auth, login_as
) -> None:
    funder, other_funder = FunderFactory(), FunderFactory()
    provider = ProviderFactory()
    first = make_dossier(funder, provider, reference="A-001")
    second = make_dossier(funder, provider, reference="A-002")
    elsewhere = make_dossier(other_funder, provider, reference="Z-999")
    login_as(Role.PROVIDER, provider=provider)
    for dossier in (first, second, elsewhere):
        response = post_piece(
            auth, dossier.id, "facture", fields_for("facture", dossier), [("meme.pdf", PDF)]
        )
        assert response.status_code == 303
    added = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "piece.added").order_by(AuditEvent.id)
    ).all()
    assert [e.details["duplicate_of"] for e in added] == [[], [first.id], []]

    # The OF never sees the flag.
    assert "Fichier identique" not in client.get(f"/dossiers/{second.id}").get_data(as_text=True)

    auth.logout()
    login_as(Role.CONTROLLER, funder=funder)
    page = client.get(f"/dossiers/{second.id}").get_data(as_text=True)
    assert "Fichier identique (même empreinte SHA-256) envoyé aussi dans" in page
    assert f'href="/dossiers/{first.id}">dossier A-001</a>' in page
    assert "Z-999" not in page  # another funder's dossier is never named
    assert "A-002" in client.get(f"/dossiers/{first.id}").get_data(as_text=True)

    auth.logout()
    login_as(Role.CONTROLLER, funder=other_funder)
    assert "Fichier identique" not in client.get(f"/dossiers/{elsewhere.id}").get_data(as_text=True)


def test_duplicates_is_one_query(app, of_setup, tmp_path) -> None:
    dossier, user = of_setup
    other = make_dossier(db.session.get(Dossier, dossier.id).funder, reference="B-1")
    storage = LocalStorage(tmp_path)
    for target in (dossier, other):
        service.add_pieces(
            user,
            target,
            "releve_depenses",
            fields_for("releve_depenses", target),
            [_upload(PDF)],
            storage=storage,
        )
    db.session.commit()
    dossier_id, other_id = dossier.id, other.id
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        found = service.duplicates(hashlib.sha256(PDF).hexdigest(), dossier_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert found == [(other_id, "B-1")] and len(statements) == 1


# --- Downloads ----------------------------------------------------------------------------


def test_download_is_an_attachment_never_sniffed_nor_cached(
    client, auth, of_setup, login_as
) -> None:
    dossier, _ = of_setup
    post_piece(
        auth, dossier.id, "facture", fields_for("facture", dossier), [("Facture n°1.pdf", PDF)]
    )
    piece = db.session.scalars(select(Piece)).one()
    response = fetch(client, f"/dossiers/{dossier.id}/pieces/{piece.id}/fichier")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Facture%20n%C2%B01.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    downloaded = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "piece.downloaded")
    ).one()
    assert downloaded.details == {"dossier_id": dossier.id, "kind": "facture"}
    # The funder's controller downloads it too, and sees it in the history.
    auth.logout()
    login_as(Role.CONTROLLER, funder=db.session.get(Dossier, dossier.id).funder)
    assert fetch(client, f"/dossiers/{dossier.id}/pieces/{piece.id}/fichier").data == PDF
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    history = page.split('id="historique"', 1)[1]
    assert "Pièce envoyée" in history and "Fichier téléchargé" in history
    assert "Facture, du " in history


# --- The calendar follows the pieces -----------------------------------------------------------


def test_first_missing_due_follows_the_pieces(auth, of_setup) -> None:
    dossier, _ = of_setup
    first_due = month_end(dossier.start_date, 0)
    assert dossier.first_missing_due == date.fromordinal(first_due.toordinal() + 15)
    for kind in ("facture", "certificat_realisation"):
        post_piece(auth, dossier.id, kind, fields_for(kind, dossier), [("p.pdf", PDF)])
        assert fresh(dossier).first_missing_due == date.fromordinal(first_due.toordinal() + 15)
    post_piece(
        auth,
        dossier.id,
        "feuille_emargement",
        fields_for("feuille_emargement", dossier),
        [("p.pdf", PDF)],
    )
    second_due = month_end(dossier.start_date, 1)
    assert fresh(dossier).first_missing_due == date.fromordinal(second_due.toordinal() + 15)
    assert fresh(dossier).version == dossier.version  # a derived column: no edit conflict


def test_a_failed_commit_deletes_the_stored_files(app, of_setup, tmp_path, monkeypatch) -> None:
    dossier, user = of_setup
    storage = LocalStorage(tmp_path)
    fields = fields_for("facture", dossier)
    added = service.add_pieces(user, dossier, "facture", fields, [_upload(PDF)], storage=storage)
    assert any(p.is_file() for p in tmp_path.rglob("*"))

    def broken_commit() -> None:
        raise RuntimeError("base indisponible")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        service.commit_pieces(added, storage=storage)
    monkeypatch.undo()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert count(Piece) == 0


def test_a_failure_after_storing_deletes_the_files(app, of_setup, tmp_path, monkeypatch) -> None:
    dossier, user = of_setup
    storage = LocalStorage(tmp_path)

    def broken_record(*args, **kwargs):
        raise RuntimeError("journal indisponible")

    monkeypatch.setattr(service.audit, "record", broken_record)
    with pytest.raises(RuntimeError):
        service.add_pieces(
            user,
            dossier,
            "facture",
            fields_for("facture", dossier),
            [_upload(PDF), _upload(JPEG)],
            storage=storage,
        )
    db.session.rollback()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


# --- Who may send -----------------------------------------------------------------------------


def test_a_closed_dossier_takes_no_more_pieces(client, auth, of_setup) -> None:
    dossier, _ = of_setup
    db.session.get(Dossier, dossier.id).status = "clos"
    db.session.commit()
    assert client.get(new_piece_path(dossier.id, "facture")).status_code == 403
    response = post_piece(
        auth, dossier.id, "facture", fields_for("facture", dossier), [("f.pdf", PDF)]
    )
    assert response.status_code == 403 and count(Piece) == 0
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "pieces/nouvelle" not in page


def test_funder_staff_do_not_send_pieces(client, login_as) -> None:
    funder = FunderFactory()
    dossier = make_dossier(funder)
    login_as(Role.CONTROLLER, funder=funder)
    assert client.get(f"/dossiers/{dossier.id}").status_code == 200
    assert client.get(new_piece_path(dossier.id, "facture")).status_code == 403


def _upload(content: bytes, name: str = "f.pdf"):
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(content), filename=name)
