"""Contrôles qualité des OF au regard du RNQ, et leurs actions correctives."""

from flask import Blueprint

bp = Blueprint("quality", __name__, url_prefix="/qualite", template_folder="templates")

from portal.blueprints.quality import corrective, routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
