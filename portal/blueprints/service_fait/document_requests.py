"""Requests for documents: the controller's form (from the control page's panel), the
request's page and its closing, the message templates; the OF's side under
`/service-fait/organisme/demandes/`; the files attached to messages.

Every route loads the dossier with `get_dossier_or_404`: another OF's or another funder's
request answers 404 (audited). Services (`portal.service_fait.document_requests`) commit.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal import audit, clock, formatting
from portal.access import can_add_pieces, deny, get_dossier_or_404, roles_required
from portal.blueprints.dossiers.piece_forms import ACCEPT
from portal.blueprints.service_fait import bp
from portal.blueprints.service_fait.routes import SECTION
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.forms import EmptyForm, Form
from portal.models import (
    PIECE_KIND_LABELS,
    REQUEST_STATUS_LABELS,
    ControlMessage,
    Document,
    DocumentRequest,
    Dossier,
    MessageTemplate,
    Piece,
    RequestStatus,
    Role,
    User,
)
from portal.rendering import render_page
from portal.routing import database_id
from portal.service_fait import document_requests as service
from portal.storage import storage_for
from portal.uploads import max_files_per_upload, max_size_label, max_upload_bytes, send_stored
from portal.web import actor as current_actor
from portal.web import redirect_after_post

FUNDER = tuple(SECTION.roles)  # funder admins and controllers
READERS = (*FUNDER, Role.PROVIDER)


def control_url(dossier_id: int) -> str:
    """The dossier's control page, where the requests panel is."""
    return url_for("service_fait.control", dossier_id=dossier_id)


def get_request_or_404(request_id: int, actor: User) -> DocumentRequest:
    """A request of a dossier the actor may see; 404 (audited) otherwise."""
    found = db.session.get(DocumentRequest, request_id)
    if found is None:
        abort(404)
    get_dossier_or_404(found.dossier_id, actor)
    return found


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


# --- The controller's side -------------------------------------------------------------------


def _posted_request_values() -> dict[str, Any]:
    selected = request.form.getlist("items")
    reasons = {
        name.removeprefix("motif-"): value
        for name, value in request.form.items()
        if name.startswith("motif-")
    }
    template_id = request.form.get("modele", "")
    return {
        "selected": selected,
        "reasons": reasons,
        "message": request.form.get("message", ""),
        "due_date": request.form.get("due_date", ""),
        "template_id": database_id(template_id),
    }


def _render_request_form(dossier: Dossier, actor: User, new: dict[str, Any]) -> Response:
    return render_page(
        "service_fait/request_form.html",
        block="request_form",
        section=SECTION,
        dossier=dossier,
        new=new,
        back=control_url(dossier.id),
    )


@bp.route("/dossiers/<int:dossier_id>/demandes/nouvelle", methods=["GET", "POST"])
@roles_required(*FUNDER)
def new_request(dossier_id: int) -> Response:
    """The request form (also embedded in the control page's panel), and its sending."""
    actor = current_actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    today = clock.today()
    if request.method == "GET":
        new = service.new_request_context(dossier, actor, today)
        return _render_request_form(dossier, actor, new)
    values = _posted_request_values()
    if request.form.get("action") == "modele":
        # Without JavaScript: the chosen template's text in the message box.
        template = (
            service.template_for(values["template_id"], actor.funder_id)
            if values["template_id"]
            else None
        )
        if template is not None:
            values["message"] = template.body
        return _render_request_form(
            dossier, actor, service.new_request_context(dossier, actor, today, values=values)
        )
    try:
        created = service.create_request(
            actor,
            dossier,
            selected=values["selected"],
            reasons=values["reasons"],
            message=values["message"],
            due_date=_parse_date(values["due_date"]),
            today=today,
        )
    except Refused as refused:
        new = service.new_request_context(
            dossier, actor, today, values=values, errors=refused.errors
        )
        return _render_request_form(dossier, actor, new)
    except Stale:
        flash("Le dossier a changé pendant l'envoi : rien n'a été envoyé, réessayez.", "warning")
        return redirect_after_post(control_url(dossier.id))
    count = len(created.items)
    flash(
        f"Demande de pièces envoyée à l'organisme "
        f"({formatting.plural(count, 'pièce', 'pièces')}, "
        f"au plus tard le {formatting.date_fr(created.due_date)}).",
        "success",
    )
    return redirect_after_post(control_url(dossier.id), "requests-panel")


