"""Routes of the administration pages."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from portal import audit_labels
from portal.access import (
    can_manage_user,
    can_verify_audit_chain,
    can_view_audit_log,
    deny,
    invitable_roles,
    manageable_users,
    providers_scope,
    roles_required,
    users_scope,
)
from portal.audit import verify_chain
from portal.blueprints.admin import bp, services
from portal.blueprints.admin.forms import FunderForm, InviteForm, ListFilterForm, ProviderForm
from portal.errors import NotAllowed, Stale
from portal.extensions import db
from portal.forms import EmptyForm, choices
from portal.models import ROLE_LABELS, Funder, Role, User
from portal.pagination import page_from
from portal.rendering import render_page
from portal.web import actor as current_actor

ADMINS = (Role.ADMIN, Role.FUNDER_ADMIN)
PER_PAGE = 25


@bp.get("/")
@roles_required(*ADMINS)
def index() -> str:
    actor = current_actor()
    counts = {
        "users": db.session.scalar(select(func.count()).select_from(users_scope(actor).subquery())),
        "providers": db.session.scalar(
            select(func.count()).select_from(providers_scope(actor).subquery())
        ),
        "funders": db.session.scalar(select(func.count(Funder.id)))
        if actor.role == Role.ADMIN
        else None,
    }
    return render_template("admin/index.html", counts=counts, chain=None)


# --- Funders (platform admin) -----------------------------------------------------------


def _get_funder_or_404(funder_id: int) -> Funder:
    funder = db.session.get(Funder, funder_id)
    if funder is None:
        abort(404)
    return funder


@bp.get("/financeurs")
@roles_required(Role.ADMIN)
def funders() -> str:
    rows = db.session.execute(
        select(Funder, func.count(User.id))
        .outerjoin(User, User.funder_id == Funder.id)
        .group_by(Funder.id)
        .order_by(Funder.name)
    ).all()
    return render_template("admin/funders.html", rows=rows)


@bp.route("/financeurs/nouveau", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_funder() -> Response | str:
    form = FunderForm()
    if form.validate_on_submit():
        funder = services.create_funder(
            current_actor(),
            name=form.name.data,
            kind=form.kind.data,
            region_code=form.region_code.data,
            retention_years=form.retention_years.data or 3,
            retention_confirmed=bool(form.retention_confirmed.data),
        )
        flash(
            f"Financeur « {funder.name} » créé. Invitez maintenant son administrateur.", "success"
        )
        return redirect(url_for("admin.edit_funder", funder_id=funder.id), code=303)
    return render_template("admin/funder_form.html", form=form, funder=None)


@bp.route("/financeurs/<int:funder_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_funder(funder_id: int) -> Response | tuple[str, int] | str:
    funder = _get_funder_or_404(funder_id)
    form = FunderForm(funder=funder)
    status = 200
    if request.method == "GET":
        form.version.show(funder.version)
    elif form.validate_on_submit():
        try:
            services.update_funder(
                current_actor(),
                funder,
                expected_version=form.version.expected,
                name=form.name.data,
                kind=form.kind.data,
                region_code=form.region_code.data,
                retention_years=form.retention_years.data,
                retention_confirmed=bool(form.retention_confirmed.data),
            )
        except Stale:
            flash(
                "Ce financeur a été modifié par quelqu'un d'autre pendant votre saisie. "
                "Voici sa version actuelle : reportez vos changements.",
                "error",
            )
            db.session.refresh(funder)
            form = FunderForm(funder=funder, formdata=None)
            form.version.show(funder.version)
            status = 409
        else:
            flash("Financeur enregistré.", "success")
            return redirect(url_for("admin.edit_funder", funder_id=funder.id), code=303)
    staff = db.session.scalars(
        select(User).where(User.funder_id == funder.id).order_by(User.full_name)
    ).all()
    invite_admin_url = url_for("admin.invite", role=Role.FUNDER_ADMIN.value, funder_id=funder.id)
    return render_template(
        "admin/funder_form.html",
        form=form,
        funder=funder,
        staff=staff,
        invite_admin_url=invite_admin_url,
    ), status


# --- Users ----------------------------------------------------------------------------


def _get_managed_user_or_404(user_id: int) -> User:
    """The user, if the actor may manage them; 404 otherwise (and the refusal audited)."""
    actor = current_actor()
    target = db.session.get(User, user_id)
    if target is None:
        abort(404)
    if not can_manage_user(actor, target):
        deny(actor, "utilisateur hors périmètre", status=404, target_user_id=user_id)
    return target


@bp.get("/utilisateurs")
@roles_required(*ADMINS)
def users() -> Response:
    actor = current_actor()
    form = ListFilterForm(request.args)
    roles = (Role.ADMIN, Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER, Role.MINISTRY)
    if actor.role == Role.FUNDER_ADMIN:
        roles = (Role.FUNDER_ADMIN, Role.CONTROLLER, Role.PROVIDER)
    form.role.choices = choices([("", "Tous"), *((r.value, ROLE_LABELS[r]) for r in roles)])
    form.validate()
    filters = services.UserFilters(
        q=form.q.data or "",
        role=form.role.data if not form.role.errors else "",
        status=form.status.data if not form.status.errors else "",
    )
    page = db.paginate(
        services.list_users(actor, filters),
        page=page_from(request.args),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_page(
        "admin/users.html",
        block="results",
        form=form,
        page=page,
        filters=filters,
        args={
            k: v
            for k, v in {"q": filters.q, "role": filters.role, "status": filters.status}.items()
            if v
        },
        manageable=manageable_users(actor, page.items),
        action_form=EmptyForm(),
    )


@bp.route("/utilisateurs/inviter", methods=["GET", "POST"])
@roles_required(*ADMINS)
def invite() -> Response | str:
    actor = current_actor()
    funders = (
        db.session.scalars(select(Funder).order_by(Funder.name)).all()
        if actor.role == Role.ADMIN
        else []
    )
    providers = (
        [
            (p.id, f"{p.name} (NDA {p.nda})")
            for p in db.session.scalars(providers_scope(actor).order_by("name"))
        ]
        if actor.role == Role.FUNDER_ADMIN
        else []
    )
    form = InviteForm(
        roles=invitable_roles(actor),
        funders=funders,
        providers=providers,
        choose_funder=actor.role == Role.ADMIN,
    )
    if request.method == "GET" and request.args.get("role"):
        form.role.data = request.args["role"]
        form.funder_id.data = request.args.get("funder_id", 0, type=int)
    if form.validate_on_submit():
        try:
            user = services.invite_user(
                actor,
                email=form.email.data,
                full_name=form.full_name.data,
                role=Role(form.role.data),
                funder_id=form.funder_id.data or None,
                provider_id=form.provider_id.data or None,
                region_code=form.region_code.data or None,
            )
        except NotAllowed:
            deny(actor, "invitation hors périmètre", role=form.role.data)
        flash(f"Invitation envoyée à {user.email}.", "success")
        return redirect(url_for("admin.users"), code=303)
    return render_template("admin/invite.html", form=form)


def _user_action(user_id: int, action, done: str) -> Response:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    target = _get_managed_user_or_404(user_id)
    try:
        action(current_actor(), target)
    except NotAllowed:
        deny(current_actor(), "action impossible sur cet utilisateur", target_user_id=user_id)
    flash(done.format(email=target.email), "success")
    return redirect(
        request.referrer if _same_site(request.referrer) else url_for("admin.users"), code=303
    )


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.post("/utilisateurs/<int:user_id>/desactiver")
@roles_required(*ADMINS)
def deactivate(user_id: int) -> Response:
    return _user_action(
        user_id, services.deactivate_user, "Compte {email} désactivé ; ses sessions sont fermées."
    )


@bp.post("/utilisateurs/<int:user_id>/reactiver")
@roles_required(*ADMINS)
def reactivate(user_id: int) -> Response:
    return _user_action(user_id, services.reactivate_user, "Compte {email} réactivé.")


@bp.post("/utilisateurs/<int:user_id>/reinviter")
@roles_required(*ADMINS)
def reinvite(user_id: int) -> Response:
    return _user_action(
        user_id, services.resend_invitation, "Nouvelle invitation envoyée à {email}."
    )


# --- OF followed by the funder -----------------------------------------------------------


@bp.route("/organismes", methods=["GET", "POST"])
@roles_required(*ADMINS)
def providers() -> Response | str:
    actor = current_actor()
    form = ProviderForm()
    if actor.role == Role.FUNDER_ADMIN and form.validate_on_submit():
        outcome = services.follow_provider(
            actor, nda=form.nda.data, siret=form.siret.data, name=form.name.data
        )
        if outcome.already_followed:
            flash(f"{outcome.shown_name} est déjà suivi par votre financeur.", "info")
        else:
            flash(
                f"{outcome.shown_name} ajouté aux organismes suivis ; ses utilisateurs en sont "
                "prévenus par courriel.",
                "success",
            )
        return redirect(url_for("admin.providers"), code=303)
    rows = db.session.scalars(providers_scope(actor).order_by("name")).all()
    return render_template(
        "admin/providers.html",
        form=form,
        providers=rows,
        labels=services.funder_labels(actor),
    )


# --- Audit log (the platform admin's; a funder admin's funder trail) ---------------------


@bp.get("/journal")
@roles_required(*ADMINS)
def audit_log() -> Response:
    actor = current_actor()
    if not can_view_audit_log(actor):
        deny(actor, "journal d'audit")
    filters = services.AuditFilters.read(request.args)
    page = db.paginate(
        services.audit_events(actor, filters),
        page=page_from(request.args),
        per_page=50,
        error_out=False,
    )
    chain = (
        verify_chain() if request.args.get("verifier") and can_verify_audit_chain(actor) else None
    )
    return render_page(
        "admin/audit_log.html",
        block="results",
        page=page,
        chain=chain,
        filters=filters,
        args=filters.args(),
        actions=services.audit_actions(actor),
        objects=audit_labels.object_choices(),
        action_label=audit_labels.action_label,
        object_label=audit_labels.object_label,
        detail_lines=audit_labels.detail_lines,
        whole_log=actor.role == Role.ADMIN,
    )
