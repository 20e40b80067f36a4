"""Dossiers: the funder's list, creation and import (routes.py), and each dossier's page,
its pieces and the OF's space "Mes dossiers" (pieces.py)."""

from portal.blueprints.dossiers import pieces  # noqa: F401  (registers the pieces routes)
from portal.blueprints.dossiers.routes import bp

__all__ = ["bp"]
