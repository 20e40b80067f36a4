"""The list of what is new for the user, each line leading to the filtered list."""

from __future__ import annotations

from flask import Response, render_template

from portal import notifications
from portal.access import ALL_ROLES, roles_required
from portal.blueprints.notifications import bp
from portal.web import actor


@bp.get("/")
@roles_required(*ALL_ROLES)
def index() -> str:
    lines = notifications.news_for(actor())
    return render_template(
        "notifications/index.html",
        lines=[line for line in lines if line.count],
        nothing_new=not any(line.count for line in lines),
    )


@bp.get("/compte")
@roles_required(*ALL_ROLES)
def count() -> Response:
    """The count of the header's link, loaded by HTMX once the page is shown, so that a
    page costs no query for it."""
    total = notifications.news_count(actor())
    response = Response(render_template("notifications/_count.html", total=total))
    response.vary.add("HX-Request")
    return response
