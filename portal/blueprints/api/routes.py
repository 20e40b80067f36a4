"""Routes of the JSON API, authenticated by personal tokens (see `auth`).

Errors are JSON with a stable English code: the ones of these views below, the others
(404, 405, 500…) from portal.errors. Every route is described in `openapi.DOCUMENT`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

from flask import Response, request

from portal import clock
from portal.access import ALL_ROLES
from portal.blueprints.api import bp
from portal.blueprints.api.auth import api_user, error_response, token_required
from portal.blueprints.api.openapi import DOCUMENT
from portal.identifiers import InvalidIdentifier, classify
from portal.navigation import section
from portal.public_list.lookup import check

F = TypeVar("F", bound=Callable[..., Any])

QUALIOPI_ROLES = section("public_list").roles

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def query_parameters(*names: str) -> Callable[[F], F]:
    """Refuse query parameters other than `names`, and any of them given twice.

    A misspelt `?date=` must not be silently ignored: the answer would be for today.
    """
    accepted = frozenset(names)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            unknown = sorted(set(request.args) - accepted)
            if unknown:
                listed = ", ".join(f"« {name} »" for name in unknown)
                known = (
                    "Paramètres acceptés : " + ", ".join(f"« {n} »" for n in sorted(accepted))
                    if accepted
                    else "Cette adresse n'accepte aucun paramètre"
                )
                return error_response(
                    400, "unknown_parameter", f"Paramètre inconnu : {listed}. {known}."
                )
            for name in sorted(accepted):
                if len(request.args.getlist(name)) > 1:
                    return error_response(
                        400, "bad_request", f"Le paramètre « {name} » est donné plusieurs fois."
                    )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


@bp.get("/openapi.json")
@query_parameters()
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 description of this API (public)."""
    return DOCUMENT


@bp.get("/")
@token_required(*ALL_ROLES)
@query_parameters()
def index() -> dict[str, object]:
    user = api_user()
    return {"version": "v1", "user": {"email": user.email, "role": user.role}}


@bp.get("/qualiopi/<ident>")
@token_required(*QUALIOPI_ROLES)
@query_parameters("on")
def qualiopi_check(ident: str) -> dict[str, Any] | Response:
    """The answer of `flask qualiopi check IDENT --on DATE --json`."""
    raw_on = request.args.get("on")
    if raw_on is None:
        on = clock.today()
    else:
        try:
            if not _ISO_DATE.fullmatch(raw_on):
                raise ValueError(raw_on)
            on = date.fromisoformat(raw_on)
        except ValueError:
            return error_response(
                400,
                "invalid_date",
                f"Le paramètre on attend une date AAAA-MM-JJ, pas « {raw_on} ».",
            )
    try:
        identifier = classify(ident)
    except InvalidIdentifier as error:
        return error_response(400, "invalid_identifier", str(error))
    return check(identifier, on, query=ident).as_json()
