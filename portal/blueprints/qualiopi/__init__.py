"""Qualiopi verification against the public list: look-up, OF pages, imports, bulk
checks and alerts; the `flask qualiopi` commands."""

from portal.blueprints.qualiopi import bulk  # noqa: F401  (registers the bulk-check routes)
from portal.blueprints.qualiopi.cli import register
from portal.blueprints.qualiopi.routes import bp

register(bp)

__all__ = ["bp"]
