"""Routes of the certification follow-up.

- The OF (``/certification/`` for an OF user): its certificates (certifier, categories,
  dates, file), the dates of its audits, the deadlines of its current certificate and the
  comparison of its categories with the public list in force.
- The funder's staff: the OF their funder follows with their current certificate, next
  deadline and any mismatch; their open dossiers whose OF's certificate ends before the end
  of the training (or with no certificate recorded); each OF's page.
- The audit-duration calculator, for every logged-in user.

Every object is loaded with an access check: another OF's certificate, or an OF the funder
does not follow, answers 404 (audited).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import clock
from portal.access import (
    ALL_ROLES,
    can_view_certificate,
    can_view_provider,
    deny,
    get_provider_or_404,
    roles_required,
)
from portal.blueprints.certification import bp
from portal.blueprints.certification.forms import AuditForm, CalculatorForm, CertificateForm
from portal.certification import rules, services
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import Certificate, CertificationAudit, Provider, Role, User
from portal.pagination import MAX_PAGE
from portal.rendering import render_page
from portal.routing import bounded_int
from portal.storage import storage_for
from portal.uploads import max_size_label, max_upload_bytes, send_stored
from portal.web import actor as current_actor

FUNDER_SIDE = (Role.FUNDER_ADMIN, Role.CONTROLLER)
VIEWERS = (Role.PROVIDER, *FUNDER_SIDE)
STALE = (
    "Ce certificat a été modifié entre-temps (dans une autre fenêtre ?). Voici sa version "
    "actuelle : reportez vos changements."
)


def _page_arg(name: str = "page") -> int:
    return bounded_int(request.args.get(name), 1, high=MAX_PAGE)


def _common() -> dict[str, Any]:
    return {
        "today": clock.today(),
        "category_labels": {c.value: label for c, label in services.CATEGORY_LABELS.items()},
        "state_labels": rules.DEADLINE_STATE_LABELS,
        "audit_kind_label": services.audit_kind_label,
        "categories_text": services.categories_text,
    }


def _certificate_or_404(certificate_id: int, actor: User, need: str = "view") -> Certificate:
    """The certificate if `actor` may `need` ("view", or "edit" for its OF) it; otherwise
    404, audited (403 when they may see it but not change it)."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        abort(404)
    may_view = (
        actor.role in VIEWERS
        and can_view_provider(actor, certificate.provider)
        and can_view_certificate(actor, certificate.provider_id)
    )
    may_edit = actor.role == Role.PROVIDER and certificate.provider_id == actor.provider_id
    if not (may_edit if need == "edit" else may_view):
        if may_view:
            deny(actor, f"certificat : droit « {need} » refusé", certificate_id=certificate_id)
        deny(actor, "certificat hors périmètre", status=404, certificate_id=certificate_id)
    return certificate


# --- Home of the section ---------------------------------------------------------------------


@bp.get("/")
@roles_required(*VIEWERS)
def index() -> Response | str:
    actor = current_actor()
    if actor.role == Role.PROVIDER:
        own = db.session.get(Provider, actor.provider_id)
        if own is None:
            abort(404)
        return _provider_space(own)
    today = clock.today()
    return render_page(
        "certification/funder_index.html",
        block=_block(),
        providers=services.provider_statuses(actor, today, _page_arg("page")),
        at_risk=services.dossiers_at_risk(actor, _page_arg("page_dossiers")),
        page_args={"page": _page_arg("page"), "page_dossiers": _page_arg("page_dossiers")},
        **_common(),
    )


def _block() -> str | None:
    """The list an HTMX pager swaps: the OF or the dossiers."""
    target = request.headers.get("HX-Target", "")
    return {"organismes": "providers_list", "dossiers-a-risque": "at_risk_list"}.get(target)


def _provider_space(
    provider: Provider, audit_form: AuditForm | None = None, form_for: int | None = None
) -> str:
    today = clock.today()
    return render_template(
        "certification/mine.html",
        status=services.status_of(provider, today),
        audit_form=audit_form,
        audit_form_for=form_for,
        blank_audit_form=AuditForm(formdata=None),
        action_form=EmptyForm(),
        **_common(),
    )


@bp.get("/organismes/<int:provider_id>")
@roles_required(*FUNDER_SIDE)
def provider(provider_id: int) -> str:
    actor = current_actor()
    target = get_provider_or_404(provider_id, actor)
    today = clock.today()
    return render_template(
        "certification/provider.html",
        status=services.status_of(target, today, viewer=actor),
        at_risk=services.dossiers_at_risk(actor, 1, per_page=100, provider_id=target.id),
        **_common(),
    )


# --- Recording a certificate --------------------------------------------------------------------


