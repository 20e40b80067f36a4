"""The home page, which depends on the role, and what every template needs."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_login import current_user

from portal import notices, todo
from portal.access import ALL_ROLES, is_funder_side, permissions, roles_required
from portal.models import ROLE_LABELS, Role, User
from portal.navigation import menu_for
from portal.regions import region_name
from portal.web import actor

bp = Blueprint("home", __name__)


@bp.get("/")
@roles_required(*ALL_ROLES)
def index() -> str:
    user = actor()
    return render_template(
        "home.html",
        heading=home_heading(user),
        role_label=ROLE_LABELS[Role(user.role)],
        notices=notices.notices_for(user, notices.HOME),
        todo=todo.todo_for(user),
    )


def home_heading(user: User) -> str:
    """Whom the home page is about: the platform, the user's funder or OF, or the liaison's
    region."""
    if user.role == Role.ADMIN:
        return "Administration de la plateforme"
    if is_funder_side(user):
        return user.funder.name
    if user.role == Role.PROVIDER:
        return user.provider.name
    if user.region_code:
        return f"Correspondant ministériel — {region_name(user.region_code)}"
    return "Correspondant ministériel"


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, object]:
        user = current_user if current_user and current_user.is_authenticated else None
        return {
            "menu": menu_for(current_user) if user else [],
            "role_labels": ROLE_LABELS,
            **permissions(user),
        }
