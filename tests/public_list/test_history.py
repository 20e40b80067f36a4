"""Pure rules of the list's history, table-driven."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

import pytest

from portal.public_list.history import (
    Change,
    Interval,
    activity_signals,
    certification_intervals,
    diff,
    fingerprint,
    is_stale,
    search_key,
)


@dataclass
class V:
    valid_from: date = date(2026, 1, 1)
    valid_to: date | None = None
    siren: str = "812345676"
    siret: str = "81234567600017"
    denomination: str = "Atelier"
    actions_formation: bool = True
    bilans_competences: bool = False
    vae: bool = False
    apprentissage: bool = False


J1, F1, M1, A1 = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (V(), V(), []),
        (V(), V(actions_formation=False), [Change("category_lost", "actions_formation")]),
        (V(), V(vae=True), [Change("category_gained", "vae")]),
        (
            V(),
            V(denomination="Atelier SAS"),
            [Change("name_changed", None, "Atelier", "Atelier SAS")],
        ),
        (
            V(),
            V(siret="81234567600025"),
            [Change("siret_changed", None, "81234567600017", "81234567600025")],
        ),
        (
            V(),
            V(actions_formation=False, apprentissage=True),
            [
                Change("category_lost", "actions_formation"),
                Change("category_gained", "apprentissage"),
            ],
        ),
    ],
)
def test_diff(old: V, new: V, expected: list[Change]) -> None:
    assert diff(old, new) == expected


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([V(J1, None)], [Interval("actions_formation", J1, None)]),
        # A change of name does not break the certification.
        (
            [V(J1, F1), V(F1, None, denomination="Autre")],
            [Interval("actions_formation", J1, None)],
        ),
        # Lost in February, back in March.
        (
            [V(J1, F1), V(F1, M1, actions_formation=False), V(M1, None)],
            [Interval("actions_formation", J1, F1), Interval("actions_formation", M1, None)],
        ),
        # Left the list in February (no version), back in April.
        (
            [V(J1, F1), V(A1, None)],
            [Interval("actions_formation", J1, F1), Interval("actions_formation", A1, None)],
        ),
        # Never certified.
        ([V(J1, None, actions_formation=False)], []),
        # Two categories, in the order of the law.
        (
            [V(J1, F1, vae=True), V(F1, None)],
            [Interval("actions_formation", J1, None), Interval("vae", J1, F1)],
        ),
    ],
)
def test_certification_intervals(versions: list[V], expected: list[Interval]) -> None:
    assert certification_intervals(versions) == expected


@pytest.mark.parametrize(
    ("list_as_of", "today", "stale"),
    [
        (date(2026, 11, 22), date(2026, 11, 22), False),
        (date(2026, 11, 19), date(2026, 11, 22), False),  # 3 days: still fine
        (date(2026, 11, 18), date(2026, 11, 22), True),  # more than 3 days
        (None, date(2026, 11, 22), True),
    ],
)
def test_is_stale(list_as_of, today, stale) -> None:
    assert is_stale(list_as_of, today) is stale


def test_search_key_folds_case_and_accents() -> None:
    assert search_key("Compétences ÉLÈVES Œuvre") == "competences eleves oeuvre"
    assert search_key("Caraïbes") == "caraibes"


def test_fingerprint_is_stable_and_sensitive() -> None:
    values = ["812345676", "81234567600017", "Atelier", "76", "31000", "Toulouse"]
    base = fingerprint(*values, True, False, False, False, "")
    assert base == fingerprint(*values, True, False, False, False, "")
    assert base != fingerprint(*values, False, False, False, False, "")
    assert base != fingerprint(*values, True, False, False, False, "76319999999")
    assert len(base) == 16 and int(base, 16) >= 0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("BNP  PARIBAS", "bnp paribas"),
        ("BNP-Paribas", "bnp paribas"),
        ("bnp  paribas", "bnp paribas"),
        ("bnp paribas", "bnp paribas"),
        ("  BNP\u00a0PARIBAS  ", "bnp paribas"),
        ("B.N.P. Paribas", "b n p paribas"),
        ("L'Atelier", "l atelier"),
        ("L’Atelier", "l atelier"),  # typographic apostrophe: a separator too
        ("Arts & Métiers", "arts metiers"),
        ("«Bois» n°3", "bois n 3"),
        ("Straße Søren", "strasse soren"),
        ("Cœur Æther", "coeur aether"),
        ("732-829-320", "732 829 320"),
        ("", ""),
        ("---", ""),
    ],
)
def test_search_key_ignores_case_accents_spaces_and_punctuation(text: str, key: str) -> None:
    assert search_key(text) == key


def _general_search_key(text: str) -> str:
    """search_key's general rule alone, without its fast paths."""
    folded = text.lower()
    for letter, spelt in {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ð": "d", "þ": "th"}.items():
        folded = folded.replace(letter, spelt)
    decomposed = unicodedata.normalize("NFKD", folded)
    ascii_text = "".join(
        c if c.isascii() else ("" if unicodedata.combining(c) else " ") for c in decomposed
    )
    return " ".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def test_search_key_fast_paths_agree_with_the_general_rule() -> None:
    for code in range(256):
        text = f"a{chr(code)}b"
        assert search_key(text) == _general_search_key(text), hex(code)
    assert search_key("Ça  va-t-il ½") == _general_search_key("Ça  va-t-il ½") == "ca va t il 1 2"


def test_fingerprint_tracks_the_declared_activity_and_knows_the_old_digests() -> None:
    values = ["812345676", "81234567600017", "Atelier", "76", "31000", "Toulouse"]
    flags = (True, False, False, False, "")
    legacy = fingerprint(*values, *flags)
    empty = fingerprint(*values, *flags, (None, None, None, None))
    declared = fingerprint(*values, *flags, (date(2025, 3, 15), 120, 4, 6))
    assert len({legacy, empty, declared}) == 3  # an old digest is never a new one
    assert declared == fingerprint(*values, *flags, (date(2025, 3, 15), 120, 4, 6))
    assert declared != fingerprint(*values, *flags, (date(2025, 3, 15), 120, 4, 7))
    assert declared != fingerprint(*values, *flags, (date(2025, 3, 16), 120, 4, 6))
    assert fingerprint(*values, *flags, (None, 0, None, None)) != empty  # 0 is not empty


@pytest.mark.parametrize(
    ("trainees", "entrusted", "trainers", "signals"),
    [
        (120, 4, 6, []),
        (None, None, None, []),
        (0, 0, 0, []),  # nothing declared: nothing to say
        (40, 0, 0, ["40 stagiaires déclarés mais aucun formateur"]),
        (40, 0, None, []),  # trainers unknown: not "none"
        (40, 40, 2, ["tous les stagiaires déclarés sont confiés par un autre organisme"]),
        (40, 39, 2, []),
        (
            40,
            41,
            0,
            [
                "40 stagiaires déclarés mais aucun formateur",
                "tous les stagiaires déclarés sont confiés par un autre organisme",
            ],
        ),
    ],
)
def test_activity_signals(trainees, entrusted, trainers, signals) -> None:
    assert activity_signals(trainees, entrusted, trainers) == signals
