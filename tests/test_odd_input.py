"""No 500 on odd input: every page that a role may open is walked with identifiers too large
for the database, negative and non-numeric pages, and dates outside 1900–2100. Each gets a
404 or the page with a French message, never an error of the server."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask, request
from werkzeug.routing import IntegerConverter

from portal.access import roles_of
from portal.forms import DateField, Form
from portal.models import Role
from portal.pagination import MAX_PAGE, page_from
from portal.routing import MAX_ID, database_id
from tests.test_access_routes import PROTECTED, _api_headers

TOO_LARGE = (10**20 - 1, 2**63)  # 99999999999999999999, and one past the largest bigint

#: Query parameters the list pages and forms read, each given an odd value.
ODD_QUERY = {
    "page": "99999999999999999999",
    "per_page": "-5",
    "on": "9999-12-31",
    "du": "0001-01-01",
    "au": "99999-01-01",
    "depuis": "1899-12-31",
    "debut": "2101-01-01",
    "fin": "abc",
    "annee": "99999999999999999999",
    "year": "-1",
    "financeur": "99999999999999999999",
    "organisme": "99999999999999999999",
    "funder_id": "99999999999999999999",
    "provider": "99999999999999999999",
    "controleur": "99999999999999999999",
    "montant_min": "1e400",
    "montant_max": "-99999999999999999999",
    "age": "99999999999999999999",
    "statut": "\x00",
    "tri": "-",
    "q": "%_\\",
}
NEGATIVE_PAGES = ({"page": "-1"}, {"page": "abc"}, {"page": "0"})


def _url(rule, number: int, query: dict[str, str] | None = None) -> str:
    values = {
        arg: number if isinstance(rule._converters[arg], IntegerConverter) else "x"
        for arg in rule.arguments
    }
    path = rule.build(values, append_unknown=False)[1]
    return path + ("?" + urlencode(query) if query else "")


CASES = [
    (rule, role)
    for rule, view in PROTECTED
    for role in sorted(roles_of(view) or (), key=lambda r: r.value)
    if "GET" in rule.methods
]


@pytest.mark.parametrize(
    ("rule", "role"), CASES, ids=lambda value: getattr(value, "rule", getattr(value, "value", ""))
)
def test_odd_values_never_give_a_server_error(
    app: Flask, client, login_as, rule, role: Role
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    user = login_as(role)
    headers = _api_headers(rule, user)
    for url in [_url(rule, 1, ODD_QUERY), *(_url(rule, 1, query) for query in NEGATIVE_PAGES)]:
        response = client.get(url, headers=headers)
        response.close()
        assert response.status_code != 500, url
    if any(isinstance(rule._converters[arg], IntegerConverter) for arg in rule.arguments):
        for number in TOO_LARGE:
            response = client.get(_url(rule, number), headers=headers)
            response.close()
            assert response.status_code == 404, _url(rule, number)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("99999999999999999999", None),
        ("0", None),
        ("-1", None),
        ("1e3", None),
        ("١٢", None),  # digits of another script
        ("", None),
        (None, None),
    ],
)
def test_database_id(value: str | None, expected: int | None) -> None:
    assert database_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3), ("0", 1), ("-1", 1), ("abc", 1), (None, 1), ("99999999999999999999", MAX_PAGE)],
)
def test_page_from(value: str | None, expected: int) -> None:
    assert page_from({"page": value} if value is not None else {}) == expected


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("1900-01-01", True),
        ("2100-12-31", True),
        ("1899-12-31", False),
        ("2101-01-01", False),
        ("0001-01-01", False),
        ("9999-12-31", False),
    ],
)
def test_a_date_outside_1900_2100_is_refused_in_french(app, typed: str, accepted: bool) -> None:
    class One(Form):
        class Meta:
            csrf = False

        on = DateField()

    with app.test_request_context(query_string={"on": typed}):
        form = One(request.args)
        form.validate()
    assert (form.on.data is not None) is accepted
    assert form.on.errors == ([] if accepted else ["Saisissez une date entre 1900 et 2100."])
