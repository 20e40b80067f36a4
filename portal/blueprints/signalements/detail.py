"""A signalement's page (both sides), its transitions, its thread, its evidence files, and
the transmission pack for the certifier (ministry).

Every route loads the signalement with `access.get_signalement_or_404`: another funder's
signalement, a draft for the ministry, or one outside a liaison's region answers 404 and
is audited. What the user may *do* is the workflow's (`portal.signalements.workflow`):
an action from the wrong state or by the wrong role is refused with its message, and
nothing changes.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask_htmx import make_response as htmx_response
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal import audit, clock, confirmation, rnq
from portal.access import deny, get_signalement_or_404, is_funder_side, roles_required
from portal.blueprints.dossiers.piece_forms import ACCEPT
from portal.blueprints.signalements import bp
from portal.blueprints.signalements.routes import READERS, SECTION
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.models import (
    DISMISSAL_REASONS,
    MessageKind,
    Piece,
    Role,
    Signalement,
    SignalementEvidence,
    SignalementMessage,
    SignalementState,
    User,
)
from portal.packs import pack_response
from portal.rendering import render_page, wants_fragment
from portal.signalements import inbox, pack, workflow
from portal.signalements import services as service
from portal.signalements.workflow import Action, TransitionRefused
from portal.storage import storage_for
from portal.uploads import max_files_per_upload, max_size_label, max_upload_bytes, send_stored
from portal.web import actor as current_actor

#: The label of each action's button.
ACTION_BUTTONS = {
    Action.SUBMIT: "Soumettre à l'approbation",
    Action.APPROVE: "Approuver et transmettre au ministère",
    Action.RETURN: "Renvoyer en brouillon",
    Action.SEND: "Transmettre au ministère",
    Action.TAKE: "Prendre en charge",
    Action.REQUEST_INFO: "Demander un complément au financeur",
    Action.ANSWER: "Envoyer la réponse",
    Action.FORWARD: "Transmettre au certificateur",
    Action.DISMISS: "Classer sans suite",
    Action.CLOSE: "Clore le signalement",
    Action.MERGE: "Fusionner et clore",
}


#: The irreversible actions, and what their confirmation says will happen.
CONFIRMED: dict[str, str] = {
    Action.APPROVE: "Le signalement sera transmis au ministère, qui en sera prévenu ; il ne "
    "pourra plus être modifié.",
    Action.SEND: "Le signalement sera transmis au ministère, qui en sera prévenu ; il ne "
    "pourra plus être modifié.",
    Action.FORWARD: "La transmission au certificateur sera enregistrée et le financeur en "
    "sera prévenu.",
    Action.DISMISS: "Le signalement sera classé sans suite, avec le motif choisi ; le "
    "financeur en sera prévenu.",
    Action.CLOSE: "Le signalement sera clos ; plus aucun échange ne sera possible.",
    Action.MERGE: "Ce signalement sera clos et rattaché au signalement conservé.",
}


def _confirm_action(signalement: Signalement, action: Action) -> Response:
    label = ACTION_BUTTONS[action]
    return confirmation.ask(
        f"Confirmer : {label.lower()}",
        [f"Signalement {signalement.reference} ({signalement.provider.name}).", CONFIRMED[action]],
        label.lower(),
        _detail_url(signalement.id),
    )


def _go(url: str) -> Response:
    if wants_fragment():
        return htmx_response("", redirect=url)
    return redirect(url, code=303)


def _detail_url(signalement_id: int, anchor: str | None = None) -> str:
    return url_for("signalements.detail", signalement_id=signalement_id, _anchor=anchor)


def _evidence(signalement: Signalement) -> list[SignalementEvidence]:
    return list(
        db.session.scalars(
            select(SignalementEvidence)
            .where(SignalementEvidence.signalement_id == signalement.id)
            .options(
                joinedload(SignalementEvidence.document),
                joinedload(SignalementEvidence.piece).joinedload(Piece.document),
                joinedload(SignalementEvidence.dossier),
            )
            .order_by(SignalementEvidence.id)
        )
    )


def _messages(signalement: Signalement) -> list[SignalementMessage]:
    return list(
        db.session.scalars(
            select(SignalementMessage)
            .where(SignalementMessage.signalement_id == signalement.id)
            .options(joinedload(SignalementMessage.author))
            .order_by(SignalementMessage.id)
        )
    )


def detail_context(
    signalement: Signalement,
    actor: User,
    *,
    errors: dict[str, dict[str, list[str]]] | None = None,
    typed: service.Payload | None = None,
    open_action: str | None = None,
) -> dict[str, Any]:
    approval = service.approval_required(signalement.funder_id)
    actions = workflow.available_actions(signalement.state, actor.role, approval_required=approval)
    evidence = _evidence(signalement)
    by_message: dict[int, list[SignalementEvidence]] = {}
    for item in evidence:
        if item.message_id is not None:
            by_message.setdefault(item.message_id, []).append(item)
    draft = signalement.state == SignalementState.DRAFT
    checklist = service.substantiation(signalement) if draft else None
    if checklist is not None and not checklist.ok:
        # Sending is refused until it is substantiated: the page offers it only then.
        actions = [a for a in actions if a not in (Action.SEND, Action.SUBMIT)]
    return {
        "section": SECTION,
        "s": signalement,
        "ministry": actor.role == Role.MINISTRY,
        "funder_side": is_funder_side(actor),
        "approval_required": approval,
        "actions": actions,
        "buttons": ACTION_BUTTONS,
        "confirmed_actions": {str(a) for a in CONFIRMED},
        "can_edit": workflow.can_edit(signalement.state, actor.role),
        "can_write": workflow.can_write(signalement.state, actor.role),
        "checklist": checklist,
        "indicators": [rnq.indicator(n) for n in signalement.indicators],
        "evidence": evidence,
        "evidence_by_message": by_message,
        "messages": _messages(signalement),
        "history": service.history(signalement, actor),
        "certifiers": service.certifiers() if Action.FORWARD in actions else [],
        "dismissal_reasons": DISMISSAL_REASONS,
        "side_labels": {k.value: v for k, v in service.SIDE_LABELS.items()},
        "message_kinds": {k.value: v for k, v in service.MESSAGE_KIND_LABELS.items()},
        "info_request": MessageKind.INFO_REQUEST.value,
        "errors": errors or {},
        "typed": typed or service.Payload(),
        "open_action": open_action,
        "stale": inbox.is_stale(signalement),
        "stale_days": inbox.stale_days(),
        "age": inbox.age_days(signalement),
        "today": clock.today(),
        "accept": ACCEPT,
        "upload_note": (
            f"PDF, JPEG ou PNG, {max_size_label(max_upload_bytes())} au plus par fichier, "
            f"{max_files_per_upload()} fichiers au plus."
        ),
        "control_endpoint": (
            "service_fait.control" if "service_fait.control" in current_app.view_functions else None
        ),
    }


@bp.get("/<int:signalement_id>")
@roles_required(*READERS)
def detail(signalement_id: int) -> Response:
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    service.mark_read(actor, signalement.id)
    return render_page("signalements/detail.html", **detail_context(signalement, actor))


@bp.post("/<int:signalement_id>/actions/<action>")
@roles_required(*READERS)
def act(signalement_id: int, action: str) -> Response:
    """Any transition: the workflow decides whether this role may, from this state."""
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    if action in CONFIRMED and not confirmation.confirmed():
        approval = service.approval_required(signalement.funder_id)
        allowed = workflow.available_actions(
            signalement.state, actor.role, approval_required=approval
        )
        if Action(action) in allowed:  # otherwise the workflow says why not, below
            return _confirm_action(signalement, Action(action))
    payload = service.Payload.read(request.form)
    files = [f for f in request.files.getlist("fichiers") if f and f.filename]
    try:
        service.transition(
            actor,
            signalement,
            action,
            payload,
            version=request.form.get("version"),
            files=files,
            max_bytes=max_upload_bytes(),
        )
    except TransitionRefused as refused:
        flash(refused.message, "error")
        return _go(_detail_url(signalement_id))
    except Refused as refused:
        service.record_refusal(actor, signalement, refused)
        context = detail_context(
            signalement, actor, errors={action: refused.errors}, typed=payload, open_action=action
        )
        response = render_page("signalements/detail.html", **context)
        response.status_code = 422
        return response
    except Stale:
        flash(service.STALE_VERSION, "warning")
        return _go(_detail_url(signalement_id))
    done = workflow.TRANSITIONS[Action(action)].done
    flash(f"Signalement {signalement.reference} {done}.", "success")
    if action == Action.RETURN:
        return _go(url_for("signalements.edit", signalement_id=signalement_id))
    return _go(_detail_url(signalement_id))


@bp.post("/<int:signalement_id>/messages")
@roles_required(*READERS)
def post_message(signalement_id: int) -> Response:
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    body = request.form.get("message", "")
    try:
        service.post_message(actor, signalement, body)
    except TransitionRefused as refused:
        flash(refused.message, "error")
    except Refused as refused:
        context = detail_context(
            signalement,
            actor,
            errors={"message": refused.errors},
            typed=service.Payload(message=body),
        )
        response = render_page("signalements/detail.html", **context)
        response.status_code = 422
        return response
    else:
        flash("Message envoyé.", "success")
    return _go(_detail_url(signalement_id, "fil"))


@bp.get("/<int:signalement_id>/preuves/<int:evidence_id>/fichier")
@roles_required(*READERS)
def evidence_file(signalement_id: int, evidence_id: int) -> Response:
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    evidence = db.session.get(SignalementEvidence, evidence_id)
    document = evidence.file if evidence is not None else None
    if evidence is None or evidence.signalement_id != signalement.id or document is None:
        deny(
            actor,
            "preuve d'un autre signalement",
            status=404,
            signalement_id=signalement_id,
            evidence_id=evidence_id,
        )
    assert evidence is not None and document is not None
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    service.record_download(actor, signalement, evidence)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


@bp.get("/<int:signalement_id>/dossier-de-transmission.zip")
@roles_required(Role.MINISTRY)
def transmission_pack(signalement_id: int) -> Response:
    """The pack for the certifier: the printable summary, the evidence files, and the
    manifest of their SHA-256 sums (which the audit event keeps too)."""
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    response, entries = pack_response(
        pack.pack_files(signalement, storage_for(current_app)), pack.filename(signalement)
    )
    audit.record(
        "signalement.pack_downloaded",
        actor=actor,
        target=signalement,
        funder_id=signalement.funder_id,
        details={"files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries]},
    )
    return response
