"""The compact quality grid: one line per indicator (its finding, deadline, evidence count)
opening in place; « conforme » for a criterion and « tout conforme sauf… » in one action,
confirmed first and audited; the progress « 18 / 25 constats »."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.quality.helpers import make_world, plan, row_of, set_finding

ALL_32 = dict.fromkeys(("certifying", "apprenticeship", "work_based", "subcontracting"), "y")


@pytest.fixture
def world(app):
    return make_world()


def _grid(auth, control) -> str:
    return auth.client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)


def test_a_32_indicator_grid_is_one_line_per_indicator_with_its_progress(auth, world) -> None:
    auth.log_in(world.controller)
    control = plan(auth, world, **ALL_32)
    assert len(control.findings) == 32
    set_finding(auth, control, "2", "nc_mineure", observations="Pas publiés.")
    page = _grid(auth, control)
    assert page.count('class="qc-line"') == 32
    assert "1 / 32 constats" in page
    line = re.search(
        r'<summary class="qc-line">(.*?)</summary>', page[page.index("indicateur-2") :], re.S
    )
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", line.group(1))).split())
    assert words.startswith("Indicateur 2 — indicateurs de résultats Non-conformité mineure")
    assert "échéance" in words
    # The rows are closed: the edit form is inside each line's <details>.
    assert '<details class="qc-row-details">' in page


def test_all_conforming_but_two_is_confirmed_then_recorded_and_audited(auth, world) -> None:
    auth.log_in(world.controller)
    control = plan(auth, world, **ALL_32)
    set_finding(auth, control, "1", "nc_majeure", observations="Aucune information publiée.")
    url = f"/qualite/controles/{control.id}/conformes"
    asked = auth.post(url, {"sauf": ["4", "9"]})
    assert asked.status_code == 200
    confirm = unescape(asked.get_data(as_text=True))
    assert "pour 29 indicateurs" in confirm
    assert "2 indicateurs restent à renseigner : Indicateur 4" in confirm
    assert "1 indicateur déjà renseigné garde son constat" in confirm
    assert row_of(control, "3").finding is None  # nothing recorded before confirming
    done = auth.post(url, {"sauf": ["4", "9"], "confirme": "1"})
    assert done.status_code == 303
    assert row_of(control, "3").finding == "conforme"
    assert row_of(control, "1").finding == "nc_majeure"  # kept
    assert row_of(control, "4").finding is None and row_of(control, "9").finding is None
    assert "30 / 32 constats" in _grid(auth, control)
    bulk = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_findings.bulk_conforming")
    ).one()
    assert bulk.actor_id == world.controller.id and bulk.details["excepted"] == ["4", "9"]
    assert len(bulk.details["codes"]) == 29
    recorded = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_finding.recorded")
    ).all()
    assert len(recorded) == 30  # indicator 1, then the 29 one by one


def test_a_whole_criterion_conforming(auth, world) -> None:
    auth.log_in(world.controller)
    control = plan(auth, world, **ALL_32)
    page = _grid(auth, control)
    assert 'id="conforme-critere-2"' in page
    auth.post(
        f"/qualite/controles/{control.id}/conformes", {"portee": "critere-2", "confirme": "1"}
    )
    # Criterion 2: indicators 4 to 8.
    assert {row_of(control, c).finding for c in ("4", "5", "6", "7", "8")} == {"conforme"}
    assert row_of(control, "9").finding is None
    assert 'id="conforme-critere-2"' not in _grid(auth, control)  # nothing left there


def test_only_the_lead_funders_staff_may_and_not_once_reported(auth, world) -> None:
    auth.log_in(world.controller)
    control = plan(auth, world)
    auth.log_in(world.stranger_controller)
    url = f"/qualite/controles/{control.id}/conformes"
    assert auth.post(url, {"confirme": "1"}).status_code == 404
    assert row_of(control, "1").finding is None
    auth.log_in(world.provider_user)
    assert auth.post(url, {"confirme": "1"}).status_code == 403
    auth.log_in(world.controller)
    assert auth.post(url, {"portee": "critere-99"}).status_code == 404
