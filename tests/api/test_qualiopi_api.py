"""GET /api/v1/qualiopi/<ident>?on=YYYY-MM-DD: the answer of `flask qualiopi check --json`."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from portal.identifiers import InvalidIdentifier, classify
from portal.models import AuditEvent, Role
from tests.api import SAMPLE_AS_OF, bearer, import_sample, new_token
from tests.factories import UserFactory

ON = SAMPLE_AS_OF.isoformat()


@pytest.fixture
def api(app):
    """A client without a session, sending a controller's token."""
    token = new_token(UserFactory(role=Role.CONTROLLER.value))
    client = app.test_client()

    def get(path: str, **kwargs):
        return client.get(path, headers=bearer(token), **kwargs)

    return get


@pytest.fixture
def sample(app) -> None:
    import_sample()


def test_an_nda_with_a_leading_zero(api, sample) -> None:
    response = api(f"/api/v1/qualiopi/01971234567?on={ON}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {
        "query": "01971234567",
        "on": ON,
        "list_as_of": ON,
        "matches": [
            {
                "nda": "01971234567",
                "siren": "901234567",
                "siret": "90123456700013",
                "denomination": "Caraïbes Compétences Formation",
                "region": "01",
                "certified": True,
                "categories": {
                    "actions_formation": True,
                    "bilans_competences": False,
                    "vae": True,
                    "apprentissage": False,
                },
                "matched_by": "nda",
            }
        ],
    }


def test_a_siret_certified_in_every_category(api, sample) -> None:
    (match,) = api(f"/api/v1/qualiopi/12345678200010?on={ON}").json["matches"]
    assert match["nda"] == "52441234567"
    assert match["categories"] == {
        "actions_formation": True,
        "bilans_competences": True,
        "vae": True,
        "apprentissage": True,
    }


def test_a_siret_of_a_training_site_answers_through_its_siren(api, sample) -> None:
    # 30012345200033: a third establishment of Compétences Plus, not in the list.
    body = api(f"/api/v1/qualiopi/30012345200033?on={ON}").json
    assert [(m["nda"], m["siret"], m["matched_by"]) for m in body["matches"]] == [
        ("11755432101", "30012345200017", "siren"),
        ("84691234560", "30012345200025", "siren"),
    ]
    declaring = api(f"/api/v1/qualiopi/30012345200025?on={ON}").json["matches"]
    assert [(m["nda"], m["matched_by"]) for m in declaring] == [("84691234560", "siret")]
    by_siren = api(f"/api/v1/qualiopi/300123452?on={ON}").json["matches"]
    assert {m["matched_by"] for m in by_siren} == {"siren"}


def test_an_of_in_the_list_without_certification(api, sample) -> None:
    (match,) = api(f"/api/v1/qualiopi/24451234567?on={ON}").json["matches"]
    assert match["denomination"] == "Jean Dupont Conseil"
    assert match["certified"] is False
    assert not any(match["categories"].values())


def test_a_siren_returns_each_of_its_ndas(api, sample) -> None:
    body = api(f"/api/v1/qualiopi/300123452?on={ON}").json
    assert [(m["nda"], m["siret"], m["region"]) for m in body["matches"]] == [
        ("11755432101", "30012345200017", "11"),
        ("84691234560", "30012345200025", "84"),
    ]
    assert body["matches"][0]["categories"]["apprentissage"] is True
    assert body["matches"][1]["categories"]["apprentissage"] is False


def test_a_previous_nda_finds_its_successor(api, sample) -> None:
    (match,) = api(f"/api/v1/qualiopi/75330000002?on={ON}").json["matches"]
    assert match["nda"] == "75331234567"
    assert match["matched_by"] == "previous_nda"
    assert "found_as_previous_nda" not in match


def test_the_identifier_is_normalised_but_echoed_as_asked(api, sample) -> None:
    body = api(f"/api/v1/qualiopi/300%20123%20452?on={ON}").json
    assert body["query"] == "300 123 452"
    assert len(body["matches"]) == 2


def test_before_the_first_import_the_list_is_null_and_nothing_matches(api, sample) -> None:
    body = api("/api/v1/qualiopi/01971234567?on=2025-05-01").json
    assert body == {"query": "01971234567", "on": "2025-05-01", "list_as_of": None, "matches": []}


