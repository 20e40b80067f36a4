"""Alerts after an import: only OF with open dossiers at stake, naming those dossiers, to the
funders concerned only."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, QualiopiAlert, Role
from portal.public_list.alerts import Loss, raise_alerts
from portal.public_list.importer import import_list
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderProviderFactory, ProviderFactory, UserFactory
from tests.public_list.lists import BILANS, CARAIBES, GARONNE, PLUS_PARIS, write_list
from tests.support.auth import AuthActions, csrf_token

TODAY = date.today()
# GARONNE is certified for training actions only; CARAIBES for training actions and VAE.
FIRST = [GARONNE, CARAIBES, BILANS, PLUS_PARIS]


def _import_two_lists(tmp_path, second):
    import_list(str(write_list(tmp_path / "1.csv", FIRST)), as_of=TODAY - timedelta(days=10))
    return import_list(str(write_list(tmp_path / "2.csv", second)), as_of=TODAY)


def _provider(org):
    return ProviderFactory(nda=org.nda, name=org.name, siret=org.siret)


def test_a_loss_puts_at_stake_the_dossiers_of_the_lost_category_or_all_when_it_left():
    cases = [
        (Loss(lost=["actions_formation"]), "actions_formation", True),
        (Loss(lost=["actions_formation"]), "vae", False),
        (Loss(lost=["vae", "bilans_competences"]), "bilans_competences", True),
        (Loss(left_list=True), "apprentissage", True),
        (Loss(), "actions_formation", False),
    ]
    for loss, category, expected in cases:
        assert loss.puts_at_stake(category) is expected, (loss, category)


def test_an_alert_names_the_open_dossiers_funded_for_the_lost_category(tmp_path, outbox):
    controller = UserFactory(role="controller", full_name="Claire Contrôle")
    funder = controller.funder
    caraibes = _provider(CARAIBES)
    training = make_dossier(funder, caraibes, reference="TP-FORM-1", category="actions_formation")
    vae = make_dossier(funder, caraibes, reference="TP-VAE-1", category="vae")
    make_dossier(
        funder, caraibes, reference="TP-CLOS-1", category="actions_formation", status="clos"
    )

    run = _import_two_lists(tmp_path, [GARONNE, CARAIBES.but(formation=False), BILANS, PLUS_PARIS])
    alerts = raise_alerts(run)

    assert [(a.nda, a.left_list, a.lost) for a in alerts] == [
        (CARAIBES.nda, False, ["actions_formation"])
    ]
    assert [d.reference for d in alerts[0].dossiers] == [training.reference]
    assert vae not in alerts[0].dossiers
    assert [m.to for m in outbox] == [[controller.email]]
    body = outbox[0].body
    assert "Caraïbes Compétences" in body and "a perdu la certification" in body
    assert "TP-FORM-1" in body and "TP-VAE-1" not in body and "TP-CLOS-1" not in body
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "qualiopi.alert_raised")
    ).one()
    assert event.details["dossiers"] == ["TP-FORM-1"]


def test_no_alert_when_no_open_dossier_is_funded_for_what_was_lost(tmp_path, outbox):
    controller = UserFactory(role="controller")
    caraibes = _provider(CARAIBES)
    # The OF loses VAE; the funder only pays it for training actions.
    make_dossier(controller.funder, caraibes, category="actions_formation")
    # Followed OF without any dossier, and an OF whose only dossier is closed, leave the list.
    FunderProviderFactory(funder=controller.funder, provider=_provider(BILANS))
    make_dossier(controller.funder, _provider(PLUS_PARIS), status="clos")

    run = _import_two_lists(tmp_path, [GARONNE, CARAIBES.but(vae=False)])

    assert raise_alerts(run) == []
    assert outbox == []


def test_an_of_leaving_the_list_puts_every_open_dossier_at_stake_per_funder(tmp_path, outbox):
    first = UserFactory(role="controller")
    second = UserFactory(role="controller")
    garonne = _provider(GARONNE)
    make_dossier(first.funder, garonne, reference="A-1", category="actions_formation")
    make_dossier(first.funder, garonne, reference="A-2", category="bilans_competences")
    make_dossier(second.funder, garonne, reference="B-1", category="actions_formation")

    run = _import_two_lists(tmp_path, [CARAIBES, BILANS, PLUS_PARIS])
    alerts = {a.funder_id: a for a in raise_alerts(run)}

    assert {f: [d.reference for d in a.dossiers] for f, a in alerts.items()} == {
        first.funder_id: ["A-1", "A-2"],
        second.funder_id: ["B-1"],
    }
    assert all(a.left_list for a in alerts.values())
    mails = {m.to[0]: m.body for m in outbox}
    assert set(mails) == {first.email, second.email}
    # Each funder reads its own dossiers only.
    assert "A-1" in mails[first.email] and "B-1" not in mails[first.email]
    assert "B-1" in mails[second.email] and "A-1" not in mails[second.email]
    assert "n'est plus dans la liste publique" in mails[first.email]


def test_the_alerts_page_lists_the_dossiers_and_records_who_saw_it(client, tmp_path, count_queries):
    controller = UserFactory(role="controller")
    garonne, caraibes = _provider(GARONNE), _provider(CARAIBES)
    dossier = make_dossier(controller.funder, garonne, reference="TP-2026-001")
    make_dossier(controller.funder, caraibes, reference="TP-2026-002")
    run = _import_two_lists(tmp_path, [GARONNE.but(formation=False), BILANS, PLUS_PARIS])
    raise_alerts(run)

    AuthActions(client).log_in(controller)
    with count_queries() as counter:
        page = client.get("/qualiopi/alertes").get_data(as_text=True)
    assert "A perdu : Actions de formation" in page
    assert "N&#39;est plus dans la liste publique" in page or "N'est plus dans" in page
    assert f'href="/dossiers/{dossier.id}">TP-2026-001</a>' in page
    assert "TP-2026-002" in page
    few = counter.count
    # Many more alerts and dossiers: the page still runs the same number of statements.
    for index in range(3, 9):
        make_dossier(controller.funder, garonne, reference=f"TP-2026-00{index}")
    third = write_list(tmp_path / "3.csv", [BILANS, PLUS_PARIS])
    raise_alerts(import_list(str(third), as_of=TODAY + timedelta(days=1)))
    with count_queries() as counter:
        assert "TP-2026-008" in client.get("/qualiopi/alertes").get_data(as_text=True)
    assert counter.count == few

    alert = db.session.scalars(
        select(QualiopiAlert).where(QualiopiAlert.nda == GARONNE.nda).order_by(QualiopiAlert.id)
    ).first()
    response = client.post(
        f"/qualiopi/alertes/{alert.id}/vue",
        data={"csrf_token": csrf_token(client, "/qualiopi/alertes")},
    )
    assert response.status_code == 303
    db.session.refresh(alert)
    assert alert.acknowledged_by_id == controller.id
    assert db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "qualiopi.alert_acknowledged")
    )


def test_a_funder_never_sees_another_funders_alerts(client, login_as, tmp_path):
    owner = UserFactory(role="controller")
    bilans = _provider(BILANS)
    make_dossier(owner.funder, bilans, reference="SECRET-1", category="bilans_competences")
    run = _import_two_lists(tmp_path, [GARONNE, CARAIBES, PLUS_PARIS])
    alert = raise_alerts(run)[0]
    login_as(Role.CONTROLLER)
    page = client.get("/qualiopi/alertes").get_data(as_text=True)
    assert BILANS.nda not in page and "SECRET-1" not in page
    response = client.post(
        f"/qualiopi/alertes/{alert.id}/vue",
        data={"csrf_token": csrf_token(client, "/qualiopi/alertes")},
    )
    assert response.status_code == 404
    db.session.refresh(alert)
    assert alert.acknowledged_at is None
