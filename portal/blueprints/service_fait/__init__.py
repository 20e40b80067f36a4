"""Contrôles de service fait."""

from portal.blueprints.service_fait import (  # noqa: F401  (register their routes on bp)
    bundle,
    control,
    requests,
    sampling,
)
from portal.blueprints.service_fait.checks_cli import register_checks
from portal.blueprints.service_fait.cli import register
from portal.blueprints.service_fait.routes import bp

register(bp)
register_checks(bp)

__all__ = ["bp"]
