"""La page 360° d'un organisme de formation pour un financeur."""

from flask import Blueprint

bp = Blueprint("providers", __name__, url_prefix="/organismes", template_folder="templates")

from portal.blueprints.providers import routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
