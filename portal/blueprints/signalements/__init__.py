"""Signalements de qualité au ministère."""

from flask import Blueprint

bp = Blueprint("signalements", __name__, url_prefix="/signalements", template_folder="templates")

from portal.blueprints.signalements import (  # noqa: E402, F401  (register their views on bp)
    detail,
    drafts,
    routes,
)

__all__ = ["bp"]
