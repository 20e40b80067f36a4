"""Dossiers: the funder's list, creation and import (routes.py), each dossier's page
(detail.py), its pieces (pieces.py), and the OF's space "Mes dossiers" (mine.py)."""

from flask import Blueprint

from portal.navigation import section

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers", template_folder="templates")
SECTION = section("dossiers")

from portal.blueprints.dossiers import detail, mine, pieces, routes  # noqa: E402, F401

__all__ = ["SECTION", "bp"]
