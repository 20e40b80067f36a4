"""The one way each figure, date and label is written (portal/formatting.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from enum import StrEnum

import pytest

from portal import formatting as f

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1234.5"), f"1{NNBSP}234,50{NBSP}€"),
        (D("0"), f"0,00{NBSP}€"),
        (D("14250.505"), f"14{NNBSP}250,51{NBSP}€"),
        (1234567, f"1{NNBSP}234{NNBSP}567,00{NBSP}€"),
        (D("-12.3"), f"-12,30{NBSP}€"),
        (None, ""),
    ],
)
def test_money(value, text) -> None:
    assert f.money(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("14"), f"14{NBSP}h"),
        (D("13.5"), f"13{NBSP}h{NBSP}30"),
        (D("0.25"), f"0{NBSP}h{NBSP}15"),
        (D("1234.5"), f"1{NNBSP}234{NBSP}h{NBSP}30"),
        (D("7.33"), f"7{NBSP}h{NBSP}20"),  # to the nearest minute
        (D("-0.5"), f"-0{NBSP}h{NBSP}30"),
        (35, f"35{NBSP}h"),
        (None, ""),
    ],
)
def test_hours(value, text) -> None:
    assert f.hours(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (999, "999"), (1234, f"1{NNBSP}234"), (5_000_000, f"5{NNBSP}000{NNBSP}000")],
)
def test_number(value, text) -> None:
    assert f.number(value) == text


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (D("1234.5"), 2, f"1{NNBSP}234,5"),
        (D("35.00"), 2, "35"),
        (D("7.25"), 2, "7,25"),
        (D("7.25"), 1, "7,3"),
        (None, 2, ""),
    ],
)
def test_decimal(value, places, text) -> None:
    assert f.decimal(value, places) == text


def test_percent() -> None:
    assert f.percent(D("0.125")) == f"12,5{NBSP}%"
    assert f.percent(D("0.35")) == f"35,0{NBSP}%"
    assert f.percent(D("0.6999999")) == f"70,0{NBSP}%"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2026, 12, 7), "07/12/2026"),
        ("2026-03-01", "01/03/2026"),
        # An instant is dated in Paris: 23:30 UTC on 31 March is already 1 April there.
        (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "01/04/2026"),
        (None, ""),
        ("", ""),
    ],
)
def test_date(value, text) -> None:
    assert f.date_fr(value) == text


def test_datetime_is_paris_time() -> None:
    winter = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 14, 12, 5, 9, tzinfo=UTC)
    assert f.datetime_fr(winter) == "07/12/2026 à 14:05"
    assert f.datetime_fr(summer) == "14/07/2026 à 14:05"
    assert f.datetime_fr(summer, seconds=True) == "14/07/2026 à 14:05:09"
    assert f.datetime_fr(datetime(2026, 12, 7, 13, 5)) == "07/12/2026 à 14:05"  # naive = UTC
    assert f.time_fr(winter) == "14:05"
    assert f.datetime_fr(None) == ""


def test_period_and_month() -> None:
    assert f.period(date(2026, 3, 1), date(2026, 3, 31)) == "du 01/03/2026 au 31/03/2026"
    assert f.period(date(2026, 3, 1), None) == "depuis le 01/03/2026"
    assert f.period(None, date(2026, 3, 31)) == "jusqu'au 31/03/2026"
    assert f.period(None, None) == ""

    class Piece:
        period_start = date(2026, 2, 1)
        period_end = date(2026, 2, 28)

    assert f.period_of(Piece()) == "du 01/02/2026 au 28/02/2026"
    assert f.month(date(2026, 8, 15)) == "août 2026"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (10 * 1024 * 1024, "10 Mo"),
        (1024 * 1024 + 512 * 1024, "1,5 Mo"),
        (18637, "18,2 Ko"),
        (500 * 1024, "500 Ko"),
        (100, "100 octets"),
        (1, "1 octet"),
        (None, ""),
    ],
)
def test_size(size, text) -> None:
    assert f.size(size) == text


def test_seconds() -> None:
    assert f.seconds(1500) == f"1,5{NBSP}s"
    assert f.seconds(12) == f"0{NBSP}s"
    assert f.seconds(None) == ""


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 pièce"),
        (1, "1 pièce"),
        (2, "2 pièces"),
        (1234, f"1{NNBSP}234 pièces"),
        (None, "0 pièce"),
    ],
)
def test_plural(count, text) -> None:
    assert f.plural(count, "pièce", "pièces") == text


def test_label() -> None:
    class Colour(StrEnum):
        RED = "rouge"
        BLUE = "bleu"

    by_member = {Colour.RED: "Rouge vif"}
    by_value = {"bleu": "Bleu ciel"}
    assert f.label("rouge", by_member) == "Rouge vif"
    assert f.label(Colour.RED, by_member) == "Rouge vif"
    assert f.label(Colour.BLUE, by_value) == "Bleu ciel"
    assert f.label("vert", by_value) == "vert"
    assert f.label("vert", by_value, "—") == "—"
    assert f.label(None, by_value) == ""


def test_every_function_is_a_filter(app) -> None:
    for name, function in f.FILTERS.items():
        assert app.jinja_env.filters[name] is function
    render = app.jinja_env.from_string
    assert render("{{ x | money }}").render(x=D("1234.5")) == f"1{NNBSP}234,50{NBSP}€"
    assert render("{{ n | plural('pièce', 'pièces') }}").render(n=3) == "3 pièces"
    assert render("{{ x | hours or '—' }}").render(x=None) == "—"
    assert render("{{ '11' | region_name }}").render() == "Île-de-France"
