"""Vérifier Qualiopi: the public list of OF (look-up, OF pages, imports, bulk checks,
alerts) and the `flask qualiopi` commands. The rules live in `portal.public_list`."""

from flask import Blueprint

bp = Blueprint(
    "public_list",
    __name__,
    url_prefix="/qualiopi",
    template_folder="templates",
    cli_group="qualiopi",
)

from portal.blueprints.public_list import bulk, routes  # noqa: E402, F401  (register views)
from portal.blueprints.public_list.cli import register  # noqa: E402

register(bp)

__all__ = ["bp"]
