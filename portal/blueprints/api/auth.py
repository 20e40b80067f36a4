"""Authentication of the JSON API: personal tokens only, sent as `Authorization: Bearer`.

The session cookie never authenticates an API request (the API blueprint is exempt from
CSRF, so a cookie-authenticated API would be open to cross-site requests).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, jsonify, request

from portal import audit
from portal.blueprints.auth.api_tokens import user_for_token
from portal.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])

UNAUTHENTICATED = (
    "Authentification requise : envoyez un jeton d'accès personnel valide dans l'en-tête "
    "« Authorization: Bearer <jeton> » (jetons à créer dans « Mon compte »)."
)
FORBIDDEN = "Votre rôle ne permet pas d'utiliser cette partie de l'API."


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The JSON error body every API error has: `{"error": {"code", "message"}}`."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def api_user() -> User:
    """The user the request's token belongs to (inside a `token_required` view)."""
    return g.api_user


def token_required(*roles: Role) -> Callable[[F], F]:
    """A live personal token of an active user of one of `roles`.

    No token, or an unknown, revoked or deactivated user's one: 401 with
    `WWW-Authenticate: Bearer`. Another role: 403, and an audit event.
    """
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = user_for_token(bearer_token())
            if user is None:
                return error_response(
                    401,
                    "unauthenticated",
                    UNAUTHENTICATED,
                    {"WWW-Authenticate": 'Bearer realm="api"'},
                )
            if user.role not in allowed:
                audit.record_refusal(
                    "access.denied",
                    actor=user,
                    details={
                        "reason": "rôle non autorisé (API)",
                        "path": request.path,
                        "method": request.method,
                    },
                )
                return error_response(403, "forbidden", FORBIDDEN)
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
