"""A funder's choice about a Qualiopi certification lost during an action (issue 14):
certified on the start date, lost afterwards, is an alert by default; blocking when the
funder chooses so, in its settings page. The checks are re-run at once."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Role
from portal.public_list.importer import import_list
from portal.service_fait import runner as service
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory, UserFactory
from tests.public_list.lists import GARONNE, write_list
from tests.service_fait.control_helpers import make_certificate, make_invoice
from tests.service_fait.test_runner import findings, garonne
from tests.support.auth import client_as

TODAY = date.today()


def lost_during_the_action(tmp_path):
    """A dossier begun 60 days ago, certified then; the OF lost the category 20 days ago,
    inside the period its invoice bills."""
    provider = garonne()
    funder = FunderFactory()
    dossier = make_dossier(
        funder, provider, start_date=TODAY - timedelta(days=60), end_date=TODAY + timedelta(30)
    )
    import_list(str(write_list(tmp_path / "1.csv", [GARONNE])), as_of=TODAY - timedelta(400))
    import_list(
        str(write_list(tmp_path / "2.csv", [GARONNE.but(formation=False, vae=True)])),
        as_of=TODAY - timedelta(days=20),
    )
    start = dossier.start_date
    make_invoice(dossier, start, TODAY - timedelta(days=1), amount="100", hours="14")
    make_certificate(dossier, hours="14", start=start, end=TODAY - timedelta(days=1))
    service.run_checks([dossier.id])
    return funder, dossier


def qualiopi_period(dossier):
    return [(f.code, f.severity) for f in findings(dossier) if f.code.startswith("QUALIOPI")]


def test_a_loss_after_the_start_is_an_alert_until_the_funder_blocks_it(app, tmp_path) -> None:
    funder, dossier = lost_during_the_action(tmp_path)
    assert qualiopi_period(dossier) == [("QUALIOPI_PERIOD", "alerte")]
    (finding,) = [f for f in findings(dossier) if f.code == "QUALIOPI_PERIOD"]
    assert "perdue en cours d'action" in finding.explanation

    admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder)
    client, auth = client_as(app, admin)
    page = client.get("/service-fait/reglages").get_data(as_text=True)
    assert "Certification Qualiopi perdue en cours d'action" in page
    assert 'id="perte_bloquante"' in page and "checked" not in page

    response = auth.post("/service-fait/reglages", {"perte_bloquante": "1"})
    assert response.status_code == 303
    assert qualiopi_period(dossier) == [("QUALIOPI_PERIOD", "bloquant")]
    assert "checked" in client.get("/service-fait/reglages").get_data(as_text=True)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.settings_changed")
    ).one()
    assert event.details == {"qualiopi_loss_blocks_payment": [False, True]}

    auth.post("/service-fait/reglages", {})
    assert qualiopi_period(dossier) == [("QUALIOPI_PERIOD", "alerte")]

    # Saved again unchanged: said so, nothing re-run, nothing audited.
    client.get("/service-fait/reglages")  # the page shows the last change's message
    page = auth.post("/service-fait/reglages", {}, follow_redirects=True).get_data(as_text=True)
    assert "Aucun changement : le réglage était déjà celui-ci." in page
    assert "ont été relancées" not in page
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.settings_changed")
    ).all()
    assert len(events) == 2


def test_only_a_funder_admin_changes_it(app) -> None:
    funder = FunderFactory()
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    client, auth = client_as(app, controller)
    assert client.get("/service-fait/reglages").status_code == 403
    assert auth.post("/service-fait/reglages", {"perte_bloquante": "1"}).status_code == 403
    db.session.expire_all()
    assert funder.qualiopi_loss_blocks_payment is False
