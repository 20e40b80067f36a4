"""The control page of a dossier: access, the figures side by side period by period, the
checks' findings, the Qualiopi status on the dossier's dates, the pieces (opened in a new
tab), the decisions and the requests panel; a bounded number of queries."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, ListImport, ListVersion, Role
from portal.service_fait import decisions
from tests.dossiers.piece_helpers import month_end, month_start
from tests.factories import FunderFactory, UserFactory
from tests.service_fait.control_helpers import (
    dossier_of,
    funder_with_staff,
    make_certificate,
    make_finding,
    make_invoice,
    make_piece,
)


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).replace("\u00a0", " ").replace("\u202f", " ").split())


def row_text(response, label_start: str) -> str:
    """The text of the figures table's row whose header starts with `label_start`."""
    body = response.get_data(as_text=True)
    table = body[body.index('class="figures-table"') :]
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S):
        cleaned = " ".join(
            html.unescape(re.sub(r"<[^>]+>", " ", row)).replace("\u00a0", " ").split()
        )
        if cleaned.startswith(label_start):
            return cleaned
    raise AssertionError(f"no row {label_start!r}")


@pytest.fixture
def setup(app):
    funder, controller, admin = funder_with_staff()
    dossier = dossier_of(funder)
    return dossier, controller, admin


def page_path(dossier) -> str:
    return f"/service-fait/dossiers/{dossier.id}"


# --- Access ---------------------------------------------------------------------------------


def test_an_of_user_is_refused(client, login_as, setup) -> None:
    dossier, _, _ = setup
    login_as(Role.PROVIDER, provider=dossier.provider)
    assert client.get(page_path(dossier)).status_code == 403


def test_another_funders_dossier_answers_404_and_is_audited(client, login_as, setup) -> None:
    dossier, _, _ = setup
    stranger = login_as(Role.CONTROLLER, funder=FunderFactory())
    assert client.get(page_path(dossier)).status_code == 404
    assert client.get("/service-fait/dossiers/999999").status_code == 404
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).first()
    assert event.actor_id == stranger.id and event.details["dossier_id"] == dossier.id


def test_anonymous_visitor_goes_to_login(client, setup) -> None:
    dossier, _, _ = setup
    response = client.get(page_path(dossier))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- What the page shows ----------------------------------------------------------------------


def test_the_figures_side_by_side_period_by_period(client, auth, setup) -> None:
    dossier, controller, _ = setup
    # The textbook example: 14 h invoiced, 13 h 30 on the certificat de réalisation.
    invoice = make_invoice(dossier, amount="1500.00", hours="14", invoice_number="F-2026-01")
    make_certificate(dossier, hours="13.5")
    make_piece(
        dossier,
        "feuille_emargement",
        half_days_planned=4,
        half_days_signed=3,
        hours_attended=Decimal("10.5"),
    )
    second_start = month_start(dossier.start_date, 1)
    make_invoice(dossier, second_start, month_end(second_start, 0), amount="700", hours="7")
    decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    auth.log_in(controller)

    response = client.get(page_path(dossier))

    assert response.status_code == 200
    first = row_text(response, f"du {dossier.start_date:%d/%m/%Y}")
    # planned (pro rata) | completed | billed | attended | half-days | agreed | invoiced | validated
    assert "13 h 30 14 h (au-delà des heures réalisées) 10 h 30 3 / 4" in first
    assert "1 500,00 € 1 500,00 €" in first.replace("\u202f", " ")
    second = row_text(response, f"du {second_start:%d/%m/%Y}")
    assert "7 h" in second and "700,00 €" in second and "1 sans décision" in second
    totals = row_text(response, "Total")
    assert "600 h" in totals and "12 000,00 €" in totals.replace("\u202f", " ")
    assert "2 200,00 €" in totals.replace("\u202f", " ")
    body = response.get_data(as_text=True)
    assert 'class="mismatch"' in body  # 14 h billed against 13 h 30 completed
    assert "Pièces attendues" in body and "manquant" in body.lower()


def test_findings_are_grouped_by_severity_with_their_explanations(client, auth, setup) -> None:
    dossier, controller, _ = setup
    make_finding(
        dossier,
        "HOURS_BILLED_OVER_COMPLETED",
        "bloquant",
        label="Heures facturées au-delà des heures réalisées",
        explanation="La facture F-1 facture 14 h, le certificat de réalisation en atteste 13 h 30.",
    )
    make_finding(dossier, "HOURS_ATTENDED_MISMATCH", "alerte", label="Émargement incohérent")
    make_finding(dossier, "QUALIOPI_UNKNOWN", "information", label="Qualiopi inconnu")
    auth.log_in(controller)
    body = text(client.get(page_path(dossier)))
    assert "Bloquant (1) Heures facturées au-delà des heures réalisées" in body
    assert "le certificat de réalisation en atteste 13 h 30" in body
    assert body.index("Bloquant (1)") < body.index("Alerte (1)") < body.index("Information (1)")


