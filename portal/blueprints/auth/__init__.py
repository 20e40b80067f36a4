"""Logging in and out, invitations, password resets and personal API tokens."""

from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates")

from portal.blueprints.auth import api_tokens, routes  # noqa: E402, F401  (register views)

__all__ = ["bp"]
