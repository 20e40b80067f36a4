"""Every route is either on the public allow-list or requires log-in and the right role."""

from __future__ import annotations

import pytest
from flask import Flask

from portal.access import roles_of
from portal.models import Role
from tests.support.apps import make_app

PUBLIC = {
    "static",
    "home.healthz",
    "auth.login",
    "auth.accept_invitation",
    "auth.reset_password",
    "auth.forgot_password",
    "auth.check_password",
    "api-docs.openapi_json",
    "api_docs.docs",
}


def _routes():
    app = make_app()
    for rule in app.url_map.iter_rules():
        yield rule, app.view_functions[rule.endpoint]


def _sample_url(rule) -> str:
    from werkzeug.routing import IntegerConverter

    values = {
        arg: 999999 if isinstance(rule._converters[arg], IntegerConverter) else "x"
        for arg in rule.arguments
    }
    return rule.build(values, append_unknown=False)[1]


def _api_headers(rule, user) -> dict[str, str]:
    """The API takes a personal token, never the session cookie."""
    if not rule.rule.startswith("/api/"):
        return {}
    from portal.blueprints.auth.api_tokens import create_token
    from portal.extensions import db

    _token, plaintext = create_token(user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


ROUTES = sorted(_routes(), key=lambda item: item[0].rule)
PROTECTED = [(rule, view) for rule, view in ROUTES if rule.endpoint not in PUBLIC]


def test_every_route_is_public_by_allow_list_or_declares_its_roles() -> None:
    undeclared = [rule.rule for rule, view in PROTECTED if roles_of(view) is None]
    assert undeclared == []
    # The allow-list names only routes that exist.
    assert {rule.endpoint for rule, _ in ROUTES} >= PUBLIC


@pytest.mark.parametrize(
    ("rule", "method"),
    [
        (rule, method)
        for rule, _ in PROTECTED
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ],
    ids=lambda value: getattr(value, "rule", value),
)
def test_anonymous_visitor_is_sent_to_login(app: Flask, client, rule, method: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # reach the access check, not the CSRF one
    response = client.open(_sample_url(rule), method=method)
    if rule.rule.startswith("/api/"):
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthenticated"
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("rule", "role"),
    [
        (rule, role)
        for rule, view in PROTECTED
        for role in Role
        if role not in roles_of(view) and "GET" in rule.methods
    ],
    ids=lambda value: getattr(value, "rule", value),
)
def test_other_roles_are_refused(app: Flask, client, login_as, rule, role: Role) -> None:
    user = login_as(role)
    response = client.get(_sample_url(rule), headers=_api_headers(rule, user))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("rule", "role"),
    [
        (rule, role)
        for rule, view in PROTECTED
        for role in Role
        if role in roles_of(view) and "GET" in rule.methods and not rule.arguments
    ],
    ids=lambda value: getattr(value, "rule", value),
)
def test_allowed_roles_reach_the_page(client, login_as, rule, role: Role) -> None:
    user = login_as(role)
    response = client.get(_sample_url(rule), headers=_api_headers(rule, user))
    assert response.status_code == 200


def test_anonymous_visit_to_dossiers_lands_on_login(client) -> None:
    response = client.get("/dossiers/", follow_redirects=True)
    assert response.request.path == "/login"
    assert "Veuillez vous connecter" in response.get_data(as_text=True)


def test_login_keeps_where_the_visitor_was_going(client, auth) -> None:
    from tests.factories import UserFactory

    user = UserFactory(role=Role.CONTROLLER.value)
    first = client.get("/service-fait/")
    assert "next=/service-fait/" in first.headers["Location"]
    token_page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'action="/login?next=/service-fait/"' in token_page
    from tests.support.auth import csrf_token

    response = client.post(
        "/login?next=/service-fait/",
        data={
            "email": user.email,
            "password": "un-mot-de-passe-solide-42",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/service-fait/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, target: str) -> None:
    from tests.factories import UserFactory
    from tests.support.auth import csrf_token

    user = UserFactory(role=Role.CONTROLLER.value)
    response = client.post(
        f"/login?next={target}",
        data={
            "email": user.email,
            "password": "un-mot-de-passe-solide-42",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.headers["Location"] == "/"


def test_denied_access_is_audited(client, login_as) -> None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import AuditEvent

    user = login_as(Role.PROVIDER)
    assert client.get("/service-fait/").status_code == 403
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).one()
    assert event.actor_id == user.id
    assert event.details["path"] == "/service-fait/"
