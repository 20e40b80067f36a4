"""Routes of the signalements section."""

from flask import Blueprint, render_template

from portal.access import roles_required
from portal.navigation import section

bp = Blueprint("signalements", __name__, url_prefix="/signalements", template_folder="templates")
SECTION = section("signalements")


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> str:
    return render_template("signalements/index.html", section=SECTION)
