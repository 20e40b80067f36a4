"""Personal API tokens: created and revoked on « Mon compte », the only way into the API."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal import formatting
from portal.blueprints.admin.services import deactivate_user
from portal.blueprints.auth.api_tokens import TOKEN_PREFIX, revoke_token, user_for_token
from portal.clock import utcnow
from portal.extensions import db
from portal.models import ApiToken, AuditEvent, Role
from tests.api import bearer, new_token
from tests.factories import UserFactory

TOKEN_IN_PAGE = re.compile(r'id="nouveau-jeton"[^>]*value="(pq_[A-Za-z0-9_-]+)"')


def _token_rows() -> list[ApiToken]:
    db.session.expire_all()
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_create_token_from_the_profile_shows_it_once_and_stores_only_its_hash(
    app, client, auth, login_as
) -> None:
    user = login_as(Role.CONTROLLER)
    response = auth.post("/compte/jetons", {"name": "Tableur de suivi"}, token_from="/compte")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Copiez-le maintenant : il ne sera plus" in page
    plaintext = TOKEN_IN_PAGE.search(page).group(1)
    assert plaintext.startswith(TOKEN_PREFIX) and len(plaintext) == 46

    (row,) = _token_rows()
    assert row.user_id == user.id
    assert row.name == "Tableur de suivi"
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row.prefix == plaintext[:11]
    stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
    assert not any(plaintext in value for value in stored)
    (event,) = _events("api_token.created")
    assert event.actor_id == user.id and event.object_id == str(row.id)
    assert plaintext not in str(event.details)

    # Shown once: the account page lists the token by its prefix, never the whole of it.
    account = client.get("/compte").get_data(as_text=True)
    assert plaintext not in account
    assert "Tableur de suivi" in account
    assert f"{row.prefix}…" in account
    assert "Jamais" in account  # not used yet


def test_the_created_token_opens_the_api_and_records_its_last_use(
    app, client, auth, login_as
) -> None:
    user = login_as(Role.CONTROLLER)
    page = auth.post("/compte/jetons", {"name": "Script"}, token_from="/compte")
    plaintext = TOKEN_IN_PAGE.search(page.get_data(as_text=True)).group(1)

    response = app.test_client().get("/api/v1/", headers=bearer(plaintext))
    assert response.status_code == 200
    assert response.json == {"version": "v1", "user": {"email": user.email, "role": "controller"}}
    (row,) = _token_rows()
    assert row.last_used_at is not None
    assert formatting.datetime_fr(row.last_used_at) in client.get("/compte").get_data(as_text=True)


def test_last_use_is_written_at_most_once_a_minute(app, count_queries) -> None:
    user = UserFactory(role=Role.CONTROLLER.value)
    plaintext = new_token(user)
    api = app.test_client()

    assert api.get("/api/v1/", headers=bearer(plaintext)).status_code == 200
    first = _token_rows()[0].last_used_at
    with count_queries() as counter:
        assert api.get("/api/v1/", headers=bearer(plaintext)).status_code == 200
    assert not [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]
    assert _token_rows()[0].last_used_at == first

    long_ago = utcnow() - timedelta(minutes=2)
    db.session.execute(update(ApiToken).values(last_used_at=long_ago))
    db.session.commit()
    assert api.get("/api/v1/", headers=bearer(plaintext)).status_code == 200
    assert _token_rows()[0].last_used_at > long_ago + timedelta(minutes=1)


def test_htmx_creation_answers_the_token_panel_alone(client, auth, login_as) -> None:
    login_as(Role.MINISTRY)
    response = auth.post(
        "/compte/jetons",
        {"name": "Tableau de bord"},
        token_from="/compte",
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="api-tokens"')
    assert TOKEN_IN_PAGE.search(body)
    assert "HX-Request" in response.headers["Vary"]


def test_a_token_needs_a_name(client, auth, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = auth.post("/compte/jetons", {"name": "  "}, token_from="/compte")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Donnez un nom au jeton." in page
    assert not TOKEN_IN_PAGE.search(page)
    assert _token_rows() == []


def test_revoke_from_the_profile_then_the_token_is_refused(app, client, auth, login_as) -> None:
    user = login_as(Role.CONTROLLER)
    plaintext = new_token(user, "Ancien script")
    (row,) = _token_rows()
    api = app.test_client()
    assert api.get("/api/v1/", headers=bearer(plaintext)).status_code == 200

    response = auth.post(f"/compte/jetons/{row.id}/revoquer", token_from="/compte")
    assert response.status_code == 303
    assert response.headers["Location"] == "/compte"
    assert _token_rows()[0].revoked_at is not None
    (event,) = _events("api_token.revoked")
    assert event.actor_id == user.id and event.object_id == str(row.id)

    refused = api.get("/api/v1/", headers=bearer(plaintext))
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthenticated"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Révoqué le" in client.get("/compte").get_data(as_text=True)


def test_another_user_cannot_revoke_a_token(app, client, auth, login_as) -> None:
    owner = UserFactory(role=Role.CONTROLLER.value)
    plaintext = new_token(owner)
    (row,) = _token_rows()
    intruder = login_as(Role.ADMIN)

    response = auth.post(f"/compte/jetons/{row.id}/revoquer", token_from="/compte")
    assert response.status_code == 404
    assert _token_rows()[0].revoked_at is None
    (event,) = _events("access.denied")
    assert event.actor_id == intruder.id
    assert event.details["token_id"] == row.id
    assert _events("api_token.revoked") == []
    assert app.test_client().get("/api/v1/", headers=bearer(plaintext)).status_code == 200


def test_revoke_service_refuses_another_users_token(app) -> None:
    from portal.blueprints.auth.api_tokens import TokenNotFound

    owner, other = UserFactory(), UserFactory()
    new_token(owner)
    (row,) = _token_rows()
    with pytest.raises(TokenNotFound):
        revoke_token(other, row.id)
    with pytest.raises(TokenNotFound):
        revoke_token(owner, row.id + 1000)


def test_a_deactivated_users_token_stops_working(app) -> None:
    user = UserFactory(role=Role.CONTROLLER.value)
    plaintext = new_token(user)
    api = app.test_client()
    assert api.get("/api/v1/", headers=bearer(plaintext)).status_code == 200

    deactivate_user(UserFactory(role=Role.ADMIN.value), user)
    db.session.commit()
    response = api.get("/api/v1/", headers=bearer(plaintext))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"
    assert user_for_token(plaintext) is None


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/qualiopi/81234567600017"])
def test_the_session_cookie_alone_does_not_open_the_api(client, login_as, path: str) -> None:
    login_as(Role.ADMIN)
    assert client.get("/compte").status_code == 200  # the session is live
    response = client.get(path)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer pq_inconnu",
        "Bearer " + "pq_" + "x" * 200,
        "Basic dXNlcjpwYXNz",
        "Token pq_abc",
    ],
)
def test_malformed_or_unknown_tokens_are_refused(app, client, authorization: str) -> None:
    user = UserFactory()
    new_token(user)
    response = client.get("/api/v1/", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"


def test_the_token_is_read_with_either_case_of_bearer(app, client) -> None:
    plaintext = new_token(UserFactory())
    response = client.get("/api/v1/", headers={"Authorization": f"bearer {plaintext}"})
    assert response.status_code == 200


def test_token_forms_require_csrf(app, client, auth, login_as) -> None:
    user = login_as(Role.CONTROLLER)
    response = client.post("/compte/jetons", data={"name": "Sans jeton CSRF"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert _token_rows() == []

    plaintext = new_token(user)
    (row,) = _token_rows()
    response = client.post(f"/compte/jetons/{row.id}/revoquer")
    assert response.status_code == 400
    assert _token_rows()[0].revoked_at is None
    assert app.test_client().get("/api/v1/", headers=bearer(plaintext)).status_code == 200
