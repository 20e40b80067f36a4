"""Authentication of the JSON API: tokens only, sent as `Authorization: Bearer`.

A funder's token (created on the funder's administration pages) acts with its scopes as
a controller of its funder; a personal token (« Mon compte ») reads Qualiopi only. The
session cookie never authenticates an API request (the API blueprint is exempt from
CSRF, so a cookie-authenticated API would be open to cross-site requests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from portal import audit
from portal.api.tokens import Bearer, TokenActor, bearer_for
from portal.blueprints.api.errors import ApiError
from portal.models import ApiScope, Role, User

F = TypeVar("F", bound=Callable[..., Any])

UNAUTHENTICATED = (
    "Authentification requise : envoyez un jeton d'API valide dans l'en-tête "
    "« Authorization: Bearer <jeton> » (jetons du financeur à créer par son administrateur, "
    "jetons personnels dans « Mon compte »). Un jeton expiré ou révoqué n'ouvre plus l'API."
)
FORBIDDEN = "Votre rôle ne permet pas d'utiliser cette partie de l'API."


def bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def api_actor() -> User | TokenActor:
    """Who the request's token acts for (inside a `token_required` view)."""
    return g.api_bearer.actor


def api_bearer() -> Bearer:
    return g.api_bearer


def api_user() -> User | TokenActor:
    return api_actor()


def current_bearer() -> Bearer | None:
    """The request's bearer, once authenticated (None before, or without a token)."""
    return g.get("api_bearer")


def _refuse(bearer: Bearer, code: str, message: str, reason: str) -> ApiError:
    audit.record_refusal(  # kept whatever happens to the request (portal.unit_of_work)
        "access.denied",
        actor=bearer.actor,
        funder_id=bearer.token.funder_id,
        details={"reason": reason, "path": request.path, "method": request.method},
    )
    return ApiError(403, code, message)


def token_required(
    scope: ApiScope | None = None, *, personal_roles: Iterable[Role] = ()
) -> Callable[[F], F]:
    """A live token with `scope`: a funder's token that has it, or a personal token of
    one of `personal_roles` (personal tokens hold `qualiopi:read` only).

    No token, or an unknown, expired or revoked one: 401 with `WWW-Authenticate:
    Bearer`. Another role or a missing scope: 403, and an audit event.
    """
    roles = frozenset(personal_roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bearer = bearer_for(bearer_token())
            if bearer is None:
                raise ApiError(
                    401,
                    "unauthenticated",
                    UNAUTHENTICATED,
                    headers={"WWW-Authenticate": 'Bearer realm="api"'},
                )
            g.api_bearer = bearer
            if isinstance(bearer.actor, User) and bearer.actor.role not in roles:
                raise _refuse(bearer, "forbidden", FORBIDDEN, "rôle non autorisé (API)")
            if scope is not None and scope.value not in bearer.scopes:
                raise _refuse(
                    bearer,
                    "insufficient_scope",
                    f"Ce jeton n'a pas le droit « {scope.value} » ({scope.label.lower()}).",
                    f"droit {scope.value} absent du jeton",
                )
            return view(*args, **kwargs)

        # Personal tokens of these roles reach the view (portal.access.roles_of).
        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        wrapper.api_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
