"""Each dossier's page, its pieces (upload, replacement, download), and the OF's space
"Mes dossiers" (served at /dossiers/ for OF users, see `routes.index`).

Every route loads the dossier with `get_dossier_or_404`: another OF's or another funder's
dossier answers 404, as does a piece id that belongs to another dossier, and the refusal
is audited. Uploads are the OF's, while the dossier is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_htmx import make_response as htmx_response
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from portal.access import can_add_pieces, deny, get_dossier_or_404, is_funder_side, roles_required
from portal.blueprints.dossiers.piece_forms import (
    MineFilterForm,
    PieceForm,
    initial_from_piece,
    piece_form_class,
)
from portal.blueprints.dossiers.routes import SECTION, bp
from portal.dossiers import piece_rules
from portal.dossiers import pieces as service
from portal.dossiers.calendar import DUE_AFTER_DAYS, SLOT_STATUS_LABELS, Period, slots
from portal.dossiers.rules import CATEGORY_LABELS
from portal.errors import MESSAGES
from portal.extensions import db
from portal.forms import choices
from portal.identifiers import Identifier
from portal.models import (
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    PIECE_KIND_LABELS,
    SCHEME_LABELS,
    Category,
    Dossier,
    Funder,
    FunderProvider,
    Piece,
    PieceKind,
    Role,
    User,
)
from portal.public_list import lookup
from portal.rendering import render_page, wants_fragment
from portal.storage import storage_for
from portal.uploads import ALLOWED_TYPES, max_size_label, send_stored

VIEWERS = tuple(SECTION.roles)
PER_PAGE = 20

HEADINGS = {
    PieceKind.INVOICE: "Envoyer une facture",
    PieceKind.COMPLETION_CERTIFICATE: "Envoyer un certificat de réalisation",
    PieceKind.ATTENDANCE_SHEET: "Envoyer une feuille d'émargement",
    PieceKind.EXPENSE_STATEMENT: "Envoyer un relevé de dépenses",
}
UPLOAD_ENDPOINTS = frozenset({"dossiers.new_piece", "dossiers.replace_piece"})


def _actor() -> User:
    return current_user._get_current_object()


def _kind(value: str | None) -> PieceKind | None:
    try:
        return PieceKind(value or "")
    except ValueError:
        return None


def _get_piece_or_404(dossier: Dossier, piece_id: int, actor: User) -> Piece:
    """A piece of this dossier; 404 (audited) for a piece of another dossier."""
    piece = db.session.get(Piece, piece_id)
    if piece is None:
        abort(404)
    if piece.dossier_id != dossier.id:
        deny(
            actor,
            "pièce d'un autre dossier",
            status=404,
            dossier_id=dossier.id,
            piece_id=piece_id,
        )
    return piece


def _redirect_after_post(url: str) -> Response:
    """303 for a plain form; for HTMX, a full navigation (HX-Redirect)."""
    if wants_fragment():
        return htmx_response("", redirect=url)
    return redirect(url, code=303)


def _limits() -> dict[str, Any]:
    per_file = service.max_upload_bytes()
    per_request = current_app.config.get("MAX_CONTENT_LENGTH") or per_file
    return {
        "max_file": per_file,
        "max_files": service.max_files_per_upload(),
        "max_request": per_request,
        "max_file_label": max_size_label(per_file),
        "max_request_label": max_size_label(per_request),
    }


# --- "Mes dossiers" ------------------------------------------------------------------------


@dataclass(frozen=True)
class MineRow:
    dossier: Dossier
    to_send: list[service.PeriodToSend]
    upcoming: service.PeriodToSend | None


def my_dossiers() -> Response:
    """The OF's space: its dossiers from every funder, each with what is still to send."""
    actor = _actor()
    today = service.paris_today()
    form = MineFilterForm(request.args)
    funders = db.session.execute(
        select(Funder.id, Funder.name)
        .join(FunderProvider, FunderProvider.funder_id == Funder.id)
        .where(FunderProvider.provider_id == actor.provider_id)
        .order_by(Funder.name)
    ).all()
    form.financeur.choices = choices([(0, "Tous les financeurs"), *funders])
    form.validate()
    filters = service.MineFilters(
        q=(form.q.data or "") if not form.q.errors else "",
        funder_id=(form.financeur.data or None) if not form.financeur.errors else None,
        missing_only=bool(form.manquantes.data),
    )
    page = db.paginate(
        service.provider_dossiers(actor, filters, today),
        page=max(form.page.data or 1, 1) if not form.page.errors else 1,
        per_page=PER_PAGE,
        error_out=False,
    )
    by_dossier = service.slots_for_many(page.items, today)
    rows = [
        MineRow(d, service.to_send(by_dossier[d.id]), service.next_upcoming(by_dossier[d.id]))
        for d in page.items
    ]
    return render_page(
        "dossiers/mine.html",
        block="results",
        section=SECTION,
        form=form,
        page=page,
        rows=rows,
        filters=filters,
        today=today,
        due_after_days=DUE_AFTER_DAYS,
        status_labels=DOSSIER_STATUS_LABELS,
        scheme_labels=SCHEME_LABELS,
    )


