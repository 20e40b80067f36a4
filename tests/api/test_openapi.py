"""The OpenAPI 3.1 document, generated from the routes' schemas (flask-smorest), covers
every API route, and the API conforms to it (schemathesis over every operation)."""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from portal.models import Role
from tests.api import bearer, funder_token, import_sample
from tests.factories import DossierFactory, FunderFactory, UserFactory
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
IDENTIFIER_FORMAT = "siren-siret-nda"
schemathesis.openapi.format(IDENTIFIER_FORMAT, VALID_IDENTIFIERS)


def _openapi_path(rule: str) -> str:
    """`/api/v1/qualiopi/<ident>` → `/api/v1/qualiopi/{ident}`."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


UNDESCRIBED = {"api-docs.openapi_json", "api_docs.docs"}  # the document and its viewer


def _api_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX + "/") and rule.endpoint not in UNDESCRIBED
    ]


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_the_document_is_openapi_3_1_and_public(document) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] == "API du portail qualité des financeurs"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]


def test_every_api_route_is_described(app, document) -> None:
    rules = _api_rules(app)
    assert len(rules) >= 10
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = {
        (_openapi_path(rule.rule), method)
        for rule in rules
        for method in rule.methods - METHODS_NOT_DESCRIBED
    }
    assert described == served


def test_errors_are_described_with_the_error_schema(document) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "401" in operation["responses"], (path, method)
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) >= {"code", "message", "fields", "current_version"}
    assert error["additionalProperties"] is False


def test_the_check_result_schema_names_every_field(document) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["CheckResult"]["properties"]["list_as_of"]["type"]) == {"string", "null"}
    assert set(schemas["Match"]["properties"]) == {
        "nda",
        "siren",
        "siret",
        "denomination",
        "region",
        "certified",
        "categories",
        "matched_by",
    }
    parameters = document["paths"]["/api/v1/qualiopi/{ident}"]["get"]["parameters"]
    assert {(p["name"], p["in"]) for p in parameters} >= {("ident", "path"), ("on", "query")}


def test_the_docs_page_serves_swagger_ui_from_the_portal(client) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    assert "http" not in html.replace("http-equiv", "")  # no CDN
    asset = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


# --- Conformance: schemathesis generates requests from the document ---------------------


@pytest.fixture
def api_token(app) -> str:
    """A funder's token with every scope, the list imported, a few dossiers."""
    import_sample()
    funder = FunderFactory()
    UserFactory(role=Role.CONTROLLER.value, funder=funder)
    for _ in range(3):
        DossierFactory(funder=funder)
    return funder_token(funder)


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
    # Schema-valid values may still break the dossiers' rules (dates, the OF in the public
    # list, a reachable URL...): refused with 422 and their fields, as documented; and a
    # query parameter mutated from string to integer ("0" for 0) reads the same in a query
    # string. The two acceptance checks cannot know that (refusals are tested in
    # test_dossiers_api.py); every other check runs: no server error, documented statuses,
    # answers that match their schemas.
    case.call_and_validate(
        app=app,
        headers=bearer(api_token),
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
    )
