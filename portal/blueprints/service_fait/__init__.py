"""Contrôles de service fait: the queue, the control page, requests for documents,
decisions, control bundles, sampling, statistics; the `flask service-fait` commands."""

from flask import Blueprint

bp = Blueprint("service_fait", __name__, url_prefix="/service-fait", template_folder="templates")

from portal.blueprints.service_fait import (  # noqa: E402, F401  (register their views on bp)
    bundle,
    control,
    document_requests,
    routes,
    sampling,
)
from portal.blueprints.service_fait.checks_cli import register_checks  # noqa: E402
from portal.blueprints.service_fait.cli import register  # noqa: E402

register(bp)
register_checks(bp)

__all__ = ["bp"]
