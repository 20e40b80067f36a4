"""Sous-traitance et plafond CPF."""

from flask import Blueprint

bp = Blueprint(
    "subcontracting", __name__, url_prefix="/sous-traitance", template_folder="templates"
)

from portal.blueprints.subcontracting import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
