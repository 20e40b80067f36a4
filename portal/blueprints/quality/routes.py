"""Routes of the quality controls (funder side): the list, planning a control, its page
with the grid of findings and their evidence, the result, the issue of the report, sharing,
and the report (printable page and ZIP with its manifest).

Every control is loaded through `portal.access.get_quality_control_or_404`: a funder that
neither leads nor takes part in it, nor sees it shared, gets 404 (audited); a funder that
only reads it shared gets 403 on every change. The OF sees its own controls once the
report is issued, read only (its answers to the non-conformities are in `corrective`).

Each grid row is its own form: saved with HTMX, the row comes back alone
(`quality/_finding_row.html`); without JavaScript the form posts and the browser is sent
back (303) to the row's anchor. A row or control changed meanwhile (its version) is not
overwritten: the user is told in French (409 under HTMX).
"""

from __future__ import annotations

import tempfile
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from portal import audit, clock, confirmation, formatting, rnq
from portal.access import (
    can_answer_quality_control,
    can_edit_quality_control,
    can_view_dossier,
    deny,
    get_provider_or_404,
    get_quality_control_or_404,
    roles_required,
    withheld_quality_evidence,
)
from portal.blueprints.quality import bp
from portal.blueprints.quality.forms import (
    EvidencePiecesForm,
    EvidenceUploadForm,
    FindingForm,
    PlanForm,
    ShareForm,
    VersionForm,
)
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.forms import EmptyForm, choices
from portal.models import (
    QualityControl,
    QualityControlStatus,
    QualityEvidence,
    QualityFinding,
    Role,
    User,
)
from portal.packs import stream_pack
from portal.pagination import page_from
from portal.quality import controls, report, rules
from portal.quality import signalement as drafting
from portal.rendering import render_page, wants_fragment
from portal.routing import database_id
from portal.storage import storage_for
from portal.uploads import (
    UploadsRefused,
    max_files_per_upload,
    max_size_label,
    max_upload_bytes,
    send_stored,
    store_all,
)
from portal.web import actor as current_actor

FUNDER_SIDE = (Role.FUNDER_ADMIN, Role.CONTROLLER)
VIEWERS = (*FUNDER_SIDE, Role.PROVIDER)


def _common() -> dict[str, Any]:
    return {
        **controls.labels(),
        "today": clock.today(),
        "minors_per_major": controls.minors_per_major(),
        "rnq_source": rnq.SOURCE,
        "rnq_version": rnq.VERSION,
        "code_label": rnq.code_label,
        "code_title": rnq.code_title,
        "code_is_major_only": rnq.code_is_major_only,
        "nonconformities": [v.value for v in rules.NONCONFORMITIES],
        "max_file_label": max_size_label(max_upload_bytes()),
    }


# --- The list ------------------------------------------------------------------------------------


@bp.get("/")
@roles_required(*VIEWERS)
def index() -> Response | str:
    actor = current_actor()
    if actor.role == Role.PROVIDER:
        # The OF has its own space (engineer B's `provider_index`); shown here too, so that
        # the section's address works for every role it is offered to.
        provider_space = current_app.view_functions.get("quality.provider_index")
        if provider_space is None:
            abort(404)
        return provider_space()
    filters = controls.Filters.from_args(request.args)
    page = controls.list_controls(actor, filters, clock.today(), page=page_from(request.args))
    return render_page(
        "quality/index.html",
        block="results",
        page=page,
        filters=filters,
        args=filters.as_args(),
        providers=controls.followed_providers(actor),
        **_common(),
    )


# --- Planning ------------------------------------------------------------------------------------


def _plan_choices(form: PlanForm, actor: User, control: QualityControl | None) -> list:
    providers = controls.followed_providers(actor)
    form.provider.choices = choices(
        [("", "— Choisir un organisme —"), *((p.id, f"{p.name} (NDA {p.nda})") for p in providers)]
    )
    provider_id = control.provider_id if control is not None else form.provider.data
    dossiers = controls.dossier_choices(actor, provider_id)
    form.dossiers.choices = choices(
        (
            d.id,
            f"{d.reference} — {d.action_title} ({formatting.period(d.start_date, d.end_date)})",
        )
        for d in dossiers
    )
    lead = control.funder_id if control is not None else actor.funder_id
    form.partners.choices = choices((f.id, f.name) for f in controls.partner_choices(actor, lead))
    return dossiers