@bp.get("/dossiers/<int:dossier_id>/demandes/modele")
@roles_required(*FUNDER)
def template_message(dossier_id: int) -> str:
    """HTMX: the message box filled with the chosen template."""
    actor = current_actor()
    get_dossier_or_404(dossier_id, actor)
    template_id = request.args.get("modele", "")
    template = (
        service.template_for(template, actor.funder_id)
        if (template := database_id(template_id)) is not None
        else None
    )
    return render_template(
        "service_fait/_message_field.html",
        message=template.body if template else request.args.get("message", ""),
        errors=[],
    )


@bp.get("/demandes/<int:request_id>")
@roles_required(*FUNDER)
def request_detail(request_id: int) -> str:
    actor = current_actor()
    found = get_request_or_404(request_id, actor)
    dossier = found.dossier
    context = service.thread_context(dossier, clock.today())
    view = next(v for v in context["requests"] if v.id == found.id)
    return render_template(
        "service_fait/request_detail.html",
        section=SECTION,
        dossier=dossier,
        view=view,
        back=control_url(dossier.id),
        side_labels=service.SIDE_LABELS,
        close_outcomes=service.CLOSE_OUTCOMES,
    )


@bp.post("/demandes/<int:request_id>/clore")
@roles_required(*FUNDER)
def close_request(request_id: int) -> Response:
    actor = current_actor()
    found = get_request_or_404(request_id, actor)
    dossier_id = found.dossier_id
    try:
        service.close_request(
            actor,
            found,
            outcome=request.form.get("outcome", ""),
            note=request.form.get("note", ""),
        )
    except Refused as refused:
        flash(str(refused), "error")
    except Stale:
        flash("Le dossier a changé entre-temps : rien n'a été modifié, réessayez.", "warning")
    else:
        flash("Demande close.", "success")
    return redirect_after_post(control_url(dossier_id), "requests-panel")


# --- Message templates (funder admins) -------------------------------------------------------


class TemplateForm(Form):
    title = StringField(
        "Titre du modèle",
        validators=[DataRequired("Donnez un titre au modèle."), Length(max=120)],
    )
    body = TextAreaField(
        "Texte du message",
        validators=[
            DataRequired("Écrivez le texte du modèle."),
            Length(max=service.MAX_MESSAGE_LENGTH),
        ],
        render_kw={"rows": 10},
    )


def _own_template_or_404(template_id: int, actor: User) -> MessageTemplate:
    template = db.session.get(MessageTemplate, template_id)
    if template is None:
        abort(404)
    if template.funder_id != actor.funder_id:
        deny(actor, "modèle d'un autre financeur", status=404, template_id=template_id)
    return template


@bp.get("/modeles")
@roles_required(Role.FUNDER_ADMIN)
def templates() -> str:
    actor = current_actor()
    rows = service.templates_for(actor.funder_id)
    return render_template(
        "service_fait/templates.html",
        section=SECTION,
        own=[t for t in rows if t.funder_id == actor.funder_id],
        defaults=[t for t in rows if t.funder_id is None],
        delete_form=EmptyForm(),
    )


@bp.route("/modeles/nouveau", methods=["GET", "POST"])
@roles_required(Role.FUNDER_ADMIN)
def new_template() -> Response | str:
    actor = current_actor()
    form = TemplateForm()
    source_id = database_id(request.args.get("depuis"))
    if request.method == "GET" and source_id is not None:
        source = service.template_for(source_id, actor.funder_id)
        if source is not None:
            form.title.data, form.body.data = f"{source.title} (copie)", source.body
    if form.validate_on_submit():
        service.save_template(actor, form.title.data or "", form.body.data or "")
        flash("Modèle enregistré.", "success")
        return redirect(url_for("service_fait.templates"), code=303)
    return render_template(
        "service_fait/template_form.html", section=SECTION, form=form, heading="Nouveau modèle"
    )


@bp.route("/modeles/<int:template_id>/modifier", methods=["GET", "POST"])
@roles_required(Role.FUNDER_ADMIN)
def edit_template(template_id: int) -> Response | str:
    actor = current_actor()
    template = _own_template_or_404(template_id, actor)
    form = TemplateForm(obj=template)
    if form.validate_on_submit():
        service.save_template(actor, form.title.data or "", form.body.data or "", template)
        flash("Modèle modifié.", "success")
        return redirect(url_for("service_fait.templates"), code=303)
    return render_template(
        "service_fait/template_form.html",
        section=SECTION,
        form=form,
        heading=f"Modifier le modèle « {template.title} »",
    )


@bp.post("/modeles/<int:template_id>/supprimer")
@roles_required(Role.FUNDER_ADMIN)
def delete_template(template_id: int) -> Response:
    actor = current_actor()
    template = _own_template_or_404(template_id, actor)
    if EmptyForm().validate_on_submit():
        title = template.title
        service.delete_template(actor, template)
        flash(f"Modèle « {title} » supprimé.", "success")
    return redirect(url_for("service_fait.templates"), code=303)


