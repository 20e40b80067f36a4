"""The audit log page: filters (who, action, object, period), French labels instead of
codes, readable details instead of JSON; a funder admin reads their own funder's trail and
nothing else; one pager."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from portal import audit, audit_labels, clock
from portal.extensions import db
from portal.models import Role
from tests.factories import FunderFactory, UserFactory


def _text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).replace("\u202f", " ").replace("\u00a0", " ").split())


def _rows(response) -> str:
    body = response.get_data(as_text=True)
    return body[body.index("<tbody>") : body.index("</tbody>")]


@pytest.fixture
def trail(app):
    """Events of two funders, and one of the platform."""
    ours, theirs = FunderFactory(name="Financeur A"), FunderFactory(name="Financeur B")
    controller = UserFactory(role=Role.CONTROLLER.value, funder=ours, email="claire@a.test")
    other = UserFactory(role=Role.CONTROLLER.value, funder=theirs, email="bob@b.test")
    audit.record(
        "piece.added",
        actor=controller,
        object_type="pieces",
        object_id=7,
        funder_id=ours.id,
        details={
            "dossier_id": 3,
            "kind": "facture",
            "period": ["2026-08-01", "2026-08-31"],
            "size": 18_650,
            "sha256": "6d897218fed2d0b70ea3213b2b4f07e2aa2cef3675ad6de1a2d84291ca981023",
            "mystery_key": "x",
        },
    )
    audit.record(
        "service_fait.decision_taken",
        actor=controller,
        object_type="dossiers",
        object_id=3,
        funder_id=ours.id,
        details={"outcome": "conforme"},
    )
    audit.record(
        "piece.added",
        actor=other,
        object_type="pieces",
        object_id=8,
        funder_id=theirs.id,
        details={"kind": "facture"},
    )
    audit.record("funder.created", actor_label="système", object_type="funders", object_id=1)
    db.session.commit()
    return ours, theirs


def test_actions_objects_and_details_are_written_in_french(client, login_as, trail) -> None:
    login_as(Role.ADMIN)
    response = client.get("/admin/journal")
    rows = _rows(response)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", rows)).replace("\u202f", " ").split())
    assert "Pièce envoyée" in text and "Pièce n° 7" in text
    assert "Décision sur une facture" in text
    assert "type : facture" in text
    assert "période : du 01/08/2026 au 31/08/2026" in text
    assert "taille : 18,2 Ko" in text
    assert "autres informations : 1 donnée enregistrée" in text
    # No code, no JSON.
    for code in ("piece.added", "service_fait.decision_taken", "pieces", "dossier_id", "{"):
        assert code not in text, code


def test_an_unknown_action_is_still_said_in_french() -> None:
    assert audit_labels.action_label("piece.teleported") == "Pièces : autre action"
    assert audit_labels.action_label("nouveau.truc") == "Portail : autre action"
    assert audit_labels.object_label("pieces", "7") == "Pièce n° 7"


def test_the_filters_narrow_the_log_and_travel_in_the_pager(client, login_as, trail) -> None:
    login_as(Role.ADMIN)
    by_action = _rows(client.get("/admin/journal?action=piece.added"))
    assert by_action.count("<tr>") == 2
    by_who = _rows(client.get("/admin/journal?qui=claire"))
    assert by_who.count("<tr>") == 2 and "bob@b.test" not in by_who
    by_object = _rows(client.get("/admin/journal?objet=pieces&numero=8"))
    assert by_object.count("<tr>") == 1 and "bob@b.test" in by_object
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert "Aucun événement" in _rows(client.get(f"/admin/journal?du={tomorrow}"))
    today = clock.today().isoformat()
    assert _rows(client.get(f"/admin/journal?du={today}&au={today}")).count("<tr>") >= 4
    # Nonsense is ignored, never an error.
    assert client.get("/admin/journal?du=hier&objet=rien&page=abc").status_code == 200


def test_a_funder_admin_reads_the_trail_of_their_funder_only(client, login_as, trail) -> None:
    ours, _ = trail
    login_as(Role.FUNDER_ADMIN, funder=ours)
    response = client.get("/admin/journal")
    assert response.status_code == 200
    rows = _rows(response)
    assert "claire@a.test" in rows
    assert "bob@b.test" not in rows and "Financeur créé" not in rows
    # Even asked by number, another funder's event is not there.
    assert "bob@b.test" not in _rows(client.get("/admin/journal?objet=pieces&numero=8"))
    # The seal covers the whole log: only the platform admin checks it.
    page = _text(client.get("/admin/journal?verifier=1"))
    assert "Vérifier l'intégrité" not in page and "Chaîne intègre" not in page


def test_a_controller_may_not_read_the_log(client, login_as, trail) -> None:
    ours, _ = trail
    login_as(Role.CONTROLLER, funder=ours)
    assert client.get("/admin/journal").status_code == 403


def test_htmx_filters_get_the_results_alone(client, login_as, trail) -> None:
    login_as(Role.ADMIN)
    response = client.get("/admin/journal?action=piece.added", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="results"' in body
