"""Routes of the subcontracting section."""

from flask import Blueprint, render_template

from portal.access import roles_required
from portal.navigation import section

bp = Blueprint(
    "subcontracting", __name__, url_prefix="/sous-traitance", template_folder="templates"
)
SECTION = section("subcontracting")


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> str:
    return render_template("subcontracting/index.html", section=SECTION)
