"""Contrôles qualité des OF au regard du RNQ, et leurs actions correctives."""

from flask import Blueprint

from portal import notices

bp = Blueprint("quality", __name__, url_prefix="/qualite", template_folder="templates")

from portal.blueprints.quality import corrective, routes  # noqa: E402, F401  (registers views)
from portal.quality.notices import awaiting_plan  # noqa: E402

notices.register("quality_nonconformities", awaiting_plan, order=20)

__all__ = ["bp"]
