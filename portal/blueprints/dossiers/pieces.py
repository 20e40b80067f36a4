"""A dossier's pieces: upload, replacement, inline validation and download.

Every route loads the dossier with `get_dossier_or_404`: another OF's or another funder's
dossier answers 404, as does a piece id that belongs to another dossier, and the refusal
is audited. Uploads are the OF's, while the dossier is open.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, current_app, flash, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from portal import clock
from portal.access import get_dossier_or_404, get_piece_or_404, roles_required
from portal.blueprints.dossiers import SECTION, bp
from portal.blueprints.dossiers.piece_forms import (
    PieceForm,
    initial_from_piece,
    piece_form_class,
)
from portal.dossiers import piece_rules
from portal.dossiers import pieces as service
from portal.dossiers.calendar import Period
from portal.errors import MESSAGES, Refused
from portal.models import (
    PIECE_KIND_LABELS,
    Dossier,
    Piece,
    PieceKind,
    Role,
)
from portal.rendering import render_page, wants_fragment
from portal.routing import database_id
from portal.storage import storage_for
from portal.submissions import keyless
from portal.uploads import max_files_per_upload, max_size_label, max_upload_bytes, send_stored
from portal.web import actor, redirect_after_post

VIEWERS = tuple(SECTION.roles)

HEADINGS = {
    PieceKind.INVOICE: "Envoyer une facture",
    PieceKind.COMPLETION_CERTIFICATE: "Envoyer un certificat de réalisation",
    PieceKind.ATTENDANCE_SHEET: "Envoyer une feuille d'émargement",
    PieceKind.EXPENSE_STATEMENT: "Envoyer un relevé de dépenses",
}
UPLOAD_ENDPOINTS = frozenset(
    {"dossiers.new_piece", "dossiers.replace_piece", "dossiers.prefill_piece"}
)
CHOOSE_FILE_AGAIN = (
    "Le fichier a été lu et le formulaire rempli ; rien n'a encore été envoyé. Vérifiez les "
    "informations, choisissez de nouveau le fichier, puis envoyez."
)


def _kind(value: str | None) -> PieceKind | None:
    try:
        return PieceKind(value or "")
    except ValueError:
        return None


def _limits() -> dict[str, Any]:
    per_file = max_upload_bytes()
    per_request = current_app.config.get("MAX_CONTENT_LENGTH") or per_file
    return {
        "max_file": per_file,
        "max_files": max_files_per_upload(),
        "max_request": per_request,
        "max_file_label": max_size_label(per_file),
        "max_request_label": max_size_label(per_request),
    }


def _initial_from_query(dossier: Dossier) -> dict[str, Any]:
    """The period proposed by a link of the calendar (?debut=…&fin=…), and the nature."""
    initial: dict[str, Any] = {"nature": dossier.category}
    for param, name in (("debut", "period_start"), ("fin", "period_end")):
        try:
            initial[name] = date.fromisoformat(request.args.get(param, "")).isoformat()
        except ValueError:
            continue
    return initial


def _prefill_url(dossier: Dossier, kind: PieceKind, replaced: Piece | None) -> str:
    query = {"piece": str(replaced.id)} if replaced is not None else {}
    return url_for("dossiers.prefill_piece", dossier_id=dossier.id, type=kind.value, **query)


def _form_page(
    dossier: Dossier,
    form: PieceForm,
    *,
    heading: str,
    action: str,
    general: str | None = None,
    replaced: Piece | None = None,
    prefill: service.Prefill | None = None,
    block: str = "piece_form",
) -> Response:
    context = service.rule_context(dossier, clock.today())
    return render_page(
        "dossiers/piece_form.html",
        block=block,
        prefill=prefill,
        prefill_url=_prefill_url(dossier, form.kind, replaced),
        accepts_xml=form.kind == PieceKind.INVOICE,
        section=SECTION,
        dossier=dossier,
        form=form,
        kind=form.kind,
        kind_labels=PIECE_KIND_LABELS,
        specs=piece_rules.fields_for(form.kind, context),
        heading=heading,
        action=action,
        general=general,
        submitted=request.method == "POST",
        replaced=replaced,
        validate_url=url_for(
            "dossiers.validate_piece_field", dossier_id=dossier.id, type=form.kind.value
        ),
        **_limits(),
    )


@bp.route("/<int:dossier_id>/pieces/nouvelle", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def new_piece(dossier_id: int) -> Response | str:
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user, need="add_pieces")
    kind = _kind(request.args.get("type"))
    if kind is None:
        if request.method == "POST":
            abort(400)
        return render_template(
            "dossiers/piece_kinds.html",
            section=SECTION,
            dossier=dossier,
            kinds=list(PieceKind),
            headings=HEADINGS,
        )
    form = piece_form_class(kind)(data=_initial_from_query(dossier))
    general = None
    if form.validate_on_submit():
        try:
            added = service.add_pieces(
                user, dossier, kind, form.raw_values(), form.uploaded_files()
            )
        except Refused as refused:
            service.record_refusal(user, dossier, kind.value, refused)
            form.set_errors(refused.errors)
            general = refused.general
        else:
            for notice in service.reading_notices(added):
                flash(notice, "warning")
            first = added[0]
            period = Period(first.period_start, first.period_end).label()
            count = len(added)
            flash(
                f"{PIECE_KIND_LABELS[kind]} {period} : "
                + (f"{count} fichiers envoyés." if count > 1 else "fichier envoyé."),
                "success",
            )
            return redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
    return _form_page(
        dossier,
        form,
        heading=HEADINGS[kind],
        action=url_for("dossiers.new_piece", dossier_id=dossier.id, type=kind.value),
        general=general,
    )


@bp.route("/<int:dossier_id>/pieces/<int:piece_id>/remplacer", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def replace_piece(dossier_id: int, piece_id: int) -> Response | str:
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user, need="add_pieces")
    piece = get_piece_or_404(dossier, piece_id, user)
    if piece.superseded_at is not None:
        flash(service.ALREADY_REPLACED, "warning")
        return redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
    kind = PieceKind(piece.kind)
    form = piece_form_class(kind, replacing=True)(data=initial_from_piece(piece))
    general = None
    if form.validate_on_submit():
        files = form.uploaded_files()
        try:
            new = service.replace_piece(user, piece, form.raw_values(), files[0] if files else None)
        except Refused as refused:
            service.record_refusal(user, dossier, kind.value, refused)
            form.set_errors(refused.errors)
            general = refused.general
        else:
            for notice in service.reading_notices([new]):
                flash(notice, "warning")
            flash(
                f"{PIECE_KIND_LABELS[kind]} remplacée : l'ancienne version reste consultable.",
                "success",
            )
            return redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
    return _form_page(
        dossier,
        form,
        heading=f"Remplacer : {piece.kind_label.lower()} "
        + Period(piece.period_start, piece.period_end).label(),
        action=url_for("dossiers.replace_piece", dossier_id=dossier.id, piece_id=piece.id),
        general=general,
        replaced=piece,
    )


@bp.post("/<int:dossier_id>/pieces/lire")
@roles_required(Role.PROVIDER)
def prefill_piece(dossier_id: int) -> Response:
    """The upload form filled from the file chosen (read in memory, not stored): with HTMX
    as soon as the file is chosen (the fields only, so that the chosen file stays), and
    without JavaScript through the form's « Lire le fichier » button (the whole page)."""
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user, need="add_pieces")
    kind = _kind(request.args.get("type"))
    if kind is None:
        abort(400)
    replaced = None
    if (piece_id := database_id(request.args.get("piece", ""))) is not None:
        replaced = get_piece_or_404(dossier, piece_id, user)
        kind = PieceKind(replaced.kind)
    form = piece_form_class(kind, replacing=replaced is not None)()
    files = form.uploaded_files()
    context = service.rule_context(dossier, clock.today())
    prefill = service.read_upload(kind, files[0] if files else None, context)
    if prefill is None:
        prefill = service.Prefill("typed", notice=service.NO_FILE, problem=True)
    for name, value in prefill.values.items():
        form[name].data = value
    general = None
    if not wants_fragment():
        general = CHOOSE_FILE_AGAIN
    if replaced is not None:
        heading = (
            f"Remplacer : {replaced.kind_label.lower()} "
            + Period(replaced.period_start, replaced.period_end).label()
        )
        action = url_for("dossiers.replace_piece", dossier_id=dossier.id, piece_id=replaced.id)
    else:
        heading = HEADINGS[kind]
        action = url_for("dossiers.new_piece", dossier_id=dossier.id, type=kind.value)
    return _form_page(
        dossier,
        form,
        heading=heading,
        action=action,
        general=general,
        replaced=replaced,
        prefill=prefill,
        block="piece_fields",
    )


