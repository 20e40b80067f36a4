"""The JSON API (versioned under /api/v1)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.blueprints.api import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
