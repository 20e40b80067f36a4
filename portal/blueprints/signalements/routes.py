"""Routes of the signalements section: the blueprint, the list (the funder's signalements,
or the ministry's inbox with its filters and counts), its exports, the notices, a funder's
setting, and an OF's page for the ministry.

The other pages register on the same blueprint from their modules (imported by the
package): `drafts` (writing a signalement), `detail` (its page, its transitions, its
thread, its files and the transmission pack). No route here serves an OF: the section's
roles are the funder's staff and the ministry (`navigation.section("signalements")`).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import audit, clock, exports, rnq
from portal.access import roles_required
from portal.blueprints.signalements import bp
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import (
    SIGNALEMENT_STATE_LABELS,
    Provider,
    Role,
    SignalementState,
)
from portal.navigation import section
from portal.pagination import page_from
from portal.regions import region_choices
from portal.rendering import render_page
from portal.signalements import inbox
from portal.signalements import services as service
from portal.web import actor as current_actor

SECTION = section("signalements")
READERS = tuple(SECTION.roles)  # funder admins, controllers, the ministry
FUNDER_STAFF = (Role.FUNDER_ADMIN, Role.CONTROLLER)


@bp.app_template_filter("sig_state")
def state_label(state: str) -> str:
    return SIGNALEMENT_STATE_LABELS.get(SignalementState(state), state)


@bp.get("/")
@roles_required(*READERS)
def index() -> Response:
    actor = current_actor()
    filters = inbox.read_filters(request.args, actor)
    page = inbox.page(actor, filters, page_from(request.args))
    rows = list(page.items)
    return render_page(
        "signalements/index.html",
        block="results",
        section=SECTION,
        ministry=actor.role == Role.MINISTRY,
        filters=filters,
        args=filters.args(),
        page=page,
        rows=rows,
        counts=inbox.state_counts(actor, filters),
        states=inbox.visible_states(actor),
        several=inbox.several_funders(actor, [s.provider_id for s in rows]),
        stale_days=inbox.stale_days(),
        stale={s.id for s in rows if inbox.is_stale(s)},
        ages={s.id: inbox.age_days(s) for s in rows},
        funders=inbox.funder_choices(actor) if actor.role == Role.MINISTRY else [],
        regions=region_choices(),
        indicators=rnq.grouped(),
        unread=service.unread_count(actor),
    )


def _export(extension: str) -> Response:
    actor = current_actor()
    filters = inbox.read_filters(request.args, actor)
    rows = list(inbox.export_rows(actor, filters))
    if extension == "csv":
        body, content_type = exports.to_csv(inbox.EXPORT_COLUMNS, rows), exports.CSV_TYPE
    else:
        body = exports.to_xlsx(inbox.EXPORT_COLUMNS, rows, "Signalements")
        content_type = exports.XLSX_TYPE
    audit.record(
        "signalement.exported",
        actor=actor,
        funder_id=actor.funder_id,
        details={"format": extension, "filters": filters.args(), "count": len(rows)},
    )
    name = f"signalements-{clock.today():%Y-%m-%d}.{extension}"
    return exports.download(body, content_type, name)


@bp.get("/export.csv")
@roles_required(*READERS)
def export_csv() -> Response:
    return _export("csv")


@bp.get("/export.xlsx")
@roles_required(*READERS)
def export_xlsx() -> Response:
    return _export("xlsx")


# --- Notices ---------------------------------------------------------------------------------


@bp.get("/notifications")
@roles_required(*READERS)
def notifications() -> str:
    actor = current_actor()
    return render_template(
        "signalements/notifications.html",
        section=SECTION,
        notices=service.notifications_for(actor),
        form=EmptyForm(),
    )


@bp.post("/notifications/lues")
@roles_required(*READERS)
def notifications_read() -> Response:
    actor = current_actor()
    if EmptyForm().validate_on_submit():
        count = service.mark_read(actor)
        flash(
            "Toutes vos notifications sont marquées comme lues."
            if count
            else "Aucune notification non lue.",
            "success",
        )
    return redirect(url_for("signalements.notifications"), code=303)


# --- A funder's setting ----------------------------------------------------------------------


@bp.route("/parametres", methods=["GET", "POST"])
@roles_required(Role.FUNDER_ADMIN)
def settings() -> Response | str:
    actor = current_actor()
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        required = request.form.get("approbation") == "1"
        service.save_settings(actor, approval_required=required)
        flash(
            "Les signalements de vos contrôleurs passeront désormais par l'approbation d'un "
            "administrateur avant l'envoi au ministère."
            if required
            else "Les contrôleurs transmettent désormais leurs signalements directement.",
            "success",
        )
        return redirect(url_for("signalements.settings"), code=303)
    return render_template(
        "signalements/settings.html",
        section=SECTION,
        form=form,
        approval_required=service.approval_required(actor.funder_id),
    )


# --- An OF's page (ministry) -----------------------------------------------------------------


@bp.get("/organismes/<nda>")
@roles_required(Role.MINISTRY)
def provider(nda: str) -> str:
    actor = current_actor()
    found = db.session.scalar(db.select(Provider).where(Provider.nda == nda))
    if found is None:
        abort(404)
    report = inbox.provider_report(actor, found)
    return render_template(
        "signalements/provider.html",
        section=SECTION,
        report=report,
        region=service.provider_region(found.nda),
        stale={s.id for s in report.signalements if inbox.is_stale(s)},
        stale_days=inbox.stale_days(),
    )