def _form_page(form: CertificateForm, certificate: Certificate | None, status: int = 200):
    return (
        render_template(
            "certification/certificate_form.html",
            form=form,
            certificate=certificate,
            max_file_label=max_size_label(max_upload_bytes()),
            **_common(),
        ),
        status,
    )


@bp.route("/certificats/nouveau", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def new_certificate() -> Response | tuple[str, int]:
    actor = current_actor()
    form = CertificateForm()
    form.set_certifiers(services.certifiers())
    if form.validate_on_submit():
        try:
            services.save_certificate(actor, form.raw(), form.uploaded())
        except Refused as invalid:
            services.record_refusal(actor, None, invalid)
            form.add_errors(invalid.errors)
        except NotAllowed:
            abort(404)
        else:
            flash("Certificat enregistré.", "success")
            return redirect(url_for("certification.index") + "#certificats", code=303)
    return _form_page(form, None)


@bp.route("/certificats/<int:certificate_id>/modifier", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def edit_certificate(certificate_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    certificate = _certificate_or_404(certificate_id, actor, need="edit")
    if request.method == "GET":
        form = CertificateForm(formdata=None, data=services.form_values(certificate))
        form.set_certifiers(services.certifiers())
        form.version.show(certificate.version)
        return _form_page(form, certificate)
    form = CertificateForm()
    form.set_certifiers(services.certifiers())
    if not form.validate_on_submit():
        return _form_page(form, certificate)
    try:
        services.save_certificate(
            actor,
            form.raw(),
            form.uploaded(),
            certificate=certificate,
            expected_version=form.version.expected,
        )
    except Refused as invalid:
        services.record_refusal(actor, certificate, invalid)
        form.add_errors(invalid.errors)
        return _form_page(form, _certificate_or_404(certificate_id, actor, need="edit"))
    except Stale:
        certificate = _certificate_or_404(certificate_id, actor, need="edit")
        db.session.refresh(certificate)
        form = CertificateForm(formdata=None, data=services.form_values(certificate))
        form.set_certifiers(services.certifiers())
        form.version.show(certificate.version)
        flash(STALE, "error")
        return _form_page(form, certificate, 409)
    flash("Certificat enregistré.", "success")
    return redirect(url_for("certification.index") + f"#certificat-{certificate_id}", code=303)


@bp.get("/certificats/<int:certificate_id>/fichier")
@roles_required(*VIEWERS)
def download(certificate_id: int) -> Response:
    actor = current_actor()
    certificate = _certificate_or_404(certificate_id, actor)
    document = certificate.document
    if document is None:
        abort(404)
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    services.record_download(actor, certificate)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


# --- Audits ------------------------------------------------------------------------------------


@bp.post("/certificats/<int:certificate_id>/audits")
@roles_required(Role.PROVIDER)
def add_audit(certificate_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    certificate = _certificate_or_404(certificate_id, actor, need="edit")
    form = AuditForm()
    if form.validate_on_submit():
        try:
            services.add_audit(actor, certificate, form.raw())
        except Refused as invalid:
            form.add_errors(invalid.errors)
        else:
            flash("Audit enregistré.", "success")
            return redirect(
                url_for("certification.index") + f"#certificat-{certificate_id}", code=303
            )
    provider = db.session.get(Provider, actor.provider_id)
    return _provider_space(provider, form, certificate_id), 200


@bp.post("/audits/<int:audit_id>/supprimer")
@roles_required(Role.PROVIDER)
def delete_audit(audit_id: int) -> Response:
    actor = current_actor()
    row = db.session.get(CertificationAudit, audit_id)
    if row is None:
        abort(404)
    _certificate_or_404(row.certificate_id, actor, need="edit")
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.delete_audit(actor, row)
    flash("Audit supprimé.", "success")
    return redirect(url_for("certification.index") + f"#certificat-{row.certificate_id}", code=303)


# --- The calculator ----------------------------------------------------------------------------


@bp.get("/duree-audit")
@roles_required(*ALL_ROLES)
def audit_duration() -> Response:
    form = CalculatorForm(formdata=request.args if request.args else None)
    submitted = bool(request.args)
    entry, errors = services.read_calculator(form.raw())
    duration, missing = services.calculate(entry) if submitted else (None, {})
    for name, messages in {**missing, **errors}.items():
        form[name].errors = [*form[name].errors, *messages]
    return render_page(
        "certification/calculator.html",
        block="result",
        form=form,
        submitted=submitted,
        entry=entry,
        duration=duration,
        band_labels=rules.TURNOVER_BAND_LABELS,
        kind_labels=rules.AUDIT_KIND_LABELS,
        fr_days=services.fr_days,
        **_common(),
    )
