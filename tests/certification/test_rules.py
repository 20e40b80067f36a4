"""Certificate deadlines and audit durations (the rules of the field, "Qualiopi and the
public list" and "Audits"), table by table, with the five worked audit-duration examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.certification import rules
from portal.certification.rules import AuditKind, DeadlineState, TurnoverBand
from portal.models import Category

F = Category.ACTIONS_FORMATION
BDC = Category.BILANS_COMPETENCES
VAE = Category.VAE
APP = Category.APPRENTISSAGE


@pytest.mark.parametrize(
    ("start", "opens", "closes"),
    [
        # From the first day of the 14th month to the last day of the 22nd.
        (date(2025, 1, 15), date(2026, 2, 15), date(2026, 11, 14)),
        (date(2025, 1, 1), date(2026, 2, 1), date(2026, 10, 31)),
        (date(2025, 1, 31), date(2026, 2, 28), date(2026, 11, 29)),  # no 31 February
        (date(2026, 6, 30), date(2027, 7, 30), date(2028, 4, 29)),
        (date(2022, 12, 31), date(2024, 1, 31), date(2024, 10, 30)),
    ],
)
def test_surveillance_window(start, opens, closes):
    window = rules.surveillance_window(start)
    assert (window.opens, window.closes) == (opens, closes)
    assert window.contains(opens) and window.contains(closes)
    assert not window.contains(date.fromordinal(opens.toordinal() - 1))
    assert not window.contains(date.fromordinal(closes.toordinal() + 1))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 1, 15), date(2028, 1, 14)),
        (date(2024, 2, 29), date(2027, 2, 27)),  # 29 Feb + 3 years = 28 Feb; the day before
        (date(2025, 3, 1), date(2028, 2, 29)),
        # Issued in 2020: 4 years (issue 14); the year's edges.
        (date(2020, 1, 1), date(2023, 12, 31)),
        (date(2020, 2, 29), date(2024, 2, 28)),
        (date(2020, 12, 31), date(2024, 12, 30)),
        (date(2019, 12, 31), date(2022, 12, 30)),
        (date(2021, 1, 1), date(2023, 12, 31)),
    ],
)
def test_a_certificate_lasts_three_years(start, end):
    assert rules.default_end(start) == end


@pytest.mark.parametrize(
    ("end", "planning", "latest_audit"),
    [
        (date(2027, 12, 31), date(2027, 4, 30), date(2027, 8, 31)),
        (date(2028, 6, 30), date(2027, 10, 30), date(2028, 2, 29)),
        (date(2027, 10, 31), date(2027, 2, 28), date(2027, 6, 30)),
        (date(2028, 1, 14), date(2027, 5, 14), date(2027, 9, 14)),
    ],
)
def test_renewal_dates(end, planning, latest_audit):
    assert rules.renewal_planning_date(end) == planning
    assert rules.renewal_audit_latest(end) == latest_audit


def _states(today, **audits):
    found = rules.deadlines(date(2025, 1, 15), date(2028, 1, 14), today, **audits)
    return {d.key: d.state for d in found}


@pytest.mark.parametrize(
    ("today", "audits", "expected"),
    [
        (
            date(2025, 6, 1),
            {},
            {
                "surveillance": DeadlineState.UPCOMING,
                "renouvellement_preparation": DeadlineState.UPCOMING,
                "renouvellement_audit": DeadlineState.UPCOMING,
                "fin": DeadlineState.UPCOMING,
            },
        ),
        (date(2026, 1, 1), {}, {"surveillance": DeadlineState.SOON}),
        (date(2026, 2, 15), {}, {"surveillance": DeadlineState.OPEN}),
        (date(2026, 11, 15), {}, {"surveillance": DeadlineState.OVERDUE}),
        (
            date(2026, 11, 15),
            {"surveillance_audits": [date(2026, 5, 12)]},
            {"surveillance": DeadlineState.DONE},
        ),
        # An audit outside the window does not count as the surveillance audit.
        (
            date(2026, 11, 15),
            {"surveillance_audits": [date(2025, 12, 1)]},
            {"surveillance": DeadlineState.OVERDUE},
        ),
        (
            date(2027, 6, 1),
            {},
            {
                "renouvellement_preparation": DeadlineState.OPEN,
                "renouvellement_audit": DeadlineState.UPCOMING,
            },
        ),
        (date(2027, 8, 1), {}, {"renouvellement_audit": DeadlineState.SOON}),
        (
            date(2027, 10, 1),
            {},
            {
                "renouvellement_audit": DeadlineState.OVERDUE,
                "fin": DeadlineState.UPCOMING,
            },
        ),
        (
            date(2027, 10, 1),
            {"renewal_audits": [date(2027, 9, 1)]},
            {"renouvellement_audit": DeadlineState.DONE},
        ),
        (date(2027, 12, 1), {}, {"fin": DeadlineState.SOON}),
        (date(2028, 1, 15), {}, {"fin": DeadlineState.OVERDUE}),
    ],
)
def test_deadline_states(today, audits, expected):
    states = _states(today, **audits)
    for key, state in expected.items():
        assert states[key] is state, key


def test_deadlines_explain_their_dates_in_french():
    found = rules.deadlines(date(2025, 1, 15), date(2028, 1, 14), date(2025, 6, 1))
    by_key = {d.key: d for d in found}
    assert "du 15/02/2026 au 14/11/2026" in by_key["surveillance"].explanation
    assert "dès le 14/05/2027" in by_key["renouvellement_preparation"].explanation
    assert "Au plus tard le 14/09/2027" in by_key["renouvellement_audit"].explanation
    assert "jusqu'au 14/01/2028" in by_key["fin"].explanation


@pytest.mark.parametrize(
    ("end", "training_end", "before"),
    [
        (date(2027, 3, 31), date(2027, 4, 1), True),
        (date(2027, 3, 31), date(2027, 3, 31), False),
        (None, date(2027, 3, 31), False),
    ],
)
def test_certificate_ending_before_the_training(end, training_end, before):
    assert rules.ends_before(end, training_end) is before


def test_category_mismatch_both_ways():
    assert rules.category_mismatch([F, VAE], [F, APP]) == ([VAE], [APP])
    assert rules.category_mismatch(["actions_formation"], [F]) == ([], [])


# --- Audit durations --------------------------------------------------------------------------

WORKED_EXAMPLES = [
    # (turnover band, categories, extra sites, days): the rules of the field, "Audits".
    (TurnoverBand.LOW, [F], 0, "1"),
    (TurnoverBand.LOW, [F, VAE], 2, "1.5"),
    (TurnoverBand.MIDDLE, [F, APP], 3, "3"),
    (TurnoverBand.HIGH, [F, APP], 2, "3.5"),
    (TurnoverBand.HIGH, [F, BDC, VAE], 17, "5"),  # 2.5 M€
]


@pytest.mark.parametrize(("band", "categories", "sites", "days"), WORKED_EXAMPLES)
def test_the_five_worked_examples(band, categories, sites, days):
    duration = rules.audit_duration(band, categories, sites, AuditKind.INITIAL)
    assert duration.days == Decimal(days)


def test_example_five_breaks_down_as_domain_says():
    duration = rules.audit_duration(rules.turnover_band(2_500_000), [F, BDC, VAE], 17)
    assert [line.days for line in duration.lines] == [Decimal("2"), Decimal("1"), Decimal("2")]
    assert duration.confirmed  # every figure it uses is fixed by the examples


def test_figures_the_examples_do_not_fix_are_marked_to_confirm():
    duration = rules.audit_duration(TurnoverBand.MIDDLE, [F, VAE], 0)
    assert not duration.confirmed
    assert not rules.DEFAULT_TABLE.base[TurnoverBand.MIDDLE].confirmed
    assert rules.DEFAULT_TABLE.base[TurnoverBand.LOW].confirmed
    assert all(not cell.confirmed for cell in rules.DEFAULT_TABLE.surveillance_base.values())


@pytest.mark.parametrize(
    ("sites", "initial", "surveillance"),
    [
        (0, "0", "0"),
        (1, "0.5", "0.5"),  # √1 = 1 → 0.5 ; 0.6 → half-day 0.5
        (2, "0.5", "1"),  # √2 = 1.41 → 1 → 0.5 ; 0.85 → 1
        (3, "1", "1"),
        (6, "1", "1.5"),  # √6 = 2.45 → 2 → 1 ; 1.47 → 1.5
        (7, "1.5", "1.5"),
        (12, "1.5", "2"),
        (13, "2", "2"),
        (17, "2", "2.5"),  # √17 = 4.12 → 4 → 2 ; 2.47 → 2.5
    ],
)
def test_site_days(sites, initial, surveillance):
    assert rules.site_days(sites, AuditKind.INITIAL) == Decimal(initial)
    assert rules.site_days(sites, AuditKind.SURVEILLANCE) == Decimal(surveillance)


@pytest.mark.parametrize(
    ("turnover", "band"),
    [
        (0, TurnoverBand.LOW),
        (Decimal("149999.99"), TurnoverBand.LOW),
        (150_000, TurnoverBand.MIDDLE),
        (749_999, TurnoverBand.MIDDLE),
        (750_000, TurnoverBand.HIGH),
        (2_500_000, TurnoverBand.HIGH),
    ],
)
def test_turnover_bands(turnover, band):
    assert rules.turnover_band(turnover) is band


def test_surveillance_adds_half_a_day_for_a_new_entrant():
    plain = rules.audit_duration(TurnoverBand.LOW, [F], 0, AuditKind.SURVEILLANCE)
    new = rules.audit_duration(TurnoverBand.LOW, [F], 0, AuditKind.SURVEILLANCE, new_entrant=True)
    assert new.days - plain.days == Decimal("0.5")
    # The supplement is for surveillance only.
    initial = rules.audit_duration(TurnoverBand.LOW, [F], 0, new_entrant=True)
    assert initial.days == Decimal("1")


def test_durations_are_counted_in_half_days():
    for band in TurnoverBand:
        for sites in range(0, 30):
            for kind in AuditKind:
                days = rules.audit_duration(band, [F, BDC, APP], sites, kind).days
                assert (days * 2) == (days * 2).to_integral_value()


def test_bad_input_is_refused_in_french():
    with pytest.raises(rules.DurationError, match="au moins une catégorie"):
        rules.audit_duration(TurnoverBand.LOW, [], 0)
    with pytest.raises(rules.DurationError, match="négatif"):
        rules.audit_duration(TurnoverBand.LOW, [F], -1)
