"""Signalements de qualité au ministère."""

from portal.blueprints.signalements.routes import bp

__all__ = ["bp"]
