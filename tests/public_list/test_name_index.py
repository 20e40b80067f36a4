"""The in-memory names of the list in force answer the active search like the database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.public_list import lookup, name_index
from portal.public_list.importer import import_list
from tests.public_list.lists import (
    BILANS,
    CARAIBES,
    GARONNE,
    PLUS_LYON,
    PLUS_PARIS,
    Org,
    write_list,
)

TODAY = date.today()
ORGS = [GARONNE, CARAIBES, BILANS, PLUS_PARIS, PLUS_LYON]


@pytest.fixture(autouse=True)
def _fresh_copy(app):
    name_index.forget()
    yield
    name_index.forget()


def _from_database(monkeypatch, text: str, on: date, limit: int = 20) -> list[lookup.Match]:
    with monkeypatch.context() as patch:
        patch.setattr(name_index, "find", lambda *args: None)
        return lookup.search(text, on, limit)


@pytest.mark.parametrize(
    "text", ["competences", "Compétences", "plus", "du sud", "garonne", "e", "zzz", "ce"]
)
def test_memory_and_database_find_the_same_names(tmp_path, monkeypatch, text):
    import_list(str(write_list(tmp_path / "l.csv", ORGS)), as_of=TODAY)
    assert name_index.find(lookup.search_key(text), TODAY, 20) is not None
    assert lookup.search(text, TODAY) == _from_database(monkeypatch, text, TODAY)


def test_the_first_names_in_name_order_up_to_the_limit(tmp_path, monkeypatch):
    many = [
        Org(f"7631{index:07d}", f"Formation {index:03d}", f"{index + 10000000:08d}")
        for index in range(40)
    ]
    import_list(str(write_list(tmp_path / "l.csv", many)), as_of=TODAY)
    found = lookup.search("formation", TODAY, limit=20)
    assert [m.denomination for m in found] == [f"Formation {i:03d}" for i in range(20)]
    assert found == _from_database(monkeypatch, "formation", TODAY)


def test_a_new_import_is_seen_by_the_next_search_and_past_dates_use_the_database(tmp_path):
    import_list(str(write_list(tmp_path / "1.csv", ORGS)), as_of=TODAY - timedelta(days=3))
    assert [m.nda for m in lookup.search("bilans", TODAY)] == [BILANS.nda]
    renamed = BILANS.but(name="Bilans et Parcours")
    second = [GARONNE, renamed, PLUS_PARIS, PLUS_LYON]
    import_list(str(write_list(tmp_path / "2.csv", second)), as_of=TODAY)

    assert [m.denomination for m in lookup.search("bilans", TODAY)] == ["Bilans et Parcours"]
    assert lookup.search("caraibes", TODAY) == []
    # Three days ago the list said otherwise: answered from the history in the database.
    past = TODAY - timedelta(days=2)
    assert name_index.find("caraibes", past, 20) is None
    assert [m.nda for m in lookup.search("caraibes", past)] == [CARAIBES.nda]


@pytest.mark.parametrize(
    ("prefix", "after"),
    [
        ("123", "124"),
        ("1239", "124"),
        ("7631", "7632"),
        ("0197", "0198"),
        ("999", None),
        ("19", "2"),
    ],
)
def test_the_end_of_a_digit_prefix_range(prefix, after):
    assert lookup.digits_after(prefix) == after


def test_the_beginning_of_a_siret_or_an_nda_finds_them(tmp_path):
    import_list(str(write_list(tmp_path / "l.csv", ORGS)), as_of=TODAY)
    # GARONNE's NDA 76311234567; CARAIBES' NDA 01971234567 keeps its leading zero.
    assert GARONNE.nda in {m.nda for m in lookup.search("7631", TODAY)}
    assert [m.nda for m in lookup.search("0197", TODAY)] == [CARAIBES.nda]
    siret_start = PLUS_LYON.siret[:10]
    assert {m.siret for m in lookup.search(siret_start, TODAY)} >= {PLUS_LYON.siret}
    assert lookup.search("99999", TODAY) == []
