"""Routes of the service_fait section."""

from flask import Blueprint, render_template

from portal.access import roles_required
from portal.navigation import section

bp = Blueprint("service_fait", __name__, url_prefix="/service-fait", template_folder="templates")
SECTION = section("service_fait")


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> str:
    return render_template("service_fait/index.html", section=SECTION)
