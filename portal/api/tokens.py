"""Funders' API tokens: created by a funder admin for the funder's systems, not a person.

A token is `pq_` and 43 random URL-safe characters, shown once; only its SHA-256 is kept
(as personal tokens, portal.blueprints.auth.api_tokens). It has scopes (`ApiScope`), an
expiry and a label; it acts as a `TokenActor`, which the access rules of portal.access
treat as a controller of the funder: a token sees exactly what its funder's controllers
see. Services flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from portal import audit, clock
from portal.clock import utcnow
from portal.errors import Refused
from portal.extensions import db
from portal.models import API_SCOPE_LABELS, ApiScope, ApiToken, Funder, Role, User

TOKEN_PREFIX = "pq_"  # noqa: S105 (a marker, not a secret)
DISPLAY_PREFIX_LENGTH = 11
MAX_TOKEN_LENGTH = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: The longest a funder token may live (a token without end is refused).
MAX_VALIDITY_DAYS = 730


class TokenRefused(Refused):
    """What was typed for a new token breaks a rule (French messages by field)."""


class TokenNotFound(LookupError):
    pass


@dataclass(frozen=True)
class TokenActor:
    """Who acts through a funder's token: a controller of that funder, without a person.

    It has what portal.access and the services read of a `User` (role, funder_id,
    provider_id, region_code, id, email); `id` is None, so nothing is recorded as done
    by a person, and the audit log names the token (`email`).
    """

    token_id: int
    funder_id: int
    label: str
    prefix: str
    scopes: frozenset[str]
    role: str = Role.CONTROLLER.value
    provider_id: None = None
    region_code: None = None
    id: None = None
    is_active: bool = True
    is_authenticated: bool = True

    @property
    def email(self) -> str:
        return f"jeton d'API « {self.label} » ({self.prefix}…)"

    def has(self, scope: ApiScope) -> bool:
        return scope.value in self.scopes


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_plaintext() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def expiry_of(day: date) -> datetime:
    """A token chosen to expire on `day` works until the end of that day, Paris time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.PARIS)


def check_new_token(label: str, scopes: Iterable[str], expires_on: date | None) -> list[str]:
    errors: dict[str, list[str]] = {}
    chosen = [s for s in scopes if s]
    if not label.strip():
        errors["label"] = ["Donnez un nom au jeton, par exemple « Système de paiement »."]
    elif len(label.strip()) > 100:
        errors["label"] = ["100 caractères au plus."]
    unknown = [s for s in chosen if s not in {scope.value for scope in ApiScope}]
    if not chosen or unknown:
        errors["scopes"] = ["Choisissez au moins un droit parmi ceux proposés."]
    today = clock.today()
    if expires_on is None:
        errors["expires_on"] = ["Choisissez la date de fin de validité du jeton."]
    elif expires_on < today:
        errors["expires_on"] = ["La date de fin de validité est passée."]
    elif expires_on > today + timedelta(days=MAX_VALIDITY_DAYS):
        errors["expires_on"] = [
            f"Un jeton vit au plus {MAX_VALIDITY_DAYS // 365} ans : choisissez une date plus "
            "proche."
        ]
    if errors:
        raise TokenRefused(errors)
    return sorted(set(chosen))


def create_funder_token(
    actor: User, label: str, scopes: Iterable[str], expires_on: date | None
) -> tuple[ApiToken, str]:
    """A new token of the actor's funder (a funder admin); returns it with its plaintext."""
    if actor.role != Role.FUNDER_ADMIN or actor.funder_id is None:
        raise PermissionError("only a funder admin creates the funder's tokens")
    chosen = check_new_token(label, scopes, expires_on)
    assert expires_on is not None
    plaintext = new_plaintext()
    token = ApiToken(
        funder_id=actor.funder_id,
        name=label.strip(),
        token_hash=digest(plaintext),
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        scopes=" ".join(chosen),
        expires_at=expiry_of(expires_on),
        created_by_id=actor.id,
    )
    db.session.add(token)
    audit.record(
        "api_token.created",
        actor=actor,
        target=token,
        funder_id=actor.funder_id,
        details={
            "name": token.name,
            "prefix": token.prefix,
            "scopes": chosen,
            "expires_at": token.expires_at,
        },
    )
    return token, plaintext


def funder_tokens(funder_id: int) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.funder_id == funder_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


@dataclass(frozen=True)
class TokenRow:
    """A token as the tables of tokens show it (templates/_api_tokens.html)."""

    token: ApiToken
    scopes: list[str]  # the labels of its rights
    state: str  # « Actif », « Expiré », « Révoqué »
    inactive: bool
    revocable: bool


def token_rows(tokens: Iterable[ApiToken], now: datetime) -> list[TokenRow]:
    rows = []
    for token in tokens:
        live = token.is_live(now)
        rows.append(
            TokenRow(
                token=token,
                scopes=[API_SCOPE_LABELS.get(s, s) for s in sorted(token.scope_set)],
                state=token.state_label(now),
                inactive=not live,
                revocable=token.revoked_at is None,
            )
        )
    return rows


def revoke_funder_token(actor: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if (
        token is None
        or token.funder_id is None
        or actor.role != Role.FUNDER_ADMIN
        or token.funder_id != actor.funder_id
    ):
        raise TokenNotFound(token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token.revoked",
            actor=actor,
            target=token,
            funder_id=token.funder_id,
            details={"name": token.name, "prefix": token.prefix},
        )
    return token


@dataclass(frozen=True)
class Bearer:
    """Who a live token opens the API for: a person (personal token) or a funder."""

    token: ApiToken
    actor: User | TokenActor
    scopes: frozenset[str]


def bearer_for(plaintext: str | None) -> Bearer | None:
    """The actor of a live token, or None (unknown, revoked, expired, deactivated owner).

    A personal token reads Qualiopi only. `last_used_at` is refreshed when older than
    `LAST_USED_RESOLUTION` (the caller commits).
    """
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    if len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    # The token and whether its funder is active, in one query (every API request).
    row = db.session.execute(
        select(ApiToken, Funder.is_active)
        .outerjoin(Funder, Funder.id == ApiToken.funder_id)
        .where(ApiToken.token_hash == digest(plaintext))
    ).first()
    now = utcnow()
    if row is None or not row[0].is_live(now):
        return None
    token, funder_active = row
    actor: User | TokenActor
    if token.user_id is not None:
        user = db.session.get(User, token.user_id)
        if user is None or not user.is_active:
            return None
        actor, scopes = user, frozenset({ApiScope.QUALIOPI_READ.value})
    else:
        assert token.funder_id is not None
        if funder_active is False:
            return None
        scopes = token.scope_set
        actor = TokenActor(
            token_id=token.id,
            funder_id=token.funder_id,
            label=token.name,
            prefix=token.prefix,
            scopes=scopes,
        )
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return Bearer(token, actor, scopes)