def _plan_page(form: PlanForm, control: QualityControl | None, status: int = 200) -> Response:
    response = render_page(
        "quality/plan.html",
        block="sampled",
        form=form,
        control=control,
        general=getattr(form, "general_error", None),
        **_common(),
    )
    response.status_code = status
    return response


@bp.route("/nouveau", methods=["GET", "POST"])
@roles_required(*FUNDER_SIDE)
def new() -> Response:
    actor = current_actor()
    if request.method == "GET":
        provider_arg = request.args.get("provider", "")
        data: dict[str, Any] = {"control_date": clock.today()}
        if provider_arg:
            provider_id = database_id(provider_arg)
            if provider_id is None:
                abort(404)
            provider = get_provider_or_404(provider_id, actor)
            data["provider"] = provider.id
        form = PlanForm(formdata=None, data=data)
        _plan_choices(form, actor, None)
        return _plan_page(form, None)
    form = PlanForm()
    _plan_choices(form, actor, None)
    if request.form.get("action") == "dossiers":  # no JavaScript: show the OF's dossiers
        form.dossiers.data = [d for d in (form.dossiers.data or []) if d]
        return _plan_page(form, None)
    if form.validate_on_submit():
        try:
            control = controls.create_control(actor, form.data_for_service())
        except Refused as refused:
            form.add_errors(refused.errors)
            form.general_error = refused.general  # type: ignore[attr-defined]
        else:
            flash(
                f"Contrôle planifié : la grille compte {len(control.findings)} indicateurs.",
                "success",
            )
            return redirect(url_for("quality.control", control_id=control.id), code=303)
    return _plan_page(form, None)


@bp.route("/controles/<int:control_id>/modifier", methods=["GET", "POST"])
@roles_required(*FUNDER_SIDE)
def edit(control_id: int) -> Response:
    actor = current_actor()
    control = get_quality_control_or_404(control_id, actor, need="edit")
    if request.method == "GET":
        form = PlanForm(formdata=None, data=controls.plan_values(control))
        form.version.show(control.version)
        _plan_choices(form, actor, control)
        if control.status != QualityControlStatus.PLANNED.value:
            form.general_error = controls.FIXED  # type: ignore[attr-defined]
        return _plan_page(form, control)
    form = PlanForm()
    _plan_choices(form, actor, control)
    form.provider.data = control.provider_id
    if not form.validate_on_submit():
        return _plan_page(form, control)
    try:
        controls.update_control(actor, control, form.data_for_service(), form.version.expected)
    except Refused as refused:
        control = get_quality_control_or_404(control_id, actor, need="edit")
        form.add_errors(refused.errors)
        form.general_error = refused.general  # type: ignore[attr-defined]
        return _plan_page(form, control)
    except Stale:
        control = get_quality_control_or_404(control_id, actor, need="edit")
        db.session.refresh(control)
        form = PlanForm(formdata=None, data=controls.plan_values(control))
        form.version.show(control.version)
        _plan_choices(form, actor, control)
        form.general_error = controls.CONFLICT  # type: ignore[attr-defined]
        return _plan_page(form, control, 409)
    flash("Contrôle modifié.", "success")
    return redirect(url_for("quality.control", control_id=control_id), code=303)


# --- The control page ----------------------------------------------------------------------------


def _page_context(control: QualityControl, actor: User) -> dict[str, Any]:
    can_edit = can_edit_quality_control(actor, control)
    editable = can_edit and control.status == QualityControlStatus.PLANNED.value
    controls.preload_grid(control)
    result = controls.control_result(control)
    return {
        "control": control,
        "withheld": withheld_quality_evidence(actor, control),
        "groups": controls.grid_groups(control),
        "result": result,
        # The offer to draft a signalement (`_signalement_offer.html`), for its editors.
        "signalement_offer": drafting.offer(actor, control, result) if can_edit else None,
        "can_edit": can_edit,
        "editable": editable,
        "can_answer": can_answer_quality_control(actor, control),
        "pieces": controls.piece_choices(actor, control) if editable else [],
        "dossier_visible": {d.id: can_view_dossier(actor, d) for d in control.dossiers},
        "open_rows": controls.rows_awaiting(control, provider_side=actor.role == Role.PROVIDER),
        "row_errors": {},
        "row_posted": {},
        "row_message": {},
        **_common(),
    }


