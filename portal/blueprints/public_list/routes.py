"""Routes of the Qualiopi section."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from portal import audit, clock
from portal.access import deny, providers_scope, roles_required
from portal.blueprints.public_list import bp
from portal.blueprints.public_list.forms import SearchForm
from portal.clock import utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.identifiers import InvalidIdentifier, classify
from portal.models import ListChange, ListImport, Provider, QualiopiAlert, Role
from portal.navigation import section
from portal.pagination import page_from
from portal.public_list import lookup
from portal.public_list.history import (
    CATEGORY_LABELS,
    CHANGE_LABELS,
    activity_signals,
    certification_intervals,
    is_stale,
)
from portal.public_list.importer import list_in_force, troubled_condition
from portal.rendering import render_page

SECTION = section("public_list")
FUNDER_SIDE = (Role.FUNDER_ADMIN, Role.CONTROLLER)
IMPORT_VIEWERS = (Role.ADMIN, Role.FUNDER_ADMIN)
PER_PAGE = 50
#: `?etat=non_vue`: the alerts nobody acknowledged; `?etat=probleme`: the imports refused,
#: failed or interrupted (the home pages link to both).
ALERTS_UNSEEN_ARG, ALERTS_UNSEEN = "etat", "non_vue"
IMPORTS_TROUBLE_ARG, IMPORTS_TROUBLE = "etat", "probleme"


@bp.app_template_filter("category_label")
def category_label(key: str) -> str:
    return CATEGORY_LABELS.get(key, key)


@bp.app_template_filter("change_label")
def change_label(kind: str) -> str:
    return CHANGE_LABELS.get(kind, kind)


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> Response:
    form = SearchForm(request.args)
    form.validate()
    on = form.on.data if not form.on.errors and form.on.data else clock.today()
    in_force = list_in_force(on)
    query = (form.q.data or "").strip()
    results: list[lookup.Match] = []
    message = None
    non_declaring = False
    if query:
        try:
            ident = classify(query)
        except InvalidIdentifier as error:
            ident = None
            if query.replace(" ", "").isdigit() and len(query.replace(" ", "")) in (9, 11, 14):
                message = str(error)
        if ident is not None:
            checked = lookup.check(ident, on, query=query)
            results, non_declaring = checked.matches, checked.non_declaring
        elif message is None:
            results = lookup.search(query, on)
    return render_page(
        "public_list/index.html",
        block="results",
        section=SECTION,
        form=form,
        query=query,
        on=on,
        in_force=in_force,
        stale=is_stale(in_force.as_of if in_force else None, clock.today()),
        results=results,
        message=message,
        non_declaring=non_declaring,
        non_declaring_label=lookup.NON_DECLARING,
    )


@bp.get("/organismes/<nda>")
@roles_required(*SECTION.roles)
def provider(nda: str) -> str:
    versions = lookup.history(nda)
    if not versions:
        abort(404)
    current = versions[-1]
    changes = db.session.execute(
        select(ListChange, ListImport)
        .join(ListImport, ListImport.id == ListChange.import_id)
        .where(ListChange.nda == nda)
        .order_by(ListImport.as_of.desc(), ListChange.id)
    ).all()
    followed = db.session.scalar(providers_scope(current_user).where(Provider.nda == nda))
    return render_template(
        "public_list/provider.html",
        nda=nda,
        versions=versions,
        current=current,
        in_force=current.valid_to is None,
        intervals=certification_intervals(versions),
        activity_signals=activity_signals(
            current.nb_stagiaires, current.nb_stagiaires_confies, current.effectif_formateurs
        ),
        changes=changes,
        followed=followed,
    )


@bp.get("/imports")
@roles_required(*IMPORT_VIEWERS)
def imports() -> str:
    troubled = request.args.get(IMPORTS_TROUBLE_ARG) == IMPORTS_TROUBLE
    query = select(ListImport)
    if troubled:
        query = query.where(troubled_condition())
    page = db.paginate(
        query.order_by(ListImport.id.desc()),
        page=page_from(request.args),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "public_list/imports.html", page=page, troubled=troubled, args=_trouble_args(troubled)
    )


def _trouble_args(troubled: bool) -> dict[str, str]:
    return {IMPORTS_TROUBLE_ARG: IMPORTS_TROUBLE} if troubled else {}


@bp.get("/imports/<int:import_id>")
@roles_required(*IMPORT_VIEWERS)
def import_detail(import_id: int) -> Response:
    run = db.session.get(ListImport, import_id)
    if run is None:
        abort(404)
    kind = request.args.get("type", "")
    query = select(ListChange).where(ListChange.import_id == run.id)
    if kind in CHANGE_LABELS:
        query = query.where(ListChange.kind == kind)
    counts = dict(
        db.session.execute(
            select(ListChange.kind, func.count())
            .where(ListChange.import_id == run.id)
            .group_by(ListChange.kind)
        ).all()
    )
    page = db.paginate(
        query.order_by(ListChange.nda, ListChange.id),
        page=page_from(request.args),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_page(
        "public_list/import_detail.html",
        block="changes",
        run=run,
        page=page,
        kind=kind,
        counts=counts,
    )


@bp.get("/alertes")
@roles_required(*FUNDER_SIDE)
def alerts() -> str:
    unseen = request.args.get(ALERTS_UNSEEN_ARG) == ALERTS_UNSEEN
    query = select(QualiopiAlert).where(QualiopiAlert.funder_id == current_user.funder_id)
    if unseen:
        query = query.where(QualiopiAlert.acknowledged_at.is_(None))
    rows = db.session.scalars(
        query.order_by(QualiopiAlert.acknowledged_at.is_not(None), QualiopiAlert.id.desc())
        .options(
            joinedload(QualiopiAlert.provider),
            joinedload(QualiopiAlert.acknowledged_by),
            selectinload(QualiopiAlert.dossiers),
        )
        .limit(500)
    ).all()
    return render_template("public_list/alerts.html", alerts=rows, form=EmptyForm(), unseen=unseen)


@bp.post("/alertes/<int:alert_id>/vue")
@roles_required(*FUNDER_SIDE)
def acknowledge(alert_id: int) -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    alert = db.session.get(QualiopiAlert, alert_id)
    if alert is None:
        abort(404)
    if alert.funder_id != current_user.funder_id:
        deny(current_user._get_current_object(), "alerte d'un autre financeur", status=404)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by_id = current_user.id
        audit.record(
            "qualiopi.alert_acknowledged",
            actor=current_user._get_current_object(),
            target=alert,
            funder_id=alert.funder_id,
        )
        flash("Alerte marquée comme vue.", "success")
    return redirect(url_for("public_list.alerts"), code=303)
