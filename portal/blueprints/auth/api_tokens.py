"""Personal API tokens: their owner creates and revokes them on « Mon compte ».

A token is `pq_` followed by 43 random URL-safe characters. Only its SHA-256 is stored,
with the first characters (`prefix`) so that the owner can recognise it in the list; the
plaintext is shown once, in the answer to the creation form, and never again.

The services take the acting user, change the models, write the audit event and leave
the commit to the caller (the route, or the API's `token_required`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Response, abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select, update
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal import audit, unit_of_work
from portal.access import ALL_ROLES, deny, roles_required
from portal.api.tokens import token_rows
from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import ChangePasswordForm
from portal.clock import utcnow
from portal.extensions import db
from portal.forms import EmptyForm, Form
from portal.models import ApiToken, User
from portal.rendering import wants_fragment

TOKEN_PREFIX = "pq_"  # noqa: S105 (a marker, not a secret)
#: `pq_` and the first 8 random characters: enough to tell tokens apart, useless to guess.
DISPLAY_PREFIX_LENGTH = 11
#: `last_used_at` is precise to this much, so that using a token is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Longer `Authorization` values are not tokens of ours: no need to hash them.
MAX_TOKEN_LENGTH = 100


class TokenNotFound(LookupError):
    """No token of this user has this id."""


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of `user`; returns it with its plaintext, which is not kept anywhere."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=_digest(plaintext),
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
    )
    db.session.add(token)
    audit.record(
        "api_token.created",
        actor=user,
        target=token,
        details={"name": token.name, "prefix": token.prefix},
    )
    return token, plaintext


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of `user`'s tokens (revoking it again changes nothing)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise TokenNotFound(token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token.revoked",
            actor=user,
            target=token,
            details={"name": token.name, "prefix": token.prefix},
        )
    return token


def user_for_token(plaintext: str | None) -> User | None:
    """The active user a live token belongs to, or None.

    Revoked tokens and tokens of deactivated users never authenticate. `last_used_at` is
    refreshed when it is older than `LAST_USED_RESOLUTION`, even if the request fails.
    """
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    if len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == _digest(plaintext),
            ApiToken.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    ).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        # Kept even when the request fails (a 403, a 404 of the API).
        token_id = token.id
        unit_of_work.keep(
            lambda: db.session.execute(
                update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
            )
        )
    return user


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


# --- Profile pages ----------------------------------------------------------------------


class ApiTokenForm(Form):
    name = StringField(
        "Nom du jeton",
        validators=[
            DataRequired("Donnez un nom au jeton."),
            Length(max=100, message="100 caractères au plus."),
        ],
        description="Pour le reconnaître plus tard, par exemple « Tableur de suivi des OF ».",
        id="nom-du-jeton",
    )


def panel_context(user: User, *, token_form: ApiTokenForm | None = None) -> dict[str, object]:
    """What the `auth/_api_tokens.html` partial needs."""
    return {
        "api_tokens": token_rows(tokens_of(user), utcnow()),
        "token_form": token_form or ApiTokenForm(formdata=None),
        "revoke_form": EmptyForm(),
    }


def _panel(user: User, token_form: ApiTokenForm, new_token: str | None = None) -> Response:
    """The token panel alone for HTMX, the whole account page otherwise."""
    context = {**panel_context(user, token_form=token_form), "new_token": new_token}
    if wants_fragment():
        body = render_template("auth/_api_tokens.html", **context)
    else:
        body = render_template(
            "auth/account.html", form=ChangePasswordForm(email=user.email), user=user, **context
        )
    response = make_response(body)
    response.vary.add("HX-Request")
    if new_token:
        # The plaintext appears in this answer only: keep it out of every cache.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/compte/jetons")
@roles_required(*ALL_ROLES)
def create_api_token() -> Response:
    user = current_user._get_current_object()
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _panel(user, form)
    _token, plaintext = create_token(user, form.name.data)
    return _panel(user, ApiTokenForm(formdata=None), new_token=plaintext)


@bp.post("/compte/jetons/<int:token_id>/revoquer")
@roles_required(*ALL_ROLES)
def revoke_api_token(token_id: int) -> Response:
    user = current_user._get_current_object()
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        token = revoke_token(user, token_id)
    except TokenNotFound:
        deny(
            user, "jeton d'API d'un autre utilisateur ou inexistant", status=404, token_id=token_id
        )
    if wants_fragment():
        return _panel(user, ApiTokenForm(formdata=None))
    flash(f"Le jeton « {token.name} » est révoqué : il ne donne plus accès à l'API.", "success")
    return redirect(url_for("auth.account"), code=303)
