"""Logging a test client in, and the CSRF tokens of its session.

`log_in(client, user)` logs in through the session: it runs, in a request of the
application serving the client, what the login view runs once the password is checked
(last login, audit event, `start_session`), and hands the resulting session to the
client's cookie. No page is fetched and no password hashed. The login itself (the form,
the password, the throttling) is tested over HTTP in tests/auth, with `AuthActions.login`.

`csrf_token(client)` makes the session's CSRF token the way Flask-WTF does (a random value
in the session, signed with the secret key); `csrf_token(client, path)` reads it from the
form of a page instead, which also checks that the page offers it. CSRF stays enforced:
a POST without a valid token is refused (tests/test_csrf.py).
"""

from __future__ import annotations

import hashlib
import os
import re

from flask import Flask, session
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from portal import audit
from portal.blueprints.auth.sessions import start_session
from portal.clock import utcnow
from portal.extensions import db
from portal.models import User
from tests.factories import PASSWORD

CSRF_FIELD = "csrf_token"


def page_csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the client's session, read from the form of the page at `path`."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'"X-CSRFToken": "([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str | None = None) -> str:
    """The CSRF token of the client's session (read from the page at `path` if given)."""
    if path is not None:
        return page_csrf_token(client, path)
    app = client.application
    with client.session_transaction() as sess:
        if not isinstance(sess.get(CSRF_FIELD), str):
            sess[CSRF_FIELD] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 (as Flask-WTF)
        raw = sess[CSRF_FIELD]
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def log_in(client: FlaskClient, user: User) -> None:
    """Log the client in as `user` through the session (see the module's docstring)."""
    app = client.application
    db.session.commit()  # the test body's pending work, as the client does before a request
    with app.test_request_context("/login", method="POST", environ_base=dict(client.environ_base)):
        # The request's own application context and database session, as in the view.
        account = db.session.get(User, user.id)
        assert account is not None and account.is_active, f"{user.email} cannot log in"
        account.last_login_at = utcnow()
        audit.record("auth.login", actor=account, target=account, funder_id=account.funder_id)
        start_session(account)
        db.session.commit()
        values = dict(session)
    with client.session_transaction() as sess:
        sess.clear()
        sess.update(values)
        sess.permanent = True


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        """Log in over HTTP, through the login form (tests of the login itself)."""
        token = page_csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
        )

    def log_in(self, user: User) -> None:
        """Log in through the session (every other test)."""
        log_in(self.client, user)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client)})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """POST with the session's CSRF token, as the portal's own forms do; with
        `token_from=PATH` the token is read from that page's form."""
        token = csrf_token(self.client, kwargs.pop("token_from", None))
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def client_as(app: Flask, user: User) -> tuple[FlaskClient, AuthActions]:
    """A new client of `app` (a browser of its own), logged in as `user`."""
    client = app.test_client()
    auth = AuthActions(client)
    auth.log_in(user)
    return client, auth
