"""Contrôles de service fait."""

from portal.blueprints.service_fait.routes import bp

__all__ = ["bp"]
