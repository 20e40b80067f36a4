"""La recherche du bandeau : dossiers, organismes suivis et liste publique."""

from flask import Blueprint

bp = Blueprint("search", __name__, url_prefix="/recherche", template_folder="templates")

from portal.blueprints.search import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
