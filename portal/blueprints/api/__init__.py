"""The JSON API (versioned under /api/v1)."""

from portal.blueprints.api.routes import bp

__all__ = ["bp"]
