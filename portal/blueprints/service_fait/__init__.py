"""Contrôles de service fait: the queue, the control page, requests for documents,
decisions, control bundles, sampling, statistics; the `flask service-fait` commands."""

from flask import Blueprint

from portal import notices

bp = Blueprint("service_fait", __name__, url_prefix="/service-fait", template_folder="templates")

from portal.blueprints.service_fait import (  # noqa: E402, F401  (register their views on bp)
    bundle,
    control,
    document_requests,
    routes,
    sampling,
    settings,
)
from portal.blueprints.service_fait.checks_cli import register_checks  # noqa: E402
from portal.blueprints.service_fait.cli import register  # noqa: E402
from portal.service_fait.notices import open_requests  # noqa: E402

register(bp)
register_checks(bp)
notices.register(
    "document_requests", open_requests, pages=(notices.HOME, notices.MY_DOSSIERS), order=10
)

__all__ = ["bp"]
