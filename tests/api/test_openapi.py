"""The OpenAPI 3.1 document covers every API route, and the API conforms to it."""

from __future__ import annotations

import json
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from portal.blueprints.api.openapi import DOCUMENT, IDENTIFIER_FORMAT

from portal.access import roles_of
from portal.models import Role
from tests.api import bearer, import_sample, new_token
from tests.factories import UserFactory
from tests.support.apps import make_app
from tests.support.run import CACHE_DIR

# Hypothesis keeps its tables (the characters of a codec: seconds to compute at every
# collection) and a cache of constants: outside the tree, kept from one run to the next.
# No example database (`database=None` below): what is kept changes no test's examples.
set_hypothesis_home_dir(os.path.join(CACHE_DIR, "hypothesis"))

API_PREFIX = "/api/v1"
METHODS_NOT_DESCRIBED = {"HEAD", "OPTIONS"}


def _luhn_complete(prefix: str) -> str:
    """`prefix` followed by the digit that makes its Luhn key valid."""
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


#: Identifiers of the sample list (so that answers carry matches), and random valid ones.
SAMPLE_IDENTIFIERS = (
    "01971234567",
    "300123452",
    "30012345200025",
    "12345678200010",
    "75330000002",
    "24451234567",
)
VALID_IDENTIFIERS = st.one_of(
    st.sampled_from(SAMPLE_IDENTIFIERS),
    st.from_regex(r"\A[0-9]{11}\Z"),
    st.from_regex(r"\A[0-9]{8}\Z").map(_luhn_complete),
    st.from_regex(r"\A[0-9]{13}\Z").map(_luhn_complete),
)
schemathesis.openapi.format(IDENTIFIER_FORMAT, VALID_IDENTIFIERS)


def _openapi_path(rule: str) -> str:
    """`/api/v1/qualiopi/<ident>` → `/qualiopi/{ident}` (paths are relative to the server)."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule[len(API_PREFIX) :])


def _api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIX + "/")]


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_the_document_is_openapi_3_1_and_public(document) -> None:
    assert document == json.loads(json.dumps(DOCUMENT))
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] == "API du portail qualité des financeurs"
    assert document["servers"] == [{"url": API_PREFIX, "description": "Ce portail."}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }


def test_every_api_route_is_described(app, document) -> None:
    rules = _api_rules(app)
    assert len(rules) >= 3
    for rule in rules:
        path = _openapi_path(rule.rule)
        assert path in document["paths"], rule.rule
        for method in rule.methods - METHODS_NOT_DESCRIBED:
            assert method.lower() in document["paths"][path], (rule.rule, method)
    # And nothing is described that does not exist.
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (_openapi_path(rule.rule), method)
        for rule in rules
        for method in rule.methods - METHODS_NOT_DESCRIBED
    }
    assert described == served


def test_security_and_errors_are_described_as_served(app, document) -> None:
    for rule in _api_rules(app):
        operation = document["paths"][_openapi_path(rule.rule)]["get"]
        roles = roles_of(app.view_functions[rule.endpoint])
        if roles is None:  # public
            assert operation["security"] == []
            continue
        assert "security" not in operation  # the document's default: the bearer token
        assert "401" in operation["responses"]
        if set(roles) != set(Role):
            assert "403" in operation["responses"]
    parameters = document["paths"]["/qualiopi/{ident}"]["get"]["parameters"]
    assert {(p["name"], p["in"], p["required"]) for p in parameters} == {
        ("ident", "path", True),
        ("on", "query", False),
    }
    responses = document["paths"]["/qualiopi/{ident}"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404"}


def test_the_check_result_schema_names_every_field(document) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["CheckResult"]["properties"]["list_as_of"]["type"] == ["string", "null"]
    match = schemas["Match"]["properties"]
    assert set(match) == {
        "nda",
        "siren",
        "siret",
        "denomination",
        "region",
        "certified",
        "categories",
        "matched_by",
    }
    assert "matched_by" in schemas["Match"]["required"]
    assert schemas["Match"]["properties"]["matched_by"]["enum"] == [
        "nda",
        "siret",
        "siren",
        "previous_nda",
    ]
    assert set(schemas["Categories"]["required"]) == {
        "actions_formation",
        "bilans_competences",
        "vae",
        "apprentissage",
    }


# --- Conformance: schemathesis generates requests from the document ---------------------


@pytest.fixture
def api_token(app) -> str:
    """A controller's token (the Qualiopi API is open to controllers), the list imported."""
    import_sample()
    return new_token(UserFactory(role=Role.CONTROLLER.value), "schemathesis")


#: Loaded from the served document, through an application of the test configuration
#: (`from_fixture` would load it per test, but fails under pytest 9.2: schemathesis reads
#: the removed `Function._nodeid`). Requests go to the test's own `app`. Schemathesis
#: leaves out the operation that serves the document itself (tested above).
schema = schemathesis.openapi.from_wsgi(f"{API_PREFIX}/openapi.json", make_app())


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_api_conforms_to_its_document(case, app, api_token: str) -> None:
    case.call_and_validate(app=app, headers=bearer(api_token))