@bp.post("/<int:dossier_id>/pieces/valider")
@keyless  # reads the form, changes nothing
@roles_required(Role.PROVIDER)
def validate_piece_field(dossier_id: int) -> str:
    """Inline validation (HTMX): the message of one field as it is typed, and those of the
    other filled fields, which a rule between fields may have changed (out of band)."""
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user, need="add_pieces")
    kind = _kind(request.args.get("type"))
    if kind is None:
        abort(400)
    form = piece_form_class(kind)()
    context = service.rule_context(dossier, clock.today())
    names = [spec.name for spec in piece_rules.fields_for(kind, context)]
    name = request.args.get("champ", "")
    if name not in names:
        abort(400)
    checked = piece_rules.check(kind, form.raw_values(), context)
    others = {
        other: checked.errors.get(other, [])
        for other in names
        if other != name and (form[other].data or "").strip()
    }
    return render_template(
        "dossiers/_piece_field_error.html", errors=checked.errors.get(name, []), others=others
    )


@bp.get("/<int:dossier_id>/pieces/<int:piece_id>/fichier")
@roles_required(*VIEWERS)
def download(dossier_id: int, piece_id: int) -> Response:
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user)
    piece = get_piece_or_404(dossier, piece_id, user)
    document = piece.document
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    service.record_download(user, piece)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


@bp.get("/<int:dossier_id>/pieces/<int:piece_id>/xml")
@roles_required(*VIEWERS)
def download_xml(dossier_id: int, piece_id: int) -> Response:
    """The XML of a Factur-X invoice, kept beside its PDF."""
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user)
    piece = get_piece_or_404(dossier, piece_id, user)
    document = piece.xml_document
    if document is None:
        abort(404)
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    service.record_download(user, piece)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


@bp.errorhandler(RequestEntityTooLarge)
def request_too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """A body above MAX_CONTENT_LENGTH is refused before it is read: nothing is stored."""
    title, message = MESSAGES[413]
    if request.endpoint in UPLOAD_ENDPOINTS:
        query = {"type": request.args["type"]} if "type" in request.args else {}
        return (
            render_template(
                "dossiers/upload_too_large.html",
                section=SECTION,
                back=url_for(request.endpoint, **(request.view_args or {}), **query),
                **_limits(),
            ),
            413,
        )
    return render_template("errors/error.html", status=413, title=title, message=message), 413