@bp.get("/controles/<int:control_id>")
@roles_required(*VIEWERS)
def control(control_id: int) -> str:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor)
    return render_template("quality/control.html", **_page_context(item, actor))


def _row_url(control_id: int, code: str) -> str:
    return url_for("quality.control", control_id=control_id) + f"#indicateur-{code}"


def _row_answer(
    control_id: int,
    code: str,
    *,
    errors: dict[str, list[str]] | None = None,
    posted: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
    keep_open: bool = True,
) -> Response:
    """The row alone (HTMX) or the whole page (no JavaScript), after a refusal or a
    conflict; a success without JavaScript is a 303 to the row instead. `keep_open`: the
    row stays open (its evidence changed); a finding saved closes it, the next one waits."""
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need="edit")
    db.session.refresh(item)
    row = controls.get_row(item, code)
    if row is None:
        abort(404)
    context = _page_context(item, actor)
    context["row_errors"] = {code: errors or {}}
    context["row_posted"] = {code: posted} if posted else {}
    context["row_message"] = {code: message} if message else {}
    if keep_open:
        context["open_rows"] = {*context["open_rows"], code}
    if wants_fragment():
        body = render_template("quality/_finding_row.html", finding=row, **context)
        body += render_template("quality/_result.html", oob=True, **context)
        body += render_template("quality/_progress.html", oob=True, **context)
    else:
        body = render_template("quality/control.html", **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    if status == 409 and wants_fragment():
        # htmx does not swap a 409: the page reloads, showing what is saved and why.
        for message in (errors or {}).get("general", []):
            flash(message, "warning")
        response.headers["HX-Refresh"] = "true"
    return response


def _row_saved(control_id: int, code: str, message: str, *, keep_open: bool = True) -> Response:
    if wants_fragment():
        return _row_answer(control_id, code, message=message, keep_open=keep_open)
    flash(message, "success")
    return redirect(_row_url(control_id, code), code=303)


def _load_row(control_id: int, code: str) -> tuple[QualityControl, QualityFinding]:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need="edit")
    row = controls.get_row(item, code)
    if row is None:
        abort(404)
    return item, row


@bp.post("/controles/<int:control_id>/indicateurs/<code>")
@roles_required(*FUNDER_SIDE)
def finding(control_id: int, code: str) -> Response:
    actor = current_actor()
    item, row = _load_row(control_id, code)
    form = FindingForm(prefix=f"ind{code}")
    if not form.validate_on_submit():
        abort(400)
    posted = {
        "finding": form.finding.data or "",
        "not_applicable_reason": form.not_applicable_reason.data or "",
        "observations": form.observations.data or "",
    }
    try:
        controls.record_finding(
            actor,
            item,
            row,
            finding=form.finding.data,
            not_applicable_reason=form.not_applicable_reason.data or "",
            observations=form.observations.data or "",
            expected_version=form.version.expected,
        )
    except Refused as refused:
        errors = dict(refused.errors)
        if refused.general:
            errors["general"] = [refused.general]
        return _row_answer(control_id, code, errors=errors, posted=posted)
    except Stale:
        return _row_answer(
            control_id, code, errors={"general": [controls.FINDING_CONFLICT]}, status=409
        )
    label = rules.FINDING_LABELS[rules.Finding(row.finding)] if row.finding else "à renseigner"
    message = f"{rnq.code_label(code)} : constat enregistré ({label.lower()})."
    if row.deadline:
        message += f" Échéance de l'action corrective : {formatting.date_fr(row.deadline)}."
    return _row_saved(control_id, code, message, keep_open=False)


# --- « Conforme » for a criterion, « tout conforme sauf… » ----------------------------------


