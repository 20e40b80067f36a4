"""Logging in and out, invitations and password resets."""

from portal.blueprints.auth.routes import bp

__all__ = ["bp"]
