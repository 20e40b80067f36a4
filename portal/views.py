"""The home page, which depends on the role, and what every template needs."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_login import current_user

from portal.access import ALL_ROLES, roles_required
from portal.models import ROLE_LABELS, Role
from portal.navigation import menu_for
from portal.regions import region_name

bp = Blueprint("home", __name__)


@bp.get("/")
@roles_required(*ALL_ROLES)
def index() -> str:
    return render_template("home.html", role=Role(current_user.role))


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def init_app(app: Flask) -> None:
    app.add_template_filter(region_name, "region_name")

    @app.context_processor
    def navigation() -> dict[str, object]:
        if current_user and current_user.is_authenticated:
            return {"menu": menu_for(current_user), "role_labels": ROLE_LABELS}
        return {"menu": [], "role_labels": ROLE_LABELS}
