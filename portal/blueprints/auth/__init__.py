"""Logging in and out, invitations and password resets."""

from portal.blueprints.auth import api_tokens  # noqa: F401  (registers the token routes)
from portal.blueprints.auth.routes import bp

__all__ = ["bp"]
