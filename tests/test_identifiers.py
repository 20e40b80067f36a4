"""SIREN, SIRET and NDA validation (portal.identifiers): pure functions, no app needed."""

from __future__ import annotations

import dataclasses
import re

import pytest

from portal.identifiers import (
    Identifier,
    InvalidIdentifier,
    classify,
    is_valid_nda,
    is_valid_siren,
    is_valid_siret,
    luhn_valid,
    normalize,
    repair_list_identifiers,
    validate,
)

# Keys computed with the Luhn algorithm (see luhn_reference below).
VALID_SIRENS = ["812345676", "901234567", "523456788", "300123452", "123456782", "732829320"]
VALID_SIRETS = [
    "81234567600017",
    "81234567600025",
    "90123456700013",
    "30012345200017",
    "30012345200025",
    "12345678200010",
]
LA_POSTE_SIREN = "356000000"
# Head office: passes Luhn, though its digit sum (26) is not a multiple of 5.
LA_POSTE_HEAD_OFFICE = "35600000000048"
# Fails Luhn, digit sum 45: accepted only through the La Poste rule.
LA_POSTE_ESTABLISHMENT = "35600000049837"


def luhn_reference(digits: str) -> bool:
    """Independent, naive Luhn used to cross-check the module."""
    total = 0
    for index, char in enumerate(digits[::-1]):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("732829320", "732829320"),
        (" 732 829 320 ", "732829320"),
        ("732\u00a0829\u00a0320", "732829320"),
        ("732\u202f829\u202f320", "732829320"),
        ("356.000.000-00048", "35600000000048"),
        ("01-97-12345-67", "01971234567"),
        ("\t01971234567\n", "01971234567"),
        ("ABC 123", "ABC123"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("0", True),
        ("18", True),
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("732829320", True),
        ("732829321", False),
        ("", False),
        ("12a", False),
        ("١٢", False),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_luhn_valid(digits: str, expected: bool) -> None:
    assert luhn_valid(digits) is expected


@pytest.mark.parametrize("number", VALID_SIRENS + VALID_SIRETS + [LA_POSTE_HEAD_OFFICE])
def test_luhn_agrees_with_reference(number: str) -> None:
    assert luhn_valid(number) is luhn_reference(number) is True
    # Changing any single digit breaks the key.
    for position in range(len(number)):
        for other in "0123456789":
            if other != number[position]:
                altered = number[:position] + other + number[position + 1 :]
                assert luhn_valid(altered) is luhn_reference(altered) is False


@pytest.mark.parametrize(
    ("siren", "expected"),
    [
        *[(s, True) for s in VALID_SIRENS],
        (LA_POSTE_SIREN, True),
        ("356 000 000", True),
        ("812 345 676", True),
        ("812345677", False),  # wrong key
        ("123456789", False),
        ("81234567", False),  # 8 digits
        ("8123456760", False),  # 10 digits
        ("81234567600017", False),  # a SIRET is not a SIREN
        ("81234567A", False),
        ("", False),
    ],
)
def test_is_valid_siren(siren: str, expected: bool) -> None:
    assert is_valid_siren(siren) is expected


@pytest.mark.parametrize(
    ("siret", "expected"),
    [
        *[(s, True) for s in VALID_SIRETS],
        ("812 345 676 00017", True),
        (LA_POSTE_HEAD_OFFICE, True),
        (LA_POSTE_ESTABLISHMENT, True),
        ("356 000 000 49837", True),
        ("35600000000001", True),  # digit sum 15
        ("35600000000002", False),  # digit sum 16, Luhn fails too
        ("35600000049838", False),
        ("81234567600018", False),  # wrong key
        ("12345678901234", False),  # digit sum multiple of 5, but not La Poste
        ("8123456760001", False),  # 13 digits
        ("812345676000170", False),  # 15 digits
        ("812345676", False),  # a SIREN is not a SIRET
        ("8123456760001X", False),
        ("", False),
    ],
)
def test_is_valid_siret(siret: str, expected: bool) -> None:
    assert is_valid_siret(siret) is expected


@pytest.mark.parametrize(
    ("nda", "expected"),
    [
        ("01971234567", True),
        ("11755432101", True),
        ("00000000000", True),
        ("11 75 54321 01", True),
        ("1175543210", False),  # 10 digits: a lost leading zero is not restored
        ("117554321012", False),
        ("1175543210A", False),
        ("", False),
    ],
)
def test_is_valid_nda(nda: str, expected: bool) -> None:
    assert is_valid_nda(nda) is expected


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("812345676", "siren", "812345676"),
        ("812 345 676", "siren", "812345676"),
        ("356000000", "siren", "356000000"),
        ("81234567600017", "siret", "81234567600017"),
        ("812 345 676 00017", "siret", "81234567600017"),
        ("356 000 000 00048", "siret", "35600000000048"),
        ("35600000049837", "siret", "35600000049837"),
        ("01971234567", "nda", "01971234567"),
        (" 01 97 12345 67 ", "nda", "01971234567"),
        ("01.97.12345.67", "nda", "01971234567"),
    ],
)
def test_classify_valid(raw: str, kind: str, value: str) -> None:
    identifier = classify(raw)
    assert identifier == Identifier(kind, value)  # type: ignore[arg-type]
    assert isinstance(identifier.value, str)
    assert str(identifier) == value


