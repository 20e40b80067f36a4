"""Every POST needs a CSRF token; logout is a POST."""

from __future__ import annotations

import pytest

from portal.models import Role
from tests.support.apps import make_app

#: The JSON API is exempt: it takes a bearer token, never the session cookie (an API POST
#: without a token is answered 401, tests/test_access_routes.py).
POST_RULES = sorted(
    (
        rule
        for rule in make_app().url_map.iter_rules()
        if "POST" in rule.methods and not rule.rule.startswith("/api/")
    ),
    key=lambda rule: rule.rule,
)


def _url(rule) -> str:
    from werkzeug.routing import IntegerConverter

    values = {
        arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
        for arg in rule.arguments
    }
    return rule.build(values, append_unknown=False)[1]


def test_there_are_post_routes_to_check() -> None:
    assert len(POST_RULES) >= 8


@pytest.mark.parametrize("rule", POST_RULES, ids=lambda rule: rule.rule)
def test_post_without_token_is_refused_for_a_visitor(client, rule) -> None:
    response = client.post(_url(rule), data={"email": "x@exemple.test"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


@pytest.mark.parametrize("rule", POST_RULES, ids=lambda rule: rule.rule)
def test_post_without_token_is_refused_for_a_logged_in_admin(client, login_as, rule) -> None:
    login_as(Role.ADMIN)
    response = client.post(_url(rule), data={})
    assert response.status_code == 400


def test_post_with_a_forged_token_is_refused(client, login_as) -> None:
    login_as(Role.ADMIN)
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_htmx_sends_the_token_in_a_header(client, login_as) -> None:
    import re

    login_as(Role.ADMIN)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = client.post(
        "/mot-de-passe/verifier",
        data={"password": "court"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert "au moins 12 caractères" in response.get_data(as_text=True)


def test_logout_by_get_is_refused(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    response = client.get("/logout")
    assert response.status_code == 405
    assert client.get("/").status_code == 200  # still logged in
