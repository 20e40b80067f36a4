"""Server-side login sessions.

Flask's cookie holds a random session id; the database holds its SHA-256, so that the
server can end a session (logout, deactivation, password change) and a stolen cookie
dies with it. A new id is issued at every login (session rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy import delete, select

from portal.clock import utcnow
from portal.extensions import db, htmx
from portal.models import User, UserSession

SESSION_KEY = "sid"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> None:
    """Log the user in on a fresh session (the caller commits)."""
    session.clear()  # rotation: nothing from the anonymous session survives, CSRF token included
    token = secrets.token_urlsafe(32)
    lifetime: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_digest(token),
            expires_at=utcnow() + lifetime,
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:200],
        )
    )
    session[SESSION_KEY] = token
    session.permanent = True
    login_user(user)


def end_session() -> None:
    """Forget this browser's session, on the server too (the caller commits)."""
    token = session.get(SESSION_KEY)
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))
    logout_user()
    session.clear()


def end_all_sessions(user: User) -> int:
    """End every session of a user, e.g. when deactivated (the caller commits)."""
    result = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return result.rowcount or 0


def load_user(user_id: str) -> User | None:
    token = session.get(SESSION_KEY)
    if not token or not user_id.isdigit():
        return None
    return db.session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(user_id),
            User.is_active.is_(True),
            UserSession.token_hash == _digest(token),
            UserSession.expires_at > utcnow(),
        )
    )


def _unauthorized():
    if request.path.startswith("/api/"):
        return {"error": {"code": "unauthenticated", "message": "Authentification requise."}}, 401
    flash("Veuillez vous connecter pour accéder à cette page.", "info")
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    target = url_for("auth.login", next=next_path)
    if htmx:
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def init_login_manager(manager: LoginManager) -> None:
    manager.user_loader(load_user)
    manager.unauthorized_handler(_unauthorized)
    manager.session_protection = None  # our own server-side sessions do this job