def test_an_unknown_identifier_has_no_match(api, sample) -> None:
    body = api(f"/api/v1/qualiopi/732829320?on={ON}").json
    assert body["list_as_of"] == ON
    assert body["matches"] == []


def test_a_later_date_uses_the_list_then_in_force(api, sample) -> None:
    body = api("/api/v1/qualiopi/01971234567?on=2026-01-15").json
    assert body["list_as_of"] == ON
    assert body["matches"][0]["nda"] == "01971234567"


@pytest.mark.parametrize("ident", ["812345677", "8123456760001", "81234567600018", "abc", "0"])
def test_an_invalid_identifier_is_a_400_with_the_french_message(api, ident: str) -> None:
    with pytest.raises(InvalidIdentifier) as expected:
        classify(ident)
    response = api(f"/api/v1/qualiopi/{ident}?on={ON}")
    assert response.status_code == 400
    assert response.json == {
        "error": {"code": "invalid_identifier", "message": str(expected.value)}
    }


def test_a_bad_checksum_message(api) -> None:
    response = api("/api/v1/qualiopi/812345677")
    assert response.json["error"]["message"] == (
        "Le SIREN 812345677 est invalide : la clé de contrôle ne correspond pas."
    )


@pytest.mark.parametrize("on", ["2025-13-01", "2025-02-30", "demain", "20250502", "", "2025-5-2"])
def test_an_invalid_date_is_a_400(api, sample, on: str) -> None:
    response = api("/api/v1/qualiopi/01971234567", query_string={"on": on})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_date"
    assert "AAAA-MM-JJ" in response.json["error"]["message"]


def test_a_misspelt_parameter_is_refused_rather_than_answered_for_today(api, sample) -> None:
    response = api("/api/v1/qualiopi/01971234567?date=2025-05-02")
    assert response.status_code == 400
    assert response.json["error"] == {
        "code": "unknown_parameter",
        "message": "Paramètre inconnu : « date ». Paramètres acceptés : « on ».",
    }
    assert api("/api/v1/?x=1").json["error"]["code"] == "unknown_parameter"


def test_a_repeated_date_is_refused(api, sample) -> None:
    response = api("/api/v1/qualiopi/01971234567?on=2025-05-02&on=2025-05-03")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_without_a_date_the_answer_is_for_today(api, sample) -> None:
    body = api("/api/v1/qualiopi/01971234567").json
    assert body["on"] == date.today().isoformat()


@pytest.mark.parametrize(
    ("ident", "on"),
    [
        ("01971234567", ON),
        ("300123452", ON),
        ("30012345200025", ON),
        ("30012345200033", ON),
        ("75330000001", ON),
        ("732829320", ON),
        ("01971234567", "2025-05-01"),
        ("52441234567", None),
        ("300 123 452", ON),
    ],
)
def test_the_api_gives_the_cli_answer(api, sample, runner, ident: str, on: str | None) -> None:
    args = ["qualiopi", "check", ident, "--json"] + (["--on", on] if on else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    response = api(f"/api/v1/qualiopi/{ident}", query_string={"on": on} if on else {})
    assert response.status_code == 200
    assert response.json == json.loads(result.output)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FUNDER_ADMIN, Role.CONTROLLER, Role.MINISTRY])
def test_the_roles_of_the_qualiopi_section_may_use_it(app, role: Role) -> None:
    token = new_token(UserFactory(role=role.value))
    response = app.test_client().get("/api/v1/qualiopi/01971234567", headers=bearer(token))
    assert response.status_code == 200


def test_a_provider_is_refused_and_the_refusal_audited(app) -> None:
    from portal.extensions import db

    user = UserFactory(role=Role.PROVIDER.value)
    token = new_token(user)
    response = app.test_client().get("/api/v1/qualiopi/01971234567", headers=bearer(token))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).one()
    assert event.actor_id == user.id
    assert event.details["path"] == "/api/v1/qualiopi/01971234567"
    # The index stays open to every role.
    assert app.test_client().get("/api/v1/", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nulle-part", 404, "not_found"),
        ("GET", "/api/v1/qualiopi/", 404, "not_found"),
        ("POST", "/api/v1/qualiopi/01971234567", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/", 405, "method_not_allowed"),
    ],
)
def test_other_errors_are_json_with_a_stable_code(api, app, method, path, status, code) -> None:
    response = app.test_client().open(path, method=method)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