# --- The dossier's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class QualiopiStatus:
    on: date
    list_as_of: date | None  # the list the answer comes from
    on_start_date: bool  # False: no list was in force then, the answer is today's list's
    found: bool
    certified: bool  # for the dossier's category
    category_label: str


def _qualiopi_status(dossier: Dossier, today: date) -> QualiopiStatus:
    """What the public list in force on the start date said of the OF, for the dossier's
    category; when no list imported was in force then, what today's list says."""
    ident = Identifier("nda", dossier.provider.nda)
    result = lookup.check(ident, dossier.start_date)
    on_start_date = result.list_as_of is not None
    if not on_start_date:
        result = lookup.check(ident, today)
    match = result.matches[0] if result.matches else None
    return QualiopiStatus(
        on=dossier.start_date,
        list_as_of=result.list_as_of,
        on_start_date=on_start_date,
        found=match is not None,
        certified=bool(match and match.categories.get(dossier.category)),
        category_label=CATEGORY_LABELS.get(Category(dossier.category), dossier.category),
    )


def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all()
    )


@bp.get("/<int:dossier_id>")
@roles_required(*VIEWERS)
def detail(dossier_id: int) -> str:
    actor = _actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    today = service.paris_today()
    pieces = service.dossier_pieces(dossier)
    current = [p for p in pieces if p.superseded_at is None]
    by_id = {p.id: p for p in pieces}
    funder_side = is_funder_side(actor)
    return render_template(
        "dossiers/detail.html",
        section=SECTION,
        dossier=dossier,
        today=today,
        slots=slots(service.expected_for(dossier), current, today),
        pieces_by_id=by_id,
        versions=service.with_versions(pieces),
        figures=service.figures,
        duplicates=(
            service.duplicates_by_sha(
                {p.document.sha256 for p in pieces}, dossier.id, funder_id=dossier.funder_id
            )
            if funder_side
            else {}
        ),
        history=service.history(dossier, pieces) if funder_side else None,
        qualiopi=_qualiopi_status(dossier, today),
        can_add=can_add_pieces(actor, dossier),
        funder_side=funder_side,
        kinds=list(PieceKind),
        kind_labels=PIECE_KIND_LABELS,
        slot_status_labels=SLOT_STATUS_LABELS,
        due_after_days=DUE_AFTER_DAYS,
        labels={
            "category": CATEGORY_LABELS.get(Category(dossier.category), dossier.category),
            "scheme": SCHEME_LABELS.get(dossier.scheme, dossier.scheme),
            "modality": MODALITY_LABELS.get(dossier.modality, dossier.modality),
            "rhythm": PAYMENT_RHYTHM_LABELS.get(dossier.payment_rhythm, dossier.payment_rhythm),
            "status": DOSSIER_STATUS_LABELS.get(dossier.status, dossier.status),
        },
        period_label=lambda p: Period(p.period_start, p.period_end).label(),
        uploaders=_names({p.created_by_id for p in pieces if p.created_by_id}),
        format_hours=piece_rules.format_hours,
        format_money=piece_rules.format_money,
        type_labels=ALLOWED_TYPES,
        size_label=max_size_label,
        local=lambda moment: moment.astimezone(service.PARIS),
    )


