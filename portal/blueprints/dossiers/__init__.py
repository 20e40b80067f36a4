"""Dossiers (prises en charge) et pièces justificatives."""

from portal.blueprints.dossiers.routes import bp

__all__ = ["bp"]
