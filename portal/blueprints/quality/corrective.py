"""Routes of the corrective actions of quality controls.

- The OF's space (``/qualite/mes-controles``): its controls whose report is issued, each
  non-conformity with its deadline and state, and the form to answer it (action plan and
  proof files).
- Lifting or keeping a non-conformity (funders taking part in the control), from the block
  `_nonconformity.html` that the control page includes for each one.
- The funders' list of the non-conformities still open, overdue first.
- Drafting a signalement from a control (`_signalement_offer.html`).
- Downloading the files of the corrective messages.

Each form works without JavaScript (POST → 303); with HTMX the block of the non-conformity
swaps itself (errors inline, 200). A stale form (someone changed the non-conformity in
between) changes nothing: 409, and under HTMX the page reloads with the message.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_htmx import make_response as htmx_response
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from portal import audit, clock, rnq
from portal.access import (
    can_answer_quality_control,
    can_edit_quality_control,
    deny,
    get_quality_control_or_404,
    roles_required,
)
from portal.blueprints.quality import bp
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.models import (
    CONTROL_MODE_LABELS,
    CORRECTIVE_KIND_LABELS,
    QUALITY_CONTROL_STATUS_LABELS,
    CorrectiveKind,
    CorrectiveMessage,
    QualityControl,
    QualityFinding,
    Role,
    SignalementState,
    User,
)
from portal.pagination import page_from
from portal.quality import corrective as service
from portal.quality import rules
from portal.quality import signalement as drafting
from portal.quality.controls import control_result
from portal.rendering import render_page, wants_fragment
from portal.storage import storage_for
from portal.uploads import (
    ALLOWED_TYPES,
    max_files_per_upload,
    max_size_label,
    max_upload_bytes,
    send_stored,
)
from portal.web import actor as current_actor

FUNDER_STAFF = (Role.FUNDER_ADMIN, Role.CONTROLLER)
ACCEPT = ",".join([*ALLOWED_TYPES, ".pdf", ".jpg", ".jpeg", ".png"])


# --- What the templates need -------------------------------------------------------------------


@bp.app_template_filter("nc_finding_label")
def finding_label(value: str | None) -> str:
    try:
        return rules.FINDING_LABELS[rules.Finding(value)]
    except ValueError:
        return "À renseigner"


@bp.app_template_filter("nc_status_label")
def status_label(value: str | None) -> str:
    try:
        return rules.NC_STATUS_LABELS[rules.NcStatus(value)]
    except ValueError:
        return "—"


@bp.app_template_filter("nc_kind_label")
def kind_label(value: str) -> str:
    try:
        return CORRECTIVE_KIND_LABELS[CorrectiveKind(value)]
    except ValueError:
        return value


@bp.app_template_filter("nc_code_label")
def code_label(code: str) -> str:
    return rnq.code_label(code)


@bp.app_template_global("nc_overdue")
def nc_overdue(finding: QualityFinding, today: Any = None) -> bool:
    return service.overdue(finding, today or clock.today())


@bp.app_template_global("nc_state")
def nc_state(finding: QualityFinding) -> dict[str, bool]:
    """What can be done on this NC now (the user's rights are the caller's `can_*`)."""
    return {
        "answerable": service.answerable(finding),
        "decidable": service.decidable(finding),
        "keepable": service.decidable(finding) and finding.nc_status != rules.NcStatus.KEPT.value,
        "major": finding.finding == rules.Finding.MAJOR.value,
        "open": finding.nc_status == rules.NcStatus.OPEN.value,
        "answered": finding.nc_status == rules.NcStatus.ANSWERED.value,
        "kept": finding.nc_status == rules.NcStatus.KEPT.value,
        "decided": finding.nc_status in (rules.NcStatus.LIFTED.value, rules.NcStatus.KEPT.value),
    }


@bp.app_template_global("nc_upload_limits")
def upload_limits() -> dict[str, Any]:
    return {
        "accept": ACCEPT,
        "max_size": max_size_label(max_upload_bytes()),
        "max_files": max_files_per_upload(),
    }


@bp.app_context_processor
def deadline_rule() -> dict[str, Any]:
    return {
        "nc_deadline_rule": rules.DEADLINE_RULE_TEXT,
        "nc_deadline_months": rules.deadline_months,
    }


def _control_url(control_id: int, anchor: str = "") -> str:
    return url_for("quality.control", control_id=control_id) + (f"#{anchor}" if anchor else "")


# --- One non-conformity ------------------------------------------------------------------------


def _finding_or_404(control: QualityControl, finding_id: int) -> QualityFinding:
    finding = db.session.get(QualityFinding, finding_id)
    if finding is None or finding.control_id != control.id or not service.is_nonconformity(finding):
        abort(404)
    return finding


def _block(
    actor: User,
    control: QualityControl,
    finding: QualityFinding,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    """The block of one NC (`_nonconformity.html`), as a fragment."""
    body = render_template(
        "quality/_nonconformity.html",
        control=control,
        finding=finding,
        can_edit=can_edit_quality_control(actor, control),
        can_answer=can_answer_quality_control(actor, control),
        today=clock.today(),
        nc_return="espace" if request.form.get("retour") == "espace" else "controle",
        **extra,
    )
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    return response


def _reload(actor: User, control_id: int, finding_id: int) -> tuple[QualityControl, QualityFinding]:
    control = get_quality_control_or_404(control_id, actor)
    db.session.refresh(control)
    finding = _finding_or_404(control, finding_id)
    db.session.refresh(finding)
    return control, finding


def _conflict(actor: User, control_id: int, finding_id: int, back: str) -> Response:
    """Nothing was saved: say so; HTMX reloads the page (a 409 is not swapped)."""
    flash(service.STALE, "warning")
    if wants_fragment():
        control, finding = _reload(actor, control_id, finding_id)
        response = _block(actor, control, finding, status=409, nc_general=service.STALE)
        response.headers["HX-Refresh"] = "true"
        return response
    return redirect(back, code=303)


def _done(
    url: str, notice: str, actor: User, control: QualityControl, finding: QualityFinding
) -> Response:
    """Saved: under HTMX, the block again with the notice; otherwise a flash and 303."""
    if wants_fragment():
        return _block(actor, control, finding, nc_notice=notice)
    flash(notice, "success")
    return redirect(url, code=303)


@bp.post("/controles/<int:control_id>/non-conformites/<int:finding_id>/reponse")
@roles_required(Role.PROVIDER)
def answer(control_id: int, finding_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    control = get_quality_control_or_404(control_id, actor, need="answer")
    finding = _finding_or_404(control, finding_id)
    if request.form.get("retour") == "espace":
        back = url_for("quality.provider_index") + f"#nc-{finding.id}"
    else:
        back = _control_url(control.id, f"nc-{finding.id}")
    files: list[FileStorage] = [f for f in request.files.getlist("preuves") if f and f.filename]
    try:
        service.answer(
            actor,
            finding,
            text=request.form.get("plan", ""),
            files=files,
            version=request.form.get("version"),
            max_bytes=max_upload_bytes(),
        )
    except NotAllowed:
        deny(actor, "contrôle qualité : réponse refusée", control_id=control_id)
    except Refused as refused:
        service.record_refusal(actor, finding, refused)
        control, finding = _reload(actor, control_id, finding_id)
        extra = {
            "nc_errors": refused.errors,
            "nc_general": refused.general,
            "nc_plan": request.form.get("plan", ""),
        }
        if wants_fragment():
            return _block(actor, control, finding, **extra)
        return _provider_page(actor, error_for=finding.id, status=422, **extra)
    except Stale:
        return _conflict(actor, control_id, finding_id, back)
    notice = (
        "Votre réponse est envoyée : le contrôleur va l'examiner, puis lever ou maintenir la "
        "non-conformité."
    )
    return _done(back, notice, actor, control, finding)


@bp.post("/controles/<int:control_id>/non-conformites/<int:finding_id>/decision")
@roles_required(*FUNDER_STAFF)
def decide(control_id: int, finding_id: int) -> Response:
    actor = current_actor()
    control = get_quality_control_or_404(control_id, actor, need="edit")
    finding = _finding_or_404(control, finding_id)
    back = _control_url(control.id, f"nc-{finding.id}")
    try:
        decided = service.decide(
            actor,
            finding,
            request.form.get("decision", ""),
            reason=request.form.get("motif", ""),
            version=request.form.get("version"),
        )
    except NotAllowed:
        deny(actor, "contrôle qualité : décision refusée", control_id=control_id)
    except Refused as refused:
        control, finding = _reload(actor, control_id, finding_id)
        extra = {
            "nc_errors": refused.errors,
            "nc_general": refused.general,
            "nc_reason": request.form.get("motif", ""),
        }
        if wants_fragment():
            return _block(actor, control, finding, **extra)
        for messages in refused.errors.values():
            for message in messages:
                flash(message, "error")
        if refused.general:
            flash(refused.general, "error")
        return redirect(back, code=303)
    except Stale:
        return _conflict(actor, control_id, finding_id, back)
    if decided.closed:
        flash(
            "Non-conformité levée. Toutes les non-conformités de ce contrôle sont levées : "
            "le contrôle est clos.",
            "success",
        )
        if wants_fragment():
            # The whole page changes (status, offer, …): reload it.
            return htmx_response("", redirect=back.split("#")[0])
        return redirect(back, code=303)
    notice = (
        "Non-conformité levée."
        if finding.nc_status == rules.NcStatus.LIFTED.value
        else "Non-conformité maintenue : l'organisme est invité à répondre de nouveau."
    )
    return _done(back, notice, actor, control, finding)


@bp.get("/controles/<int:control_id>/messages/<int:message_id>/fichiers/<int:document_id>")
@roles_required(Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER)
def corrective_file(control_id: int, message_id: int, document_id: int) -> Response:
    """A file of a corrective message (the OF's proof), as a download; audited."""
    actor = current_actor()
    control = get_quality_control_or_404(control_id, actor)
    message = db.session.get(CorrectiveMessage, message_id)
    if message is None or message.finding.control_id != control.id:
        abort(404)
    document = next((d for d in message.documents if d.id == document_id), None)
    if document is None:
        abort(404)
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    audit.record(
        "quality.corrective_file_downloaded",
        actor=actor,
        target=message.finding,
        funder_id=control.funder_id,
        details={"control_id": control.id, "message_id": message.id, "document_id": document.id},
    )
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


# --- The OF's space ----------------------------------------------------------------------------


def _provider_page(actor: User, *, status: int = 200, **extra: Any) -> Response:
    controls = service.provider_controls(actor)
    body = render_template(
        "quality/provider_index.html",
        controls=controls,
        results={c.id: control_result(c) for c in controls},
        today=clock.today(),
        mode_labels={m.value: label for m, label in CONTROL_MODE_LABELS.items()},
        status_labels={s.value: label for s, label in QUALITY_CONTROL_STATUS_LABELS.items()},
        **extra,
    )
    return current_app.make_response((body, status))


@bp.get("/mes-controles")
@roles_required(Role.PROVIDER)
def provider_index() -> Response:
    return _provider_page(current_actor())


# --- The funders' list of open non-conformities ------------------------------------------------


@bp.get("/non-conformites")
@roles_required(*FUNDER_STAFF)
def nonconformities() -> Response:
    actor = current_actor()
    today = clock.today()
    filters = service.NcFilters.read(request.args)
    page = service.open_nonconformities(actor, filters, today, page_from(request.args))
    return render_page(
        "quality/nonconformities.html",
        block="results",
        page=page,
        filters=filters,
        args=filters.args(),
        providers=service.provider_choices(actor),
        today=today,
        statuses=[(s, rules.NC_STATUS_LABELS[rules.NcStatus(s)]) for s in service.OPEN_STATUSES],
        levels=[(f.value, rules.FINDING_LABELS[f]) for f in rules.NONCONFORMITIES],
    )


# --- Signalement -------------------------------------------------------------------------------


@bp.post("/controles/<int:control_id>/signalement")
@roles_required(*FUNDER_STAFF)
def draft_signalement(control_id: int) -> Response:
    actor = current_actor()
    control = get_quality_control_or_404(control_id, actor, need="edit")
    try:
        drafted = drafting.draft(actor, control)
    except NotAllowed:
        deny(actor, "contrôle qualité : signalement refusé", control_id=control_id)
    except Refused as refused:
        flash(str(refused), "error")
        return _go(_control_url(control_id, "signalement"))
    if drafted.created:
        flash(
            f"Brouillon {drafted.signalement.reference} créé à partir du contrôle : faits, "
            "indicateurs, dossiers et preuves sont préremplis. Relisez-le avant de le transmettre.",
            "success",
        )
    else:
        flash(
            f"Ce contrôle a déjà son signalement ({drafted.signalement.reference}) : le voici.",
            "info",
        )
    endpoint = (
        "signalements.edit"
        if drafted.signalement.state == SignalementState.DRAFT.value
        else "signalements.detail"
    )
    return _go(url_for(endpoint, signalement_id=drafted.signalement.id))


def _go(url: str) -> Response:
    if wants_fragment():
        return htmx_response("", redirect=url.split("#")[0])
    return redirect(url, code=303)
