"""Sampling plans: the pure draw (rate rounding, weights, reproducibility, empty
population), the population's risk factors, and the funder admin's page."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import (
    AuditEvent,
    InvoiceDecision,
    Role,
    SamplingDraw,
    ServiceFaitControl,
)
from portal.service_fait import sampling
from portal.service_fait.controls import control_for
from portal.service_fait.sampling import Unit, Weights, draw, risk_weight, sample_size
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory, ProviderFactory, UserFactory

# --- The pure draw ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "rate", "expected"),
    [
        (0, "10", 0),  # empty population
        (10, "0", 0),
        (10, "10", 1),
        (11, "10", 2),  # 1.1 → 2: rounded up
        (100, "12.5", 13),  # 12.5 → 13
        (200, "12.5", 25),
        (3, "1", 1),  # at least one as soon as the rate is not zero
        (7, "100", 7),
        (7, "150", 7),  # never more than the population
        (1000, "0.1", 1),
        (1001, "0.1", 2),
    ],
)
def test_sample_size_rounds_up(population: int, rate: str, expected: int) -> None:
    assert sample_size(population, Decimal(rate)) == expected


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        (Unit(1), Decimal("1")),
        (Unit(1, blocking=2), Decimal("7")),  # 1 + 2 × 3
        (Unit(1, warnings=3), Decimal("4")),  # 1 + 3 × 1
        (Unit(1, rejections=1), Decimal("3")),
        (Unit(1, new_provider=True), Decimal("3")),
        (Unit(1, lost_certification=True), Decimal("6")),
        (Unit(1, 1, 1, 1, True, True), Decimal("14")),  # 1 + 3 + 1 + 2 + 2 + 5
    ],
)
def test_risk_weight_adds_each_factor(unit: Unit, expected: Decimal) -> None:
    assert risk_weight(unit, Weights()) == expected


POPULATION = [
    Unit(i, blocking=i % 3, warnings=i % 5, new_provider=i % 7 == 0) for i in range(1, 41)
]


@pytest.mark.parametrize("weights", [None, Weights()], ids=["simple", "weighted"])
def test_the_same_seed_parameters_and_population_give_the_same_selection(weights) -> None:
    first = draw(POPULATION, Decimal("25"), "graine-1", weights)
    assert len(first) == 10
    assert first == sorted(first) and len(set(first)) == 10
    assert set(first) <= {u.id for u in POPULATION}
    # Again, and with the population given in another order: the same.
    assert draw(POPULATION, Decimal("25"), "graine-1", weights) == first
    assert draw(list(reversed(POPULATION)), Decimal("25"), "graine-1", weights) == first
    # Another seed gives another selection.
    assert draw(POPULATION, Decimal("25"), "graine-2", weights) != first


def test_a_known_draw_stays_the_same_across_versions() -> None:
    """A recorded draw must stay reproducible: pin one selection of each algorithm."""
    units = [Unit(i) for i in range(1, 21)]
    assert draw(units, Decimal("20"), "abc") == draw(units, Decimal("20"), "abc")
    simple = draw(units, Decimal("20"), "abc")
    weighted = draw(units, Decimal("20"), "abc", Weights())
    assert len(simple) == len(weighted) == 4
    # Pinned values (hashlib seed + Mersenne Twister are stable across platforms).
    assert simple == PINNED_SIMPLE
    assert weighted == PINNED_WEIGHTED


PINNED_SIMPLE = [2, 7, 13, 17]
PINNED_WEIGHTED = [8, 12, 17, 19]


def test_an_empty_population_gives_an_empty_draw() -> None:
    assert draw([], Decimal("50"), "x") == []
    assert draw([], Decimal("50"), "x", Weights()) == []


def test_weights_favour_the_risky_units() -> None:
    risky = [Unit(i, blocking=5, lost_certification=True) for i in range(1, 11)]
    plain = [Unit(i) for i in range(11, 101)]
    counts: Counter[str] = Counter()
    for n in range(200):
        for unit_id in draw(risky + plain, Decimal("10"), f"s{n}", Weights()):
            counts["risky" if unit_id <= 10 else "plain"] += 1
    # 10 % of the units hold 70 % of the weight (10 × 21 against 90 × 1): they take most
    # of the places.
    assert counts["risky"] > counts["plain"]
    # Without weights, each unit has the same chance: the risky ones get about 10 %.
    counts.clear()
    for n in range(200):
        for unit_id in draw(risky + plain, Decimal("10"), f"s{n}"):
            counts["risky" if unit_id <= 10 else "plain"] += 1
    assert counts["risky"] < counts["plain"] / 3


def test_zero_weights_make_a_weighted_draw_uniform_like() -> None:
    zero = Weights(*(Decimal(0),) * 5)
    units = [Unit(i, blocking=9) for i in range(1, 11)]
    assert len(draw(units, Decimal("50"), "z", zero)) == 5


# --- The population and the page -----------------------------------------------------------


def _funder_setup():
    funder = FunderFactory()
    admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder)
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    today = clock.today()
    old_of, new_of = ProviderFactory(), ProviderFactory()
    old_start = today - timedelta(days=600)
    first = make_dossier(funder, old_of, start_date=old_start, end_date=old_start + timedelta(30))
    second = make_dossier(funder, old_of, scheme="cpf", payment_rhythm="fin_de_formation")
    third = make_dossier(funder, new_of)
    _set_counts(first, 2, 1)
    return funder, admin, controller, (first, second, third), (old_of, new_of)


def _set_counts(dossier, blocking: int, warnings: int) -> None:
    control = control_for(dossier)
    control.blocking_count = blocking
    control.warning_count = warnings
    db.session.commit()


def test_the_population_carries_the_risk_factors(app: Flask) -> None:
    funder, _admin, _controller, (first, second, third), (old_of, new_of) = _funder_setup()
    invoice_id = _invoice(first)
    db.session.add(
        InvoiceDecision(
            dossier_id=first.id,
            invoice_id=invoice_id,
            outcome="non_conforme",
            amount_invoiced=Decimal("100"),
            amount_validated=Decimal("0"),
            reason_code="heures_non_justifiees",
        )
    )
    db.session.commit()
    _set_counts(first, 2, 1)  # as the checks would have found (adding the invoice ran them)
    other_funder_dossier = make_dossier(provider=old_of)  # another funder's: not counted
    units = sampling.population(
        funder.id, sampling.UNIT_DOSSIER, sampling.Filters(), today=clock.today()
    )
    by_id = {u.id: u for u in units}
    assert set(by_id) == {first.id, second.id, third.id}
    assert other_funder_dossier.id not in by_id
    assert (by_id[first.id].blocking, by_id[first.id].warnings) == (2, 1)
    assert by_id[first.id].rejections == 1 and by_id[second.id].rejections == 1
    assert not by_id[first.id].new_provider
    assert by_id[third.id].new_provider and by_id[third.id].rejections == 0

    providers = sampling.population(
        funder.id, sampling.UNIT_PROVIDER, sampling.Filters(), today=clock.today()
    )
    assert {u.id for u in providers} == {old_of.id, new_of.id}
    filtered = sampling.population(
        funder.id, sampling.UNIT_DOSSIER, sampling.Filters(scheme="cpf"), today=clock.today()
    )
    assert [u.id for u in filtered] == [second.id]


def _invoice(dossier) -> int:
    import io

    from werkzeug.datastructures import FileStorage

    from portal.dossiers import pieces as pieces_service
    from tests.dossiers.piece_helpers import make_pdf

    start = dossier.start_date
    end = start + timedelta(days=10)
    (piece,) = pieces_service.add_pieces(
        UserFactory(role=Role.PROVIDER.value, provider=dossier.provider),
        dossier,
        "facture",
        {
            "period_start": start,
            "period_end": end,
            "invoice_number": f"F-{dossier.id}",
            "invoice_date": end,
            "amount_excl_tax": Decimal("100"),
            "amount_incl_tax": Decimal("100"),
            "hours_billed": Decimal("7"),
        },
        [FileStorage(io.BytesIO(make_pdf()), filename="f.pdf")],
    )
    db.session.commit()
    return piece.id


def test_a_draw_is_recorded_reproduced_and_put_in_control(app: Flask, auth) -> None:
    funder, admin, controller, _dossiers, _providers = _funder_setup()
    auth.log_in(admin)
    page = auth.client.get("/service-fait/echantillonnage")
    assert page.status_code == 200
    response = auth.post(
        "/service-fait/echantillonnage",
        {
            "unit": "dossier",
            "rate": "50",
            "weighted": "y",
            "w_blocking": "3",
            "w_warning": "1",
            "w_rejection": "2",
            "w_new_provider": "2",
            "w_lost_certification": "5",
            "new_provider_months": "12",
            "lost_certification_days": "90",
            "scheme": "",
            "seed": "graine-fixe",
        },
        token_from="/service-fait/echantillonnage",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    row = db.session.scalars(select(SamplingDraw)).one()
    assert row.seed == "graine-fixe"
    assert row.population_size == 3
    assert len(row.selected_ids) == 2  # 50 % of 3 → 2
    assert row.parameters["weights"]["blocking"] == "3"
    assert len(row.parameters["population"]) == 3
    assert sampling.reproduce(row) == row.selected_ids
    # Drawing again by hand from the same inputs gives the same list.
    units = sampling.population(
        funder.id, sampling.UNIT_DOSSIER, sampling.Filters(), today=clock.today()
    )
    assert draw(units, Decimal("50"), "graine-fixe", Weights()) == row.selected_ids
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.sampling_drawn")
    )
    assert event.details["seed"] == "graine-fixe"

    page = auth.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "graine-fixe" in page
    assert "Reproductible" in page
    assert "Par anomalie bloquante" in page
    for dossier_id in row.selected_ids:
        assert f"/{dossier_id}" in page

    response = auth.post(
        f"/service-fait/echantillonnage/{row.id}/mettre-en-controle",
        {"assignee": str(controller.id)},
        token_from=f"/service-fait/echantillonnage/{row.id}",
    )
    assert response.status_code == 303
    controls = {
        c.dossier_id: c
        for c in db.session.scalars(
            select(ServiceFaitControl).where(ServiceFaitControl.dossier_id.in_(row.selected_ids))
        )
    }
    assert set(controls) == set(row.selected_ids)
    assert {c.assigned_to_id for c in controls.values()} == {controller.id}
    assert {c.status for c in controls.values()} == {"a_controler"}
    assert (
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service_fait.sampling_applied")
        )
        .one()
        .details["assigned_to_id"]
        == controller.id
    )


def test_the_draw_form_refuses_bad_values_and_draws_of(app: Flask, auth) -> None:
    _funder, admin, _controller, _dossiers, (old_of, new_of) = _funder_setup()
    auth.log_in(admin)
    data = {
        "unit": "organisme",
        "rate": "0",
        "w_blocking": "-1",
        "w_warning": "1",
        "w_rejection": "2",
        "w_new_provider": "2",
        "w_lost_certification": "5",
        "new_provider_months": "12",
        "lost_certification_days": "90",
        "scheme": "",
    }
    response = auth.post(
        "/service-fait/echantillonnage", data, token_from="/service-fait/echantillonnage"
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Le taux est un pourcentage" in html
    assert db.session.scalar(select(SamplingDraw.id)) is None

    data |= {"rate": "50", "w_blocking": "3"}
    response = auth.post(
        "/service-fait/echantillonnage", data, token_from="/service-fait/echantillonnage"
    )
    assert response.status_code == 303
    row = db.session.scalars(select(SamplingDraw)).one()
    assert row.unit == "organisme" and not row.weighted
    assert row.population_size == 2 and len(row.selected_ids) == 1
    assert re.fullmatch(r"[0-9a-f]{16}", row.seed)  # drawn at random, shown
    page = auth.client.get(f"/service-fait/echantillonnage/{row.id}").get_data(as_text=True)
    assert row.seed in page
    # Putting an OF in control puts its dossiers of the population in control.
    response = auth.post(
        f"/service-fait/echantillonnage/{row.id}/mettre-en-controle",
        {"assignee": "0"},
        token_from=f"/service-fait/echantillonnage/{row.id}",
    )
    assert response.status_code == 303
    (chosen,) = row.selected_ids
    expected = 2 if chosen == old_of.id else 1
    assert db.session.scalar(select(db.func.count(ServiceFaitControl.id))) == expected + (
        1 if chosen == new_of.id else 0
    )


def test_only_the_funder_admin_draws_and_sees_its_own_draws(app: Flask, auth) -> None:
    _funder, admin, controller, _dossiers, _providers = _funder_setup()
    row = sampling.run_draw(
        admin,
        sampling.DrawRequest(unit="dossier", rate_percent=Decimal("10"), weighted=False),
        today=clock.today(),
    )
    auth.log_in(controller)
    assert auth.client.get("/service-fait/echantillonnage").status_code == 403
    auth.logout()
    other_admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=FunderFactory())
    auth.log_in(other_admin)
    assert auth.client.get(f"/service-fait/echantillonnage/{row.id}").status_code == 404
    response = auth.post(
        f"/service-fait/echantillonnage/{row.id}/mettre-en-controle",
        {"assignee": "0"},
    )
    assert response.status_code == 404
    assert row.seed not in auth.client.get("/service-fait/echantillonnage").get_data(as_text=True)
