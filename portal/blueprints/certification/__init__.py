"""Suivi de la certification Qualiopi des OF : certificat, audits, échéances, durées d'audit."""

from flask import Blueprint

bp = Blueprint("certification", __name__, url_prefix="/certification", template_folder="templates")

from portal.blueprints.certification import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
