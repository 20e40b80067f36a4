"""Les nouveautés de chaque rôle : le compteur du bandeau et la page qui les liste."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/nouveautes", template_folder="templates")

from portal.blueprints.notifications import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
