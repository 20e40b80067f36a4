"""Signalements de qualité au ministère."""

from portal.blueprints.signalements import (  # noqa: F401  (register their routes on bp)
    detail,
    drafts,
)
from portal.blueprints.signalements.routes import bp

__all__ = ["bp"]
