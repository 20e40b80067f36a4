"""Routes of the JSON API. Errors are JSON with a stable code (see portal.errors)."""

from flask import Blueprint
from flask_login import current_user

from portal.access import ALL_ROLES, roles_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/")
@roles_required(*ALL_ROLES)
def index() -> dict[str, object]:
    return {"version": "v1", "user": {"email": current_user.email, "role": current_user.role}}
