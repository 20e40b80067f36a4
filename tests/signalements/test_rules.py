"""The substantiation rules: facts written, at least one indicator, at least one piece of
evidence; each missing element reported field by field."""

from __future__ import annotations

from datetime import date

import pytest

from portal.signalements import rules
from portal.signalements.rules import Facts

WHAT = "Feuilles d'émargement signées d'avance pour toute la session de mars."
COMPLETE = Facts(
    what=WHAT,
    when="mars 2026",
    where="Session de Toulouse",
    indicators=(10, 11),
    dossier_count=1,
    evidence_count=2,
)


def _with(**changes) -> Facts:
    return Facts(**{**COMPLETE.__dict__, **changes})


def test_a_complete_signalement_is_substantiated() -> None:
    result = rules.check(COMPLETE)
    assert result.ok
    assert result.missing == {}
    assert all(item.ok for item in result.items)
    assert [item.field for item in result.items] == [f for f, _ in rules.CHECKLIST]


def test_an_empty_signalement_lists_every_missing_field() -> None:
    result = rules.check(Facts())
    assert not result.ok
    assert set(result.missing) == {
        "facts_what",
        "facts_when",
        "facts_where",
        "indicators",
        "evidence",
    }
    assert result.missing["facts_what"] == rules.MISSING_WHAT
    assert result.missing["indicators"] == rules.MISSING_INDICATORS
    assert result.missing["evidence"] == rules.MISSING_EVIDENCE


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"what": ""}, "facts_what", rules.MISSING_WHAT),
        ({"what": "   \n  "}, "facts_what", rules.MISSING_WHAT),
        ({"what": "Trop court."}, "facts_what", rules.SHORT_WHAT),
        ({"when": ""}, "facts_when", rules.MISSING_WHEN),
        ({"where": "", "dossier_count": 0}, "facts_where", rules.MISSING_WHERE),
        ({"indicators": ()}, "indicators", rules.MISSING_INDICATORS),
        ({"evidence_count": 0}, "evidence", rules.MISSING_EVIDENCE),
        ({"period_start": date(2026, 3, 1)}, "period", rules.HALF_PERIOD),
        ({"period_end": date(2026, 3, 1)}, "period", rules.HALF_PERIOD),
        (
            {"period_start": date(2026, 3, 31), "period_end": date(2026, 3, 1)},
            "period",
            rules.REVERSED_PERIOD,
        ),
    ],
)
def test_each_missing_element_is_reported_on_its_field(changes, field: str, message: str) -> None:
    result = rules.check(_with(**changes))
    assert result.missing == {field: message}
    item = next(i for i in result.items if i.field == field)
    assert not item.ok and item.message == message


def test_a_period_tells_when_and_a_dossier_tells_where() -> None:
    result = rules.check(
        _with(
            when="",
            where="",
            period_start=date(2026, 3, 1),
            period_end=date(2026, 3, 31),
            dossier_count=2,
        )
    )
    assert result.ok
    messages = {item.field: item.message for item in result.items}
    assert messages["period"] == "Du 01/03/2026 au 31/03/2026."
    assert messages["facts_where"] == "2 dossiers concernés."


def test_a_reversed_period_does_not_tell_when() -> None:
    result = rules.check(
        _with(when="", period_start=date(2026, 3, 31), period_end=date(2026, 3, 1))
    )
    assert set(result.missing) == {"period", "facts_when"}


def test_what_is_found_is_said_too() -> None:
    messages = {item.field: item.message for item in rules.check(COMPLETE).items}
    assert messages["indicators"] == "Indicateurs 10 et 11."
    assert messages["evidence"] == "2 éléments joints."
    assert rules.check(_with(indicators=(4,), evidence_count=1)).items[4].message == (
        "Indicateur 4."
    )


def test_a_moderate_seriousness_on_major_only_indicators_is_a_warning_not_a_block() -> None:
    result = rules.check(_with(indicators=(4, 9, 26), seriousness="moderee"))
    assert result.ok
    assert result.warnings == [
        "Les indicateurs 4 et 26 ne peuvent donner lieu qu'à une non-conformité majeure : "
        "la gravité « modérée » est peut-être sous-estimée."
    ]
    assert rules.check(_with(indicators=(9,), seriousness="moderee")).warnings == []
    assert rules.check(_with(indicators=(4,), seriousness="grave")).warnings == []