def test_identifier_is_frozen_and_knows_its_siren() -> None:
    siret = classify("81234567600017")
    with pytest.raises(dataclasses.FrozenInstanceError):
        siret.value = "x"  # type: ignore[misc]
    assert siret.siren == "812345676"
    assert classify("812345676").siren == "812345676"
    assert classify("01971234567").siren is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "12345678901234",
            "Le SIRET 12345678901234 est invalide : la clé de contrôle ne correspond pas.",
        ),
        ("812345677", "Le SIREN 812345677 est invalide : la clé de contrôle ne correspond pas."),
        (
            "1234567890",
            "Identifiant non reconnu : un SIRET a 14 chiffres, un SIREN 9, "
            "un numéro de déclaration d'activité 11.",
        ),
        (
            "12",
            "Identifiant non reconnu : un SIRET a 14 chiffres, un SIREN 9, "
            "un numéro de déclaration d'activité 11.",
        ),
        (
            "812345676000170",
            "Identifiant non reconnu : un SIRET a 14 chiffres, un SIREN 9, "
            "un numéro de déclaration d'activité 11.",
        ),
        (
            "   ",
            "Identifiant vide : saisissez un SIRET (14 chiffres), un SIREN (9 chiffres) "
            "ou un numéro de déclaration d'activité (11 chiffres).",
        ),
        (
            "ABC123",
            "Identifiant « ABC123 » non reconnu : il ne doit contenir que des chiffres "
            "(un SIRET a 14 chiffres, un SIREN 9, un numéro de déclaration d'activité 11).",
        ),
    ],
)
def test_classify_invalid_messages_in_french(raw: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        classify(raw)
    assert str(excinfo.value) == message
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "kind", "result"),
    [
        ("812 345 676", "siren", "812345676"),
        ("81234567600017", "siret", "81234567600017"),
        ("01971234567", "nda", "01971234567"),
    ],
)
def test_validate_one_kind(raw: str, kind: str, result: str) -> None:
    assert validate(raw, kind) == result  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        (
            "812345676",
            "siret",
            "Le SIRET 812345676 est invalide : il doit comporter 14 chiffres (et non 9).",
        ),
        (
            "1975123456",
            "nda",
            "Le numéro de déclaration d'activité 1975123456 est invalide : "
            "il doit comporter 11 chiffres (et non 10).",
        ),
        ("81234567600018", "siret", "Le SIRET 81234567600018 est invalide : la clé de contrôle"),
        ("", "siren", "Le SIREN est obligatoire."),
        ("12A", "siren", "Le SIREN « 12A » est invalide : il ne doit contenir que des chiffres."),
    ],
)
def test_validate_one_kind_messages(raw: str, kind: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match="^" + re.escape(message)):
        validate(raw, kind)  # type: ignore[arg-type]


def test_validate_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown identifier kind"):
        validate("812345676", "tva")  # type: ignore[arg-type]


# -- the public list's own values (repair_list_identifiers) -----------------------------------


# SIREN 012345674 (a leading zero), SIRET 01234567400019; La Poste's head office.
@pytest.mark.parametrize(
    ("siren", "siret", "expected"),
    [
        # The common case: kept as is.
        ("812345676", "81234567600017", ("812345676", "81234567600017", None)),
        # A leading zero lost by a spreadsheet, on either or both.
        ("12345674", "01234567400019", ("012345674", "01234567400019", None)),
        ("012345674", "1234567400019", ("012345674", "01234567400019", None)),
        ("12345674", "1234567400019", ("012345674", "01234567400019", None)),
        # Padded, the checksum fails: kept as read.
        ("12345675", "", ("12345675", "", None)),
        ("812345676", "1234567400018", ("812345676", "1234567400018", None)),
        # Only 8 and 13 digits are padded (7 digits: kept as read).
        ("1234567", "", ("1234567", "", None)),
        # The SIRET column holding only the 5-digit NIC: completed when the checksum holds.
        ("812345676", "00017", ("812345676", "81234567600017", None)),
        ("12345674", "00019", ("012345674", "01234567400019", None)),
        ("812345676", "00018", ("812345676", "00018", None)),
        ("812345677", "00017", ("812345677", "00017", None)),  # SIREN of bad key: 9 digits
        ("", "00017", ("", "00017", None)),
        ("812345676", "0017", ("812345676", "0017", None)),  # 4 digits: not a NIC
        # La Poste: its own checksum rule, for the NIC too.
        ("356000000", "35600000000048", ("356000000", "35600000000048", None)),
        ("356000000", "00048", ("356000000", "35600000000048", None)),
        # A SIRET of another SIREN: kept as read, noted.
        (
            "812345676",
            "90123456700013",
            (
                "812345676",
                "90123456700013",
                "SIRET 90123456700013 d'un autre SIREN que celui de la ligne (812345676) : "
                "conservé tel que lu",
            ),
        ),
        (
            "812345676",
            "1234567400019",
            (
                "812345676",
                "01234567400019",
                "SIRET 01234567400019 d'un autre SIREN que celui de la ligne (812345676) : "
                "conservé tel que lu",
            ),
        ),
        # Nothing to compare with: no note.
        ("", "81234567600017", ("", "81234567600017", None)),
        ("ABC", "81234567600017", ("ABC", "81234567600017", None)),
        ("", "", ("", "", None)),
    ],
)
def test_repair_list_identifiers(siren: str, siret: str, expected: tuple) -> None:
    assert repair_list_identifiers(siren, siret) == expected


def test_repaired_identifiers_are_valid_and_unrepaired_ones_the_same_objects() -> None:
    siren, siret, _ = repair_list_identifiers("12345674", "00019")
    assert is_valid_siren(siren) and is_valid_siret(siret)
    raw_siren, raw_siret = "812345676", "81234567600017"
    kept = repair_list_identifiers(raw_siren, raw_siret)
    assert kept[0] is raw_siren and kept[1] is raw_siret
