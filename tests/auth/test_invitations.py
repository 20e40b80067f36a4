"""Invitation and password-reset links: signed, single use, expiring."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AccountToken, AuditEvent, Role, User, UserSession
from tests.factories import PASSWORD, UserFactory
from tests.support.auth import csrf_token

NEW_PASSWORD = "nouveau-mot-de-passe-tres-sur"


def _link(message) -> str:
    return re.search(r"http://[^\s]+", message.body).group(0).replace("http://127.0.0.1:5000", "")


def _invite(auth, outbox, email="nouvelle@exemple.test", role="controller"):
    response = auth.post(
        "/admin/utilisateurs/inviter",
        {
            "email": email,
            "full_name": "Nina Nouvelle",
            "role": role,
            "funder_id": 0,
            "provider_id": 0,
            "region_code": "",
        },
        token_from="/admin/utilisateurs/inviter",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return _link(outbox[-1])


def _set_password(client, link, password=NEW_PASSWORD, confirm=None):
    return client.post(
        link,
        data={
            "password": password,
            "confirm": confirm or password,
            "csrf_token": csrf_token(client, link),
        },
    )


def test_invited_controller_sets_a_password_and_is_logged_in(client, auth, login_as, outbox):
    admin = login_as(Role.FUNDER_ADMIN)
    link = _invite(auth, outbox)
    message = outbox[-1]
    assert message.to == ["nouvelle@exemple.test"]
    assert "Invitation" in message.subject
    assert admin.funder.name in message.body
    auth.logout()

    page = client.get(link).get_data(as_text=True)
    assert "Activer votre compte" in page and "Nina Nouvelle" in page
    response = _set_password(client, link)
    assert response.status_code == 303
    home = client.get("/").get_data(as_text=True)
    assert admin.funder.name in home  # the controller belongs to the inviter's funder
    user = db.session.scalar(select(User).where(User.email == "nouvelle@exemple.test"))
    assert user.funder_id == admin.funder_id and user.role == "controller"
    assert not user.is_pending


def test_an_invitation_link_works_once(client, auth, login_as, outbox):
    login_as(Role.FUNDER_ADMIN)
    link = _invite(auth, outbox)
    auth.logout()
    assert _set_password(client, link).status_code == 303
    auth.logout()
    again = client.get(link)
    assert again.status_code == 410
    assert "Ce lien n'est plus valable" in again.get_data(as_text=True)
    assert _set_password(client, link, "un-autre-mot-de-passe-long").status_code == 410


def test_an_expired_invitation_is_refused(client, auth, login_as, outbox):
    login_as(Role.FUNDER_ADMIN)
    link = _invite(auth, outbox)
    auth.logout()
    row = db.session.scalars(select(AccountToken)).one()
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(link).status_code == 410


def test_a_tampered_link_is_refused(client, auth, login_as, outbox):
    login_as(Role.FUNDER_ADMIN)
    link = _invite(auth, outbox)
    auth.logout()
    assert client.get(link[:-3] + "abc").status_code == 410
    # A reset token is not accepted as an invitation, and the other way round.
    assert client.get(link.replace("/invitation/", "/mot-de-passe/nouveau/")).status_code == 410


def test_a_new_invitation_replaces_the_old_link(client, auth, login_as, outbox):
    login_as(Role.FUNDER_ADMIN)
    first = _invite(auth, outbox)
    user = db.session.scalar(select(User).where(User.email == "nouvelle@exemple.test"))
    auth.post(f"/admin/utilisateurs/{user.id}/reinviter", token_from="/admin/utilisateurs")
    second = _link(outbox[-1])
    auth.logout()
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("court", "court", "au moins 12 caractères"),
        ("motdepasse123", "motdepasse123", "trop courant"),
        ("nouvelle@exemple.test", "nouvelle@exemple.test", "ne doit pas reprendre votre adresse"),
        (NEW_PASSWORD, "autre-chose-encore-long", "pas identiques"),
    ],
)
def test_a_weak_password_is_refused_with_a_french_message(
    client, auth, login_as, outbox, password, confirm, message
):
    login_as(Role.FUNDER_ADMIN)
    link = _invite(auth, outbox)
    auth.logout()
    response = _set_password(client, link, password, confirm)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert client.get(link).status_code == 200  # the link was not consumed


def test_password_reset_ends_other_sessions(app, client, auth, outbox):
    user = UserFactory()
    other_browser = app.test_client()
    from tests.support.auth import AuthActions

    AuthActions(other_browser).login(user.email)
    assert other_browser.get("/").status_code == 200

    response = client.post(
        "/mot-de-passe/oublie",
        data={"email": user.email, "csrf_token": csrf_token(client, "/mot-de-passe/oublie")},
        follow_redirects=True,
    )
    assert "Si un compte actif correspond" in response.get_data(as_text=True)
    link = _link(outbox[-1])
    assert link.startswith("/mot-de-passe/nouveau/")
    assert _set_password(client, link).status_code == 303

    assert other_browser.get("/").status_code == 302  # logged out
    auth.logout()
    assert auth.login(user.email, PASSWORD).status_code == 200  # old password gone
    assert auth.login(user.email, NEW_PASSWORD).status_code == 303
    assert db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "auth.password_reset")
    )


def test_password_reset_says_the_same_for_unknown_addresses(client, outbox):
    response = client.post(
        "/mot-de-passe/oublie",
        data={
            "email": "inconnu@exemple.test",
            "csrf_token": csrf_token(client, "/mot-de-passe/oublie"),
        },
        follow_redirects=True,
    )
    assert "Si un compte actif correspond" in response.get_data(as_text=True)
    assert outbox == []


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, client, auth):
    from tests.support.auth import AuthActions

    user = UserFactory()
    other = app.test_client()
    AuthActions(other).login(user.email)
    auth.login(user.email)
    response = client.post(
        "/compte",
        data={
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client, "/compte"),
        },
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert db.session.scalar(select(UserSession.id).where(UserSession.user_id == user.id))
