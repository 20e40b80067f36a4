"""Each dossier's page, its pieces, and the OF's space (to be written)."""

from flask import render_template

from portal.blueprints.dossiers.routes import SECTION, bp  # noqa: F401


def my_dossiers() -> str:
    """The OF's space, served at /dossiers/ for OF users (called by routes.index)."""
    return render_template("dossiers/index.html", section=SECTION)
