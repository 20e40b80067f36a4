"""The API's edge: body size and type, rate limit per token, and JSON errors for what its
views raise. The commit (or the rollback of an error) is portal.unit_of_work's."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request

from portal.blueprints.api import bp
from portal.blueprints.api.auth import bearer_token
from portal.blueprints.api.errors import ApiError, as_response, error_response
from portal.extensions import limiter

WRITES = frozenset({"POST", "PUT", "PATCH"})


def rate_limit_key() -> str:
    """Per token (its digest), or per address without one."""
    token = bearer_token()
    if token:
        return "api-token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "api-address:" + (request.remote_addr or "?")


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


limiter.limit(_rate_limit, key_func=rate_limit_key)(bp)


@bp.before_request
def _limit_the_body() -> Response | None:
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    if request.method in WRITES:
        length = request.content_length
        if length is not None and length > current_app.config["API_MAX_BODY_BYTES"]:
            return error_response(
                413,
                "payload_too_large",
                f"Le corps de la requête dépasse {current_app.config['API_MAX_BODY_BYTES']} "
                "octets.",
            )
        if (length or request.headers.get("Transfer-Encoding")) and not request.is_json:
            return error_response(
                415,
                "unsupported_media_type",
                "Le corps de la requête doit être du JSON (Content-Type: application/json).",
            )
    return None


#: The id columns are 32-bit integers on PostgreSQL: a larger id in a path names nothing.
MAX_ROW_ID = 2**31 - 1


@bp.url_value_preprocessor
def _ids_within_the_columns(endpoint: str | None, values: dict | None) -> None:
    for value in (values or {}).values():
        if isinstance(value, int) and value > MAX_ROW_ID:
            raise ApiError(404, "not_found", "Cette ressource n'existe pas.")


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return as_response(error)  # >= 400: the edge rolls the request back (unit_of_work)