# --- Sending pieces ---------------------------------------------------------------------------


def _initial_from_query(dossier: Dossier) -> dict[str, Any]:
    """The period proposed by a link of the calendar (?debut=…&fin=…), and the nature."""
    initial: dict[str, Any] = {"nature": dossier.category}
    for param, name in (("debut", "period_start"), ("fin", "period_end")):
        try:
            initial[name] = date.fromisoformat(request.args.get(param, "")).isoformat()
        except ValueError:
            continue
    return initial


def _form_page(
    dossier: Dossier,
    form: PieceForm,
    *,
    heading: str,
    action: str,
    general: str | None = None,
    replaced: Piece | None = None,
) -> Response:
    context = service.rule_context(dossier, service.paris_today())
    return render_page(
        "dossiers/piece_form.html",
        block="piece_form",
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
    actor = _actor()
    dossier = get_dossier_or_404(dossier_id, actor, need="add_pieces")
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
                actor, dossier, kind, form.raw_values(), form.uploaded_files()
            )
            service.commit_pieces(added)
        except service.PiecesRefused as refused:
            db.session.rollback()
            service.record_refusal(actor, dossier, kind.value, refused)
            db.session.commit()
            form.set_errors(refused.errors)
            general = refused.general
        else:
            first = added[0]
            period = Period(first.period_start, first.period_end).label()
            count = len(added)
            flash(
                f"{PIECE_KIND_LABELS[kind]} {period} : "
                + (f"{count} fichiers envoyés." if count > 1 else "fichier envoyé."),
                "success",
            )
            return _redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
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
    actor = _actor()
    dossier = get_dossier_or_404(dossier_id, actor, need="add_pieces")
    piece = _get_piece_or_404(dossier, piece_id, actor)
    if piece.superseded_at is not None:
        flash(service.ALREADY_REPLACED, "warning")
        return _redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
    kind = PieceKind(piece.kind)
    form = piece_form_class(kind, replacing=True)(data=initial_from_piece(piece))
    general = None
    if form.validate_on_submit():
        files = form.uploaded_files()
        try:
            new = service.replace_piece(
                actor, piece, form.raw_values(), files[0] if files else None
            )
            service.commit_pieces([new])
        except service.PiecesRefused as refused:
            db.session.rollback()
            service.record_refusal(actor, dossier, kind.value, refused)
            db.session.commit()
            form.set_errors(refused.errors)
            general = refused.general
        else:
            flash(
                f"{PIECE_KIND_LABELS[kind]} remplacée : l'ancienne version reste consultable.",
                "success",
            )
            return _redirect_after_post(url_for("dossiers.detail", dossier_id=dossier.id))
    return _form_page(
        dossier,
        form,
        heading=f"Remplacer : {piece.kind_label.lower()} "
        + Period(piece.period_start, piece.period_end).label(),
        action=url_for("dossiers.replace_piece", dossier_id=dossier.id, piece_id=piece.id),
        general=general,
        replaced=piece,
    )


@bp.post("/<int:dossier_id>/pieces/valider")
@roles_required(Role.PROVIDER)
def validate_piece_field(dossier_id: int) -> str:
    """Inline validation (HTMX): the message of one field as it is typed, and those of the
    other filled fields, which a rule between fields may have changed (out of band)."""
    actor = _actor()
    dossier = get_dossier_or_404(dossier_id, actor, need="add_pieces")
    kind = _kind(request.args.get("type"))
    if kind is None:
        abort(400)
    form = piece_form_class(kind)()
    context = service.rule_context(dossier, service.paris_today())
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
    actor = _actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    piece = _get_piece_or_404(dossier, piece_id, actor)
    document = piece.document
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    service.record_download(actor, piece)
    db.session.commit()
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