def test_no_finding_and_checks_not_run(client, auth, setup) -> None:
    dossier, controller, _ = setup
    auth.log_in(controller)
    body = text(client.get(page_path(dossier)))
    assert "Aucune anomalie trouvée." in body
    assert "n'ont pas encore été faites" in body


def _list(as_of, versions):
    run = ListImport(source="test", as_of=as_of, status="succeeded", triggered_by="test")
    db.session.add(run)
    db.session.flush()
    for version in versions:
        version.import_id = run.id
        db.session.add(version)
    db.session.commit()


def _version(provider, valid_from, valid_to, certified: bool) -> ListVersion:
    return ListVersion(
        nda=provider.nda,
        siren=provider.siren,
        siret=provider.siret,
        denomination=provider.name,
        search_name=provider.name.lower(),
        region_code="76",
        postal_code="31000",
        city="Toulouse",
        actions_formation=certified,
        bilans_competences=False,
        vae=certified,
        apprentissage=False,
        previous_ndas="",
        fingerprint="x" * 16,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def test_qualiopi_status_on_the_start_and_on_each_invoiced_period(client, auth, setup) -> None:
    dossier, controller, _ = setup
    start = dossier.start_date
    lost = start + timedelta(days=40)
    provider = dossier.provider
    _list(start - timedelta(days=30), [_version(provider, start - timedelta(days=30), lost, True)])
    _list(lost, [_version(provider, lost, None, False)])
    make_invoice(dossier, invoice_number="F-1")
    second = month_start(start, 1)
    make_invoice(dossier, second, month_end(second, 0), invoice_number="F-2")
    auth.log_in(controller)

    body = text(client.get(page_path(dossier)))

    section = body[body.index("Certification Qualiopi aux dates") :]
    assert (
        f"{start:%d/%m/%Y} début de l'action ; début de la période de la facture n° F-1" in section
    )
    assert f"{start - timedelta(days=30):%d/%m/%Y} Oui" in section
    end_second = month_end(second, 0)
    assert (
        f"{end_second:%d/%m/%Y} fin de la période de la facture n° F-2 {lost:%d/%m/%Y} Non"
        in section
    )


def test_qualiopi_unknown_before_the_first_list(client, auth, setup) -> None:
    dossier, controller, _ = setup
    auth.log_in(controller)
    body = text(client.get(page_path(dossier)))
    assert "Inconnu : aucune liste importée n'était en vigueur" in body


def test_pieces_open_in_a_new_tab_and_the_panels_are_there(client, auth, setup) -> None:
    dossier, controller, _ = setup
    invoice = make_invoice(dossier)
    auth.log_in(controller)
    body = client.get(page_path(dossier)).get_data(as_text=True)
    link = (
        f'href="/dossiers/{dossier.id}/pieces/{invoice.id}/fichier" target="_blank" rel="noopener"'
    )
    assert link in body
    assert 'id="requests-panel"' in body  # the requests and thread panel
    assert f'name="facture-{invoice.id}-outcome"' in body  # the decision form
    assert 'id="decisions"' in body


def test_the_page_runs_a_bounded_number_of_queries(client, auth, setup, count_queries) -> None:
    dossier, controller, _ = setup
    invoice = make_invoice(dossier)
    make_certificate(dossier)
    decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    auth.log_in(controller)
    client.get(page_path(dossier))
    with count_queries() as few:
        assert client.get(page_path(dossier)).status_code == 200
    for months in (1, 2, 3):
        start = month_start(dossier.start_date, months)
        more = make_invoice(dossier, start, month_end(start, 0))
        make_certificate(dossier, start=start, end=month_end(start, 0))
        make_finding(dossier, "HOURS_ATTENDED_MISMATCH", "alerte")
        decisions.decide(
            controller, dossier, more.id, decisions.DecisionInput("conforme"), expected_version=None
        )
        db.session.commit()
    with count_queries() as many:
        assert client.get(page_path(dossier)).status_code == 200
    assert many.count == few.count


def test_a_funder_admin_sees_the_page_too(client, auth, setup) -> None:
    dossier, _, admin = setup
    auth.log_in(admin)
    assert client.get(page_path(dossier)).status_code == 200


def test_the_queue_links_to_the_control_page(client, auth, setup) -> None:
    dossier, controller, _ = setup
    UserFactory(role=Role.CONTROLLER.value, funder=dossier.funder)
    auth.log_in(controller)
    assert f'href="{page_path(dossier)}"' in client.get("/service-fait/").get_data(as_text=True)


def test_a_signalement_can_be_drafted_from_the_control(client, auth, setup) -> None:
    dossier, controller, _ = setup
    auth.log_in(controller)
    body = client.get(page_path(dossier)).get_data(as_text=True)
    link = f"/signalements/nouveau?dossier={dossier.id}&amp;depuis=controle"
    assert link in body
    draft = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert dossier.provider.name in draft
