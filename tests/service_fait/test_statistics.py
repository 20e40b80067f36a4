"""Statistics per OF and for the funder: dossiers controlled, amounts validated and
rejected, reasons, delays; aggregate queries."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.models import InvoiceDecision, Role
from portal.service_fait import decisions, statistics
from tests.dossiers.piece_helpers import month_end, month_start
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.service_fait.control_helpers import dossier_of, funder_with_staff, make_invoice

NOW = datetime.now(UTC)


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).replace("\u00a0", " ").replace("\u202f", " ").split())


def decide(actor, dossier, invoice, outcome="conforme", amount=None, reason=None, days=1.0):
    """A decision taken `days` after the invoice was uploaded."""
    decision = decisions.decide(
        actor,
        dossier,
        invoice.id,
        decisions.DecisionInput(outcome, amount, reason, ""),
        expected_version=None,
    )
    decision.decided_at = invoice.created_at + timedelta(days=days)
    db.session.commit()
    return decision


@pytest.fixture
def data(app):
    funder, controller, admin = funder_with_staff()
    alpha = ProviderFactory(name="Alpha Formation")
    beta = ProviderFactory(name="Beta Compétences")
    first = dossier_of(funder, alpha, reference="A-1")
    second = dossier_of(funder, alpha, reference="A-2")
    third = dossier_of(funder, beta, reference="B-1")
    uploaded = NOW - timedelta(days=30)
    a1 = make_invoice(first, amount="1000", created_at=uploaded)
    start = month_start(first.start_date, 1)
    a1b = make_invoice(first, start, month_end(start, 0), amount="1000", created_at=uploaded)
    a2 = make_invoice(second, amount="1000", created_at=uploaded)
    b1 = make_invoice(third, amount="500", created_at=uploaded)
    decide(controller, first, a1, days=2)
    decide(controller, first, a1b, "partiellement_conforme", "600", "heures_non_justifiees", 4)
    decide(controller, third, b1, "non_conforme", None, "facture_en_double", 9)
    # A reopened decision no longer counts.
    reopened = decide(controller, second, a2, "non_conforme", None, "emargement_incomplet", 1)
    decisions.reopen(admin, reopened, "Erreur de saisie")
    db.session.commit()
    # Another funder's decisions are not counted.
    other_funder, other_controller, _ = funder_with_staff()
    foreign = dossier_of(other_funder, alpha)
    decide(other_controller, foreign, make_invoice(foreign, amount="9999"))
    return funder, controller, admin, alpha, beta


def test_the_funders_and_each_ofs_figures(data) -> None:
    _, controller, _, alpha, beta = data
    report = statistics.report(controller)

    total = report.funder
    assert total.dossiers == 2  # A-1 and B-1 (A-2's decision was reopened)
    assert total.decisions == 3
    assert (total.conforming, total.partly, total.not_conforming) == (1, 1, 1)
    assert total.invoiced == Decimal("2500.00")
    assert total.validated == Decimal("1600.00")
    assert total.rejected == Decimal("900.00")
    assert total.reasons == {"heures_non_justifiees": 1, "facture_en_double": 1}
    assert total.delay_median == pytest.approx(4)
    assert total.delay_mean == pytest.approx(5)

    assert [p.name for p in report.providers] == ["Alpha Formation", "Beta Compétences"]
    a, b = report.providers
    assert (a.provider_id, a.dossiers, a.decisions) == (alpha.id, 1, 2)
    assert a.validated == Decimal("1600.00") and a.rejected == Decimal("400.00")
    assert a.reasons == {"heures_non_justifiees": 1}
    assert a.delay_median == pytest.approx(3) and a.delay_mean == pytest.approx(3)
    assert (b.provider_id, b.validated, b.rejected) == (beta.id, Decimal("0.00"), Decimal("500.00"))
    assert b.reasons == {"facture_en_double": 1}


def test_a_period_of_decision_dates(data) -> None:
    _, controller, _, _, _ = data
    decided = sorted(
        d.decided_at.date()
        for d in db.session.query(InvoiceDecision).filter(InvoiceDecision.reopened_at.is_(None))
    )
    old = statistics.report(controller, start=date(2000, 1, 1), end=date(2000, 12, 31))
    assert old.funder.decisions == 0
    later = statistics.report(controller, start=decided[-1] + timedelta(days=1))
    assert later.funder.decisions == 0
    everything = statistics.report(controller, start=decided[0], end=decided[-1])
    assert everything.funder.decisions == 3  # ours only, the reopened one left out


def test_the_statistics_page(client, auth, data) -> None:
    _, controller, _, _, _ = data
    auth.log_in(controller)
    response = client.get("/service-fait/statistiques")
    assert response.status_code == 200
    body = text(response)
    assert "Dossiers contrôlés 2" in body
    assert "Montant validé 1 600,00 €" in body
    assert "Montant rejeté 900,00 € (36,0 %)" in body
    assert "Heures facturées non justifiées 1" in body and "Facture en double 1" in body
    assert "médian 4,0 j, moyen 5,0 j" in body
    assert "Alpha Formation" in body and "Beta Compétences" in body
    fragment = client.get(
        "/service-fait/statistiques?au=2000-12-31", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.get_data(as_text=True)
    assert "Aucune décision sur cette période." in text(fragment)


def test_an_of_user_cannot_see_the_statistics(client, login_as) -> None:
    login_as(Role.PROVIDER)
    assert client.get("/service-fait/statistiques").status_code == 403


def test_the_statistics_use_aggregate_queries(client, auth, data, count_queries) -> None:
    funder, controller, _, _, _ = data
    auth.log_in(controller)
    client.get("/service-fait/statistiques")
    with count_queries() as few:
        client.get("/service-fait/statistiques")
    for n in range(5):  # five more OF with a decision each
        dossier = dossier_of(funder, ProviderFactory(), reference=f"N-{n}")
        decide(controller, dossier, make_invoice(dossier))
    with count_queries() as many:
        assert "N-" not in client.get("/service-fait/statistiques").get_data(as_text=True)
    assert many.count == few.count


def test_an_empty_report(app) -> None:
    funder = FunderFactory()
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    report = statistics.report(controller)
    assert report.providers == [] and report.funder.decisions == 0
    assert report.funder.delay_median is None and report.funder.rejected_rate is None
