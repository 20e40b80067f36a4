"""Vérification Qualiopi contre la liste publique."""

from portal.blueprints.qualiopi.routes import bp

__all__ = ["bp"]