@bp.post("/controles/<int:control_id>/conformes")
@roles_required(*FUNDER_SIDE)
def conforming(control_id: int) -> Response:
    """« Conforme » for the rows still to fill of a criterion (`portee`) or of the whole
    grid, but those ticked (`sauf`). A first post shows what would be recorded and asks for
    confirmation (with or without JavaScript); the confirmed post records it."""
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need="edit")
    if not EmptyForm().validate_on_submit():
        abort(400)
    controls.preload_grid(item)
    scope = request.form.get("portee", "")
    if scope and scope not in {g.key for g in controls.grid_groups(item)}:
        abort(404)
    excepted = request.form.getlist("sauf")
    plan = controls.conforming_plan(item, scope, excepted)
    if request.form.get("confirme") != "1":
        group = next((g for g in controls.grid_groups(item) if g.key == scope), None)
        return render_page(
            "quality/conforming_confirm.html",
            control=item,
            plan=plan,
            scope=scope,
            scope_title=group.title if group else "",
            excepted=excepted,
            **_common(),
        )
    try:
        count = controls.record_conforming(actor, item, plan, scope=scope)
    except Refused as refused:
        flash(refused.general or "Les constats n'ont pas été enregistrés.", "error")
        return redirect(url_for("quality.control", control_id=control_id), code=303)
    flash(
        f"{count} indicateur{'s' if count > 1 else ''} enregistré{'s' if count > 1 else ''} "
        "« Conforme ».",
        "success",
    )
    return redirect(
        url_for("quality.control", control_id=control_id, _anchor="titre-grille"), code=303
    )


@bp.post("/controles/<int:control_id>/indicateurs/<code>/fichiers")
@roles_required(*FUNDER_SIDE)
def evidence_upload(control_id: int, code: str) -> Response:
    actor = current_actor()
    item, row = _load_row(control_id, code)
    form = EvidenceUploadForm(prefix=f"ev{code}")
    if not form.validate_on_submit():
        abort(400)
    files = [f for f in (form.files.data or []) if f is not None and (f.filename or "")]
    if not files:
        return _row_answer(
            control_id,
            code,
            errors={"files": ["Choisissez au moins un fichier (PDF, JPEG ou PNG)."]},
        )
    if len(files) > max_files_per_upload():
        return _row_answer(
            control_id,
            code,
            errors={"files": [f"Au plus {max_files_per_upload()} fichiers par envoi."]},
        )
    if item.status != QualityControlStatus.PLANNED.value:
        return _row_answer(control_id, code, errors={"general": [controls.FIXED]})
    storage = storage_for(current_app)
    try:
        stored = store_all(storage, files, max_bytes=max_upload_bytes())
    except UploadsRefused as refused:
        audit.record(
            "quality_evidence.upload_refused",
            actor=actor,
            target=row,
            funder_id=item.funder_id,
            details={"control_id": item.id, "refused": refused.refused},
        )
        return _row_answer(control_id, code, errors={"files": refused.messages})
    try:
        controls.add_evidence_files(actor, item, row, stored)
    except Refused as refused:  # the unit of work deletes the stored files
        return _row_answer(control_id, code, errors={"general": refused.messages})
    count = len(stored)
    return _row_saved(
        control_id,
        code,
        f"{rnq.code_label(code)} : {count} fichier{'s' if count > 1 else ''} de preuve "
        f"ajouté{'s' if count > 1 else ''}.",
    )


@bp.post("/controles/<int:control_id>/indicateurs/<code>/pieces")
@roles_required(*FUNDER_SIDE)
def evidence_pieces(control_id: int, code: str) -> Response:
    actor = current_actor()
    item, row = _load_row(control_id, code)
    form = EvidencePiecesForm(prefix=f"pc{code}")
    if not form.validate_on_submit():
        abort(400)
    try:
        added = controls.add_evidence_pieces(actor, item, row, form.pieces.data or [])
    except Refused as refused:
        errors = dict(refused.errors)
        if refused.general:
            errors["general"] = [refused.general]
        return _row_answer(control_id, code, errors=errors)
    count = len(added)
    message = (
        f"{rnq.code_label(code)} : {count} pièce{'s' if count > 1 else ''} "
        f"jointe{'s' if count > 1 else ''} comme preuve."
        if count
        else f"{rnq.code_label(code)} : ces pièces étaient déjà jointes."
    )
    return _row_saved(control_id, code, message)


def _load_evidence(
    control_id: int, evidence_id: int, need: str
) -> tuple[QualityControl, QualityEvidence]:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need=need)
    evidence = db.session.get(QualityEvidence, evidence_id)
    if evidence is None or evidence.finding.control_id != item.id:
        abort(404)
    if evidence.id in withheld_quality_evidence(actor, item):
        deny(actor, "pièce d'un dossier hors périmètre", status=404, evidence_id=evidence_id)
    return item, evidence


