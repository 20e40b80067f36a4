"""Authentication, invitations and password resets (no request objects here)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update

from portal import audit
from portal.blueprints.auth.sessions import end_all_sessions
from portal.clock import utcnow
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import AccountToken, TokenPurpose, User
from portal.passwords import hash_password, needs_rehash, verify_password

MAX_AGE_SETTING = {
    TokenPurpose.INVITATION: "INVITATION_MAX_AGE",
    TokenPurpose.PASSWORD_RESET: "PASSWORD_RESET_MAX_AGE",
}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The user if the email and password match an active account; audits either way."""
    user = find_user_by_email(email)
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        reason = (
            "compte inconnu"
            if user is None
            else "mot de passe incorrect"
            if not valid
            else "compte désactivé"
        )
        audit.record(
            "auth.login_failed",
            actor=user,
            actor_label=normalize_email(email)[:254] or "(vide)",
            target=user,
            funder_id=user.funder_id if user else None,
            details={"reason": reason},
        )
        return None
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record("auth.login", actor=user, target=user, funder_id=user.funder_id)
    return user


def record_logout(user: User) -> None:
    audit.record("auth.logout", actor=user, target=user, funder_id=user.funder_id)


# --- One-time links -------------------------------------------------------------------


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal-{purpose}")


def _max_age(purpose: TokenPurpose) -> timedelta:
    return current_app.config[MAX_AGE_SETTING[purpose]]


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def issue_token(user: User, purpose: TokenPurpose, *, created_by: User | None = None) -> str:
    """A signed link token; earlier unused links of the same kind stop working."""
    now = utcnow()
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    nonce = secrets.token_urlsafe(24)
    row = AccountToken(
        user_id=user.id,
        purpose=purpose.value,
        nonce_hash=_digest(nonce),
        expires_at=now + _max_age(purpose),
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(row)
    db.session.flush()
    return _serializer(purpose).dumps({"t": row.id, "n": nonce})


def resolve_token(token: str, purpose: TokenPurpose) -> AccountToken | None:
    """The token's record if the link is genuine, unexpired, unused, and its user active."""
    try:
        data = _serializer(purpose).loads(token, max_age=int(_max_age(purpose).total_seconds()))
        token_id, nonce = int(data["t"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    row = db.session.get(AccountToken, token_id)
    if (
        row is None
        or row.purpose != purpose.value
        or row.used_at is not None
        or row.expires_at <= utcnow()
        or not secrets.compare_digest(row.nonce_hash, _digest(nonce))
        or not row.user.is_active
    ):
        return None
    return row


def set_password_from_token(row: AccountToken, password: str) -> User:
    """Consume the link and set the password; every other session of the user ends."""
    user = row.user
    row.used_at = utcnow()
    user.password_hash = hash_password(password)
    end_all_sessions(user)
    action = (
        "auth.invitation_accepted"
        if row.purpose == TokenPurpose.INVITATION
        else "auth.password_reset"
    )
    audit.record(action, actor=user, target=user, funder_id=user.funder_id)
    return user


def change_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    end_all_sessions(user)
    audit.record("auth.password_changed", actor=user, target=user, funder_id=user.funder_id)


def send_invitation(user: User, *, invited_by: User | None) -> None:
    token = issue_token(user, TokenPurpose.INVITATION, created_by=invited_by)
    link = absolute_url("auth.accept_invitation", token=token)
    send_mail(
        user.email,
        "Invitation au portail de contrôle qualité",
        "auth/mail_invitation.txt",
        user=user,
        link=link,
        invited_by=invited_by,
        days=_max_age(TokenPurpose.INVITATION).days,
    )


@dataclass(frozen=True)
class ResetOutcome:
    sent: bool


def request_password_reset(email: str) -> ResetOutcome:
    """Mail a reset link to an active account; say nothing about the others."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return ResetOutcome(sent=False)
    if user.is_pending:
        # Not yet set up: a new invitation is what this person needs.
        send_invitation(user, invited_by=None)
        audit.record("auth.invitation_resent", actor=None, target=user, funder_id=user.funder_id)
        return ResetOutcome(sent=True)
    token = issue_token(user, TokenPurpose.PASSWORD_RESET)
    send_mail(
        user.email,
        "Réinitialisation de votre mot de passe",
        "auth/mail_password_reset.txt",
        user=user,
        link=absolute_url("auth.reset_password", token=token),
        hours=int(_max_age(TokenPurpose.PASSWORD_RESET).total_seconds() // 3600),
    )
    audit.record("auth.password_reset_requested", actor=None, target=user, funder_id=user.funder_id)
    return ResetOutcome(sent=True)
