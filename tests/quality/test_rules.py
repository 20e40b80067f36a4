"""The rules of a quality control (the rules of the field, "Non-conformities and
indicators"), table by table: which indicators apply to which actions, the major-only
indicators, the deadlines of non-conformities (month ends included), overdue, and the
result with requalification."""

from __future__ import annotations

from datetime import date

import pytest

from portal import rnq
from portal.quality import rules
from portal.quality.rules import Finding, NcStatus, Row

ALWAYS = [1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 17, 18, 19, 21, 22, 23, 24, 25, 26, 30, 31, 32]


@pytest.mark.parametrize(
    ("profile", "added", "removed"),
    [
        (rnq.ActionProfile(), [], []),
        (rnq.ActionProfile(certifying=True), [3, 7, 16], []),
        (rnq.ActionProfile(apprenticeship=True), [13, 14, 15, 20, 29], []),
        (rnq.ActionProfile(work_based=True), [28], []),
        (rnq.ActionProfile(subcontracting=True), [27], []),
        (rnq.ActionProfile(short_only=True), [], [12]),
        (
            rnq.ActionProfile(certifying=True, apprenticeship=True, work_based=True),
            [3, 7, 13, 14, 15, 16, 20, 28, 29],
            [],
        ),
    ],
)
def test_applicable_indicators_per_kind_of_action(profile, added, removed):
    expected = sorted((set(ALWAYS) | set(added)) - set(removed))
    assert rnq.applicable(profile) == expected


def test_every_indicator_applies_to_a_provider_doing_everything():
    profile = rnq.ActionProfile(
        certifying=True, apprenticeship=True, work_based=True, subcontracting=True
    )
    assert rnq.applicable(profile) == list(range(1, 33))


def test_the_grid_adds_certif_region_only_when_asked():
    profile = rnq.ActionProfile()
    assert rnq.indicator_codes(profile) == [str(n) for n in ALWAYS]
    with_label = rnq.indicator_codes(profile, certif_region=True)
    assert with_label[: len(ALWAYS)] == [str(n) for n in ALWAYS]
    assert with_label[len(ALWAYS) :] == [f"CR-{letter}" for letter in "ABCDEFGHIJKL"]


def test_certif_region_extension_is_data_with_its_source():
    assert len(rnq.CERTIF_REGION) == 12
    assert rnq.CERTIF_REGION_CRITERION[0] == 8
    assert "Certif'Région" in rnq.CERTIF_REGION_SOURCE and rnq.CERTIF_REGION_VERSION
    known = {i.letter for i in rnq.CERTIF_REGION if not i.to_confirm}
    assert known == {"C", "E", "F", "G", "H", "J"}
    assert {i.letter for i in rnq.CERTIF_REGION if i.criterion == 4} == {"E", "F", "G"}
    assert rnq.SOURCE and rnq.VERSION


MAJOR_ONLY = [4, 5, 6, 7, 10, 11, 14, 15, 16, 20, 21, 22, 26, 27, 29, 31, 32]


@pytest.mark.parametrize("number", range(1, 33))
def test_a_minor_is_refused_exactly_on_the_major_only_indicators(number):
    errors = rules.finding_errors(str(number), Finding.MINOR)
    if number in MAJOR_ONLY:
        assert errors and "ne peut donner qu'une non-conformité majeure" in errors[0]
        assert f"Indicateur {number} " in errors[0]
    else:
        assert errors == []
    assert rules.finding_errors(str(number), Finding.MAJOR) == []
    assert rules.finding_errors(str(number), Finding.CONFORMING) == []


@pytest.mark.parametrize("code", ["CR-A", "CR-G", "CR-L"])
def test_certif_region_indicators_take_both_levels(code):
    assert rules.finding_errors(code, Finding.MINOR) == []


NO_REASON = ["Dites pourquoi cet indicateur ne s'applique pas."]


@pytest.mark.parametrize(
    ("reason", "errors"), [("", NO_REASON), ("   ", NO_REASON), ("Pas de FAD", [])]
)
def test_not_applicable_needs_a_reason(reason, errors):
    assert rules.finding_errors("1", Finding.NOT_APPLICABLE, reason) == errors


def test_no_finding_yet_and_unknown_values():
    assert rules.finding_errors("4", None) == []
    assert rules.finding_errors("4", "bof") == ["« bof » n'est pas un constat possible."]


