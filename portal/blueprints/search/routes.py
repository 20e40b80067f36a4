"""The results page of the header's search (works without JavaScript), and its preview
under the search box (HTMX active search)."""

from __future__ import annotations

from flask import Response, render_template, request

from portal import search as service
from portal.access import roles_required
from portal.blueprints.search import bp
from portal.models import FUNDER_ROLES
from portal.rendering import render_page
from portal.web import actor


@bp.get("/")
@roles_required(*FUNDER_ROLES)
def index() -> Response:
    results = service.search(actor(), request.args.get("q", ""))
    return render_page("search/index.html", block="results", results=results)


@bp.get("/apercu")
@roles_required(*FUNDER_ROLES)
def preview() -> Response:
    results = service.search(actor(), request.args.get("q", ""), limit=5)
    response = Response(render_template("search/_preview.html", results=results))
    response.vary.add("HX-Request")
    return response