# --- Files attached to messages (both sides) -------------------------------------------------


@bp.get("/dossiers/<int:dossier_id>/messages/<int:message_id>/fichiers/<int:document_id>")
@roles_required(*READERS)
def message_file(dossier_id: int, message_id: int, document_id: int) -> Response:
    actor = current_actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    message = db.session.get(ControlMessage, message_id)
    document = db.session.get(Document, document_id)
    if (
        message is None
        or message.dossier_id != dossier.id
        or document is None
        or document not in message.documents
    ):
        deny(
            actor,
            "fichier d'un autre message",
            status=404,
            dossier_id=dossier_id,
            message_id=message_id,
            document_id=document_id,
        )
    assert document is not None
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    audit.record(
        "service_fait.attachment_downloaded",
        actor=actor,
        object_type="documents",
        object_id=document.id,
        funder_id=dossier.funder_id,
        details={"dossier_id": dossier.id, "message_id": message_id},
    )
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


# --- The OF's side ------------------------------------------------------------------------------


class AnswerForm(Form):
    message = TextAreaField(
        "Votre réponse",
        render_kw={"rows": 6, "maxlength": service.MAX_MESSAGE_LENGTH},
    )
    files = MultipleFileField(
        "Fichiers joints à la réponse (facultatif)", render_kw={"accept": ACCEPT}
    )

    def uploaded_files(self) -> list[FileStorage]:
        data = self.files.data
        files = data if isinstance(data, list) else [data]
        return [f for f in files if isinstance(f, FileStorage) and f.filename]


def upload_links(found: DocumentRequest, dossier: Dossier, actor: User) -> dict[int, str]:
    """For each item (by index), the page where the OF sends that piece, when it may."""
    if not can_add_pieces(actor, dossier):
        return {}
    links: dict[int, str] = {}
    current_ids = set(
        db.session.scalars(
            select(Piece.id).where(Piece.dossier_id == dossier.id, Piece.superseded_at.is_(None))
        )
    )
    for index, item in enumerate(service.item_views(found)):
        if item.kind not in PIECE_KIND_LABELS:
            continue
        if item.piece_id and item.piece_id in current_ids:
            links[index] = url_for(
                "dossiers.replace_piece", dossier_id=dossier.id, piece_id=item.piece_id
            )
        else:
            query: dict[str, str] = {"type": item.kind}
            if item.period_start and item.period_end:
                query |= {
                    "debut": item.period_start.isoformat(),
                    "fin": item.period_end.isoformat(),
                }
            links[index] = url_for("dossiers.new_piece", dossier_id=dossier.id, **query)
    return links


@bp.get("/organisme/demandes/")
@roles_required(Role.PROVIDER)
def provider_requests() -> str:
    actor = current_actor()
    rows = service.provider_requests(actor.provider_id)
    today = clock.today()
    return render_template(
        "service_fait/provider_requests.html",
        section=None,
        views=[service.request_view(r, today) for r in rows],
    )


@bp.route("/organisme/demandes/<int:request_id>", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def provider_request(request_id: int) -> Response:
    actor = current_actor()
    found = get_request_or_404(request_id, actor)
    dossier = found.dossier
    form = AnswerForm()
    general = None
    if form.validate_on_submit():
        try:
            service.answer_request(
                actor, found, message=form.message.data or "", files=form.uploaded_files()
            )
        except Refused as refused:
            service.record_refusal(actor, found, refused)
            for name, messages in refused.errors.items():
                if name in form:
                    form[name].errors = list(messages)
            general = refused.general
        except Stale:
            general = "Le dossier a changé pendant l'envoi : rien n'a été envoyé, réessayez."
        else:
            flash(
                "Réponse envoyée au financeur : le dossier repart en contrôle.",
                "success",
            )
            return redirect_after_post(
                url_for("service_fait.provider_request", request_id=found.id)
            )
    context = service.thread_context(dossier, clock.today())
    view = next(v for v in context["requests"] if v.id == found.id)
    limit = max_upload_bytes()
    return render_page(
        "service_fait/provider_request.html",
        block="answer_form",
        section=None,
        dossier=dossier,
        view=view,
        others=[v for v in context["requests"] if v.id != found.id],
        form=form,
        general=general,
        submitted=request.method == "POST",
        links=upload_links(found, dossier, actor),
        side_labels=service.SIDE_LABELS,
        max_file_label=max_size_label(limit),
        max_files=max_files_per_upload(),
        status_labels=REQUEST_STATUS_LABELS,
        closed=found.status == RequestStatus.CLOSED,
    )