@pytest.mark.parametrize(
    ("control_date", "finding", "deadline"),
    [
        (date(2026, 1, 15), Finding.MINOR, date(2026, 7, 15)),
        (date(2026, 1, 15), Finding.MAJOR, date(2026, 4, 15)),
        # A control on 31 August: the day does not exist 6 months later, nor 3 months later.
        (date(2026, 8, 31), Finding.MINOR, date(2027, 2, 28)),
        (date(2026, 8, 31), Finding.MAJOR, date(2026, 11, 30)),
        (date(2027, 8, 31), Finding.MINOR, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), Finding.MAJOR, date(2026, 6, 30)),
        (date(2026, 11, 30), Finding.MAJOR, date(2027, 2, 28)),
        (date(2026, 12, 31), Finding.MINOR, date(2027, 6, 30)),
        (date(2026, 10, 1), Finding.MAJOR, date(2027, 1, 1)),  # across the year
        (date(2026, 5, 4), Finding.CONFORMING, None),
        (date(2026, 5, 4), Finding.NOT_APPLICABLE, None),
    ],
)
def test_nonconformity_deadlines(control_date, finding, deadline):
    assert rules.nc_deadline(control_date, finding) == deadline


@pytest.mark.parametrize(
    ("deadline", "status", "today", "overdue"),
    [
        (date(2026, 11, 30), NcStatus.OPEN, date(2026, 11, 30), False),  # the last day
        (date(2026, 11, 30), NcStatus.OPEN, date(2026, 12, 1), True),
        (date(2026, 11, 30), NcStatus.ANSWERED, date(2026, 12, 1), True),
        (date(2026, 11, 30), NcStatus.KEPT, date(2027, 1, 5), True),
        (date(2026, 11, 30), NcStatus.LIFTED, date(2027, 1, 5), False),
        (None, NcStatus.OPEN, date(2027, 1, 5), False),
    ],
)
def test_overdue(deadline, status, today, overdue):
    assert rules.is_overdue(deadline, status, today) is overdue


def _rows(minors=0, majors=0, conforming=0, na=0, empty=0, lifted=0):
    rows = [Row(Finding.MINOR.value, NcStatus.OPEN.value)] * minors
    rows += [Row(Finding.MINOR.value, NcStatus.LIFTED.value)] * lifted
    rows += [Row(Finding.MAJOR.value, NcStatus.OPEN.value)] * majors
    rows += [Row(Finding.CONFORMING.value)] * conforming
    rows += [Row(Finding.NOT_APPLICABLE.value)] * na
    rows += [Row(None)] * empty
    return rows


@pytest.mark.parametrize(
    ("minors", "per_major", "requalified"),
    [(0, 5, 0), (4, 5, 0), (5, 5, 1), (9, 5, 1), (10, 5, 2), (5, 0, 0), (3, 3, 1), (7, 3, 2)],
)
def test_requalification_of_minors(minors, per_major, requalified):
    result = rules.result(_rows(minors=minors), per_major)
    assert result.minors == minors
    assert result.requalified_majors == requalified
    assert result.total_majors == requalified


def test_result_counts_and_what_calls_for_a_signalement():
    result = rules.result(_rows(minors=2, majors=1, conforming=20, na=3, empty=2))
    assert (result.conforming, result.minors, result.majors, result.not_applicable) == (
        20,
        2,
        1,
        3,
    )
    assert result.assessed == 26 and result.to_fill == 2 and not result.complete
    assert result.open_nonconformities == 3
    assert result.calls_for_signalement
    assert "2 indicateurs à renseigner" in result.summary()

    all_fine = rules.result(_rows(conforming=22))
    assert all_fine.complete and not all_fine.calls_for_signalement

    lifted = rules.result(_rows(conforming=21, lifted=1))
    assert lifted.open_nonconformities == 0 and not lifted.calls_for_signalement

    open_minor = rules.result(_rows(conforming=21, minors=1))
    assert open_minor.total_majors == 0 and open_minor.calls_for_signalement


def test_summary_names_the_requalification():
    text = rules.result(_rows(minors=6, conforming=1)).summary()
    assert "les 6 non-conformités mineures comptent pour 1 majeure" in text
    assert "une majeure pour 5 mineures" in text


@pytest.mark.parametrize(
    ("finding", "months"),
    [(Finding.MINOR, 6), (Finding.MAJOR, 3), (Finding.CONFORMING, None), ("non_applicable", None)],
)
def test_deadline_months_and_the_rule_as_pages_state_it(finding, months):
    assert rules.deadline_months(finding) == months
    assert rules.DEADLINE_RULE_TEXT.startswith("6 mois pour une non-conformité mineure, 3 mois")
