"""Sous-traitance et plafond CPF."""

from portal.blueprints.subcontracting.routes import bp

__all__ = ["bp"]
