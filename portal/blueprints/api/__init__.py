"""The JSON API (versioned under /api/v1), declared with flask-smorest: each route's
request and response schemas (portal.blueprints.api.schemas) validate the requests and
write the OpenAPI document, served at /api/v1/openapi.json and browsable at /api/v1/docs.
"""

from flask_smorest import Blueprint

from portal.blueprints.api.parser import ApiParser

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="L'API des systèmes d'information des financeurs.",
)
bp.ARGUMENTS_PARSER = ApiParser()

from portal.blueprints.api import (  # noqa: E402, F401  (registers views)
    edge,
    routes,
    webhook_routes,
)

__all__ = ["bp"]
