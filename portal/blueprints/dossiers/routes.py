"""Routes of the dossiers section, funder side (to be written)."""

from flask import Blueprint, render_template
from flask_login import current_user

from portal.access import roles_required
from portal.models import Role
from portal.navigation import section

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers", template_folder="templates")
SECTION = section("dossiers")


@bp.get("/")
@roles_required(*SECTION.roles)
def index():
    if current_user.role == Role.PROVIDER:
        from portal.blueprints.dossiers.pieces import my_dossiers

        return my_dossiers()  # "Mes dossiers": the OF's space
    return render_template("dossiers/index.html", section=SECTION)
