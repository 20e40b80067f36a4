"""Routes of the qualiopi section."""

from flask import Blueprint, render_template

from portal.access import roles_required
from portal.navigation import section

bp = Blueprint("qualiopi", __name__, url_prefix="/qualiopi", template_folder="templates")
SECTION = section("qualiopi")


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> str:
    return render_template("qualiopi/index.html", section=SECTION)