@bp.post("/controles/<int:control_id>/preuves/<int:evidence_id>/retirer")
@roles_required(*FUNDER_SIDE)
def evidence_remove(control_id: int, evidence_id: int) -> Response:
    actor = current_actor()
    item, evidence = _load_evidence(control_id, evidence_id, "edit")
    if not VersionForm().validate_on_submit():
        abort(400)
    code = evidence.finding.code
    title = evidence.title
    try:
        controls.remove_evidence(actor, item, evidence)
    except Refused as refused:
        return _row_answer(control_id, code, errors={"general": refused.messages})
    return _row_saved(control_id, code, f"Preuve « {title} » retirée.")


@bp.get("/controles/<int:control_id>/preuves/<int:evidence_id>")
@roles_required(*VIEWERS)
def evidence_file(control_id: int, evidence_id: int) -> Response:
    actor = current_actor()
    item, evidence = _load_evidence(control_id, evidence_id, "view")
    document = controls.evidence_document(evidence)
    if document is None:
        abort(404)
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    controls.record_download(actor, item, evidence)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


# --- Report, sharing -----------------------------------------------------------------------------


@bp.post("/controles/<int:control_id>/rapport/emettre")
@roles_required(*FUNDER_SIDE)
def issue(control_id: int) -> Response:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need="edit")
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    if not confirmation.confirmed():
        return confirmation.ask(
            "Confirmer l'émission du rapport",
            [
                f"Contrôle qualité de {item.provider.name}.",
                "Une fois le rapport émis, les constats sont figés et les utilisateurs de "
                "l'organisme sont prévenus par courriel : il répond alors à chaque "
                "non-conformité dans son espace.",
            ],
            "émettre le rapport",
            url_for("quality.control", control_id=control_id, _anchor="resultat"),
        )
    try:
        recipients = controls.issue_report(actor, item, form.version.expected)
    except Refused as refused:
        for message in refused.messages:
            flash(message, "error")
        return redirect(url_for("quality.control", control_id=control_id) + "#resultat", code=303)
    except Stale:
        flash(controls.CONFLICT, "error")
        return redirect(url_for("quality.control", control_id=control_id) + "#resultat", code=303)
    controls.mail_report(item, recipients)
    count = len(recipients)
    flash(
        "Rapport émis : les constats sont désormais figés. "
        + (
            f"{count} utilisateur{'s' if count > 1 else ''} de l'organisme "
            f"{'ont' if count > 1 else 'a'} été prévenu{'s' if count > 1 else ''} par courriel."
            if count
            else "L'organisme n'a aucun compte actif sur le portail : prévenez-le autrement."
        ),
        "success",
    )
    return redirect(url_for("quality.control", control_id=control_id), code=303)


@bp.post("/controles/<int:control_id>/partage")
@roles_required(*FUNDER_SIDE)
def share(control_id: int) -> Response:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor, need="edit")
    form = ShareForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        controls.set_shared(actor, item, bool(form.shared.data), form.version.expected)
    except Stale:
        flash(controls.CONFLICT, "error")
    else:
        flash(
            "Contrôle partagé en lecture avec les autres financeurs de l'organisme."
            if item.shared
            else "Ce contrôle n'est plus partagé avec les autres financeurs.",
            "success",
        )
    return redirect(url_for("quality.control", control_id=control_id), code=303)


@bp.get("/controles/<int:control_id>/rapport")
@roles_required(*VIEWERS)
def report_page(control_id: int) -> str:
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor)
    audit.record(
        "quality_control.report_viewed", actor=actor, target=item, funder_id=item.funder_id
    )
    return report.render(item, viewer=actor)


@bp.get("/controles/<int:control_id>/rapport.zip")
@roles_required(*VIEWERS)
def report_pack(control_id: int) -> Response:
    """The report with every evidence file and the files of the corrective actions, and the
    manifest of their SHA-256 sums (which the audit event keeps too)."""
    actor = current_actor()
    item = get_quality_control_or_404(control_id, actor)
    files, missing = report.pack_files(item, storage_for(current_app), viewer=actor)
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    entries: list = []
    for chunk in stream_pack(files, missing=missing, entries=entries):
        spool.write(chunk)
    spool.seek(0)
    audit.record(
        "quality_control.pack_downloaded",
        actor=actor,
        target=item,
        funder_id=item.funder_id,
        details={
            "files": [{"path": e.path, "sha256": e.sha256, "size": e.size} for e in entries],
            "missing": missing,
        },
    )
    response = send_file(
        spool, mimetype="application/zip", as_attachment=True, download_name=report.filename(item)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
