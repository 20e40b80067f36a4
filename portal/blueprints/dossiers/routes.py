"""Routes of the dossiers section."""

from flask import Blueprint, render_template

from portal.access import roles_required
from portal.navigation import section

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers", template_folder="templates")
SECTION = section("dossiers")


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> str:
    return render_template("dossiers/index.html", section=SECTION)
