"""Administration: funders, accounts, invitations, followed OF and the audit log."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

from portal.blueprints.admin import api_access, routes  # noqa: E402, F401  (registers views)

__all__ = ["bp"]
