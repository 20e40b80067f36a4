"""The RNQ reference data: 7 criteria, 32 indicators, their titles, the major-only ones and
the conditional ones (the rules of the field, "Non-conformities and indicators")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import rnq


def test_seven_criteria_hold_the_thirty_two_indicators_in_order() -> None:
    assert [c.number for c in rnq.CRITERIA] == list(range(1, 8))
    numbers = [n for c in rnq.CRITERIA for n in c.indicators]
    assert numbers == list(range(1, 33))
    assert sorted(rnq.INDICATORS) == list(range(1, 33))


@pytest.mark.parametrize(
    ("criterion", "indicators"),
    [
        (1, (1, 2, 3)),
        (2, (4, 5, 6, 7, 8)),
        (3, (9, 10, 11, 12, 13, 14, 15, 16)),
        (4, (17, 18, 19, 20)),
        (5, (21, 22)),
        (6, (23, 24, 25, 26, 27, 28, 29)),
        (7, (30, 31, 32)),
    ],
)
def test_each_criterion_has_its_indicators(criterion: int, indicators: tuple[int, ...]) -> None:
    assert rnq.criterion(criterion).indicators == indicators
    for number in indicators:
        assert rnq.indicator(number).criterion == criterion
        assert rnq.criterion_of(number).number == criterion


MAJOR_ONLY = {4, 5, 6, 7, 10, 11, 14, 15, 16, 20, 21, 22, 26, 27, 29, 31, 32}


@pytest.mark.parametrize("number", range(1, 33))
def test_major_only_indicators_are_those_of_the_decree(number: int) -> None:
    assert rnq.is_major_only(number) is (number in MAJOR_ONLY)
    assert rnq.indicator(number).major_only is (number in MAJOR_ONLY)


@pytest.mark.parametrize(
    ("number", "case"),
    [
        (3, rnq.CERTIFYING),
        (7, rnq.CERTIFYING),
        (16, rnq.CERTIFYING),
        (13, rnq.APPRENTICESHIP),
        (14, rnq.APPRENTICESHIP),
        (15, rnq.APPRENTICESHIP),
        (20, rnq.APPRENTICESHIP),
        (29, rnq.APPRENTICESHIP),
        (28, rnq.AFEST),
        (27, rnq.SUBCONTRACTING),
        (12, rnq.LONGER_THAN_TWO_DAYS),
    ],
)
def test_conditional_indicators_say_when_they_apply(number: int, case: str) -> None:
    assert rnq.indicator(number).applicability == case


def test_the_other_indicators_always_apply() -> None:
    conditional = {3, 7, 12, 13, 14, 15, 16, 20, 27, 28, 29}
    for number in set(range(1, 33)) - conditional:
        assert rnq.indicator(number).applicability is None


@pytest.mark.parametrize(
    ("number", "start"),
    [
        (1, "Le prestataire diffuse une information accessible au public"),
        (4, "Le prestataire analyse le besoin du bénéficiaire"),
        # The decree's words: « des conditions » (issue 14), not « sur les conditions ».
        (9, "Le prestataire informe les publics bénéficiaires des conditions de déroulement"),
        (12, "Le prestataire décrit et met en œuvre les mesures pour favoriser l'engagement"),
        (26, "Le prestataire mobilise les expertises, outils et réseaux nécessaires"),
        (27, "Lorsque le prestataire fait appel à la sous-traitance ou au portage salarial"),
        (32, "Le prestataire met en œuvre des mesures d'amélioration"),
    ],
)
def test_titles_are_the_regulatory_text(number: int, start: str) -> None:
    assert rnq.indicator(number).title.startswith(start)


def test_every_title_is_a_sentence_and_every_indicator_has_a_short_name() -> None:
    for ind in rnq.INDICATORS.values():
        assert ind.title.endswith(".")
        assert "oeuvre" not in ind.title  # spelt as in the décret
        assert ind.name and ind.name == ind.name.strip()
        assert ind.label == f"Indicateur {ind.number} — {ind.name}"
    for criterion in rnq.CRITERIA:
        assert criterion.title[0].isupper()


def test_grouped_gives_the_form_its_sections() -> None:
    groups = rnq.grouped()
    assert len(groups) == 7
    assert [ind.number for _, items in groups for ind in items] == list(range(1, 33))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["4", " 10 ", "4"], [4, 10]),
        ([32, 1], [1, 32]),
        (["", "  "], []),
    ],
)
def test_parse_indicators(values: list, expected: list[int]) -> None:
    assert rnq.parse_indicators(values) == expected


@pytest.mark.parametrize("value", ["0", "33", "abc", "-1", "4.5"])
def test_parse_indicators_refuses_what_is_not_an_indicator(value: str) -> None:
    with pytest.raises(rnq.InvalidIndicator, match="1 à 32"):
        rnq.parse_indicators([value])


def test_short_labels() -> None:
    assert rnq.short_labels([]) == ""
    assert rnq.short_labels([4]) == "4"
    assert rnq.short_labels([26, 4, 10, 4]) == "4, 10 et 26"


def test_all_32_titles_are_those_of_the_referentiel_source() -> None:
    """Word for word against the AFNOR FAQ's copy of the decree's annex (seeds/), « œ »
    written out as that copy writes it."""
    source = (Path(__file__).parents[2].parent / "shared" / "seeds").joinpath(
        "afnor-qualiopi-referentiel-faq.txt"
    )
    if not source.exists():
        pytest.skip("the seeds of the domain are not beside this checkout")
    seen: dict[int, str] = {}
    for match in re.finditer(r"Indicateur ?(\d+) : (.*)", source.read_text(encoding="utf-8")):
        seen.setdefault(int(match.group(1)), match.group(2).strip())
    for number in range(1, 33):
        title = rnq.indicator(number).title.replace("œ", "oe")
        assert seen[number].endswith(title), number
