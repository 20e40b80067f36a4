"""Bulk check of a file of identifiers (to be written)."""

from flask import abort

from portal.access import roles_required
from portal.blueprints.qualiopi.routes import SECTION, bp


@bp.route("/verification-groupee", methods=["GET", "POST"])
@roles_required(*SECTION.roles)
def bulk():
    abort(404)
