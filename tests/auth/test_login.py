"""Logging in and out, sessions, throttling."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Role, UserSession
from tests.factories import PASSWORD, UserFactory
from tests.support.auth import csrf_token

FAILED = "Adresse électronique ou mot de passe incorrect."


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_login_page_is_french_and_labelled(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert '<label for="email">Adresse électronique' in page
    assert '<label for="password">Mot de passe' in page


def test_successful_login_opens_the_home_page_and_is_audited(client, auth) -> None:
    user = UserFactory(role=Role.CONTROLLER.value, full_name="Claire Contrôle")
    response = auth.login(user.email, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == "/"
    assert "Bonjour Claire Contrôle." in page
    assert user.funder.name in page
    assert "auth.login" in _actions()


def test_unknown_email_and_wrong_password_get_the_same_message(client, auth) -> None:
    user = UserFactory()
    unknown = auth.login("personne@inconnue.test").get_data(as_text=True)
    wrong = auth.login(user.email, "mauvais-mot-de-passe").get_data(as_text=True)
    assert FAILED in unknown and FAILED in wrong
    assert client.get("/").status_code == 302
    failures = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.id)
    ).all()
    assert [f.details["reason"] for f in failures] == ["compte inconnu", "mot de passe incorrect"]


def test_email_is_case_insensitive(client, auth) -> None:
    UserFactory(email="claire@exemple.test")
    assert auth.login("  Claire@Exemple.TEST ").status_code == 303


def test_pending_and_deactivated_accounts_cannot_log_in(client, auth) -> None:
    pending = UserFactory(password=None)
    inactive = UserFactory(is_active=False)
    assert FAILED in auth.login(pending.email, PASSWORD).get_data(as_text=True)
    assert FAILED in auth.login(inactive.email).get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_session_is_rotated_at_login(client, auth) -> None:
    user = UserFactory()
    before = csrf_token(client, "/login")
    auth.login(user.email)
    after = csrf_token(client, "/")
    assert before != after
    # The token from before the login no longer works.
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400


def test_logout_ends_the_session_on_the_server(client, auth) -> None:
    user = UserFactory()
    auth.login(user.email)
    with client.session_transaction() as saved:
        stolen = dict(saved)
    response = auth.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert db.session.scalar(select(func.count(UserSession.id))) == 0
    # Replaying the cookie as it was before logout does not log anyone in.
    with client.session_transaction() as replay:
        replay.update(stolen)
    assert client.get("/").status_code == 302
    assert "auth.logout" in _actions()


def test_login_is_throttled_per_account(app, client, auth) -> None:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    user = UserFactory()
    for _ in range(3):
        assert auth.login(user.email, "mauvais-mot-de-passe").status_code == 200
    throttled = auth.login(user.email)  # even the right password waits now
    assert throttled.status_code == 429
    assert "Trop de tentatives" in throttled.get_data(as_text=True)
    assert "Retry-After" in throttled.headers
    assert "auth.login_throttled" in _actions()
    # Another account from the same address is not blocked by this one.
    other = UserFactory()
    assert auth.login(other.email).status_code == 303


def test_failures_from_one_address_never_lock_the_owner_out_from_another(app, client, auth) -> None:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    user = UserFactory()
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(3):
        response = auth.login(user.email, "mauvais-mot-de-passe", environ_overrides=attacker)
        assert response.status_code == 200
    assert auth.login(user.email, environ_overrides=attacker).status_code == 429
    owner = app.test_client()
    response = owner.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(owner)},
        environ_overrides={"REMOTE_ADDR": "198.51.100.2"},
    )
    assert response.status_code == 303


def test_the_login_form_does_not_say_how_many_tries_are_left(app, client, auth) -> None:
    user = UserFactory()
    for response in (client.get("/login"), auth.login(user.email, "mauvais-mot-de-passe")):
        assert not [name for name, _ in response.headers if name.startswith("X-RateLimit")]


def test_login_is_throttled_per_address(app, client, auth) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 15 minutes"
    for n in range(4):
        auth.login(f"inconnu{n}@exemple.test", "mauvais-mot-de-passe")
    assert auth.login("encore@exemple.test", "x").status_code == 429


def test_successful_logins_do_not_use_up_the_allowance(app, client, auth) -> None:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    user = UserFactory()
    for _ in range(3):
        assert auth.login(user.email).status_code == 303
        auth.logout()


def test_deactivated_user_is_logged_out_at_next_request(app, client, auth) -> None:
    user = UserFactory()
    auth.login(user.email)
    assert client.get("/").status_code == 200
    user.is_active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_expired_session_is_refused(app, client, auth) -> None:
    from datetime import timedelta

    from portal.clock import utcnow

    user = UserFactory()
    auth.login(user.email)
    row = db.session.scalars(select(UserSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client, auth) -> None:
    user = UserFactory()
    response = auth.login(user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
