"""Validation and normalisation of French company and training-provider identifiers.

Pure standard-library code (no Flask, no database) so that it can be used from forms,
services, the public-list import and the CLI alike.

* **SIREN**: 9 digits, Luhn checksum.
* **SIRET**: 14 digits (SIREN + 5-digit NIC), Luhn checksum over the 14 digits.
  La Poste (SIREN ``356000000``) is the known exception: it has more establishments than
  the Luhn key allows, so INSEE accepts any SIRET starting with ``356000000`` whose digit
  sum is a multiple of 5 (its head-office SIRET ``35600000000048`` happens to pass Luhn too;
  both rules are accepted).
* **NDA** (numéro de déclaration d'activité): exactly 11 digits, no checksum. The first two
  digits are usually the region code and may be ``0`` (``01971234567``): always keep it as
  a string.

User input is normalised first (:func:`normalize`): spaces, non-breaking spaces, dots and
dashes are removed, so ``"732 829 320"`` or ``"356.000.000-00048"`` are accepted.
Error messages (:class:`InvalidIdentifier`) are written in French for end users.

The public list's own values are repaired by :func:`repair_list_identifiers`: a SIREN
that lost its leading zero (8 digits) or a SIRET that lost it (13), when the zero-padded
value passes the checksum; a SIRET column holding only the 5-digit establishment number
(NIC), completed with the line's SIREN when the result passes the checksum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LA_POSTE_SIREN",
    "Identifier",
    "IdentifierKind",
    "InvalidIdentifier",
    "classify",
    "is_valid_nda",
    "is_valid_siren",
    "is_valid_siret",
    "luhn_valid",
    "normalize",
    "repair_list_identifiers",
    "validate",
]

IdentifierKind = Literal["siret", "siren", "nda"]

LA_POSTE_SIREN = "356000000"

SIREN_LENGTH = 9
SIRET_LENGTH = 14
NDA_LENGTH = 11

#: Characters users (and spreadsheets) put inside identifiers: regular, non-breaking,
#: narrow non-breaking and thin spaces, tabs, dots and the usual dashes.
_SEPARATORS = " \t\u00a0\u202f\u2009.-\u2010\u2011\u2012\u2013\u2014\u2212"
_STRIP_TABLE = str.maketrans("", "", _SEPARATORS)

#: Doubled digit → sum of its digits, for the Luhn algorithm.
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

_KIND_BY_LENGTH: dict[int, IdentifierKind] = {
    SIREN_LENGTH: "siren",
    SIRET_LENGTH: "siret",
    NDA_LENGTH: "nda",
}

#: French names used in messages, with their article.
_LABELS: dict[IdentifierKind, str] = {
    "siren": "Le SIREN",
    "siret": "Le SIRET",
    "nda": "Le numéro de déclaration d'activité",
}
_LENGTHS: dict[IdentifierKind, int] = {
    "siren": SIREN_LENGTH,
    "siret": SIRET_LENGTH,
    "nda": NDA_LENGTH,
}

_UNRECOGNISED = (
    "Identifiant non reconnu : un SIRET a 14 chiffres, un SIREN 9, "
    "un numéro de déclaration d'activité 11."
)


class InvalidIdentifier(ValueError):
    """An identifier that is malformed; ``str(exc)`` is a French message for the user."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """A validated, normalised identifier (``value`` holds digits only)."""

    kind: IdentifierKind
    value: str

    @property
    def siren(self) -> str | None:
        """The SIREN this identifier belongs to (``None`` for an NDA)."""
        if self.kind == "nda":
            return None
        return self.value[:SIREN_LENGTH]

    def __str__(self) -> str:
        return self.value


def normalize(raw: str) -> str:
    """Remove spaces (including non-breaking ones), dots and dashes; trim the rest.

    Nothing else is changed: letters stay, so that validation can reject them.
    """
    return raw.translate(_STRIP_TABLE).strip()


def _is_digits(s: str) -> bool:
    # str.isdigit() alone accepts "²" or Arabic-Indic digits; int() would accept them too.
    return s.isascii() and s.isdigit()


def luhn_valid(digits: str) -> bool:
    """Luhn checksum over a string of ASCII digits (``False`` if empty or not digits)."""
    if not digits or not _is_digits(digits):
        return False
    total = 0
    # From the right: keep the 1st, double the 2nd, keep the 3rd, ...
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        total += _LUHN_DOUBLE[digit] if position % 2 else digit
    return total % 10 == 0


def is_valid_siren(s: str) -> bool:
    """9 digits with a valid Luhn key (La Poste's ``356000000`` is always accepted)."""
    value = normalize(s)
    if len(value) != SIREN_LENGTH or not _is_digits(value):
        return False
    return value == LA_POSTE_SIREN or luhn_valid(value)


def is_valid_siret(s: str) -> bool:
    """14 digits with a valid Luhn key, or a La Poste SIRET whose digit sum is a multiple of 5."""
    value = normalize(s)
    if len(value) != SIRET_LENGTH or not _is_digits(value):
        return False
    if luhn_valid(value):
        return True
    if value.startswith(LA_POSTE_SIREN):
        return sum(ord(c) - 48 for c in value) % 5 == 0
    return False


def is_valid_nda(s: str) -> bool:
    """Exactly 11 digits (no checksum exists); leading zeros are significant."""
    value = normalize(s)
    return len(value) == NDA_LENGTH and _is_digits(value)


_CHECKS = {"siren": is_valid_siren, "siret": is_valid_siret, "nda": is_valid_nda}


def _check(kind: IdentifierKind, value: str) -> None:
    """Raise :class:`InvalidIdentifier` unless ``value`` (normalised) is a valid ``kind``."""
    label = _LABELS[kind]
    if not _is_digits(value):
        raise InvalidIdentifier(
            f"{label} « {value} » est invalide : il ne doit contenir que des chiffres."
        )
    expected = _LENGTHS[kind]
    if len(value) != expected:
        raise InvalidIdentifier(
            f"{label} {value} est invalide : il doit comporter {expected} chiffres "
            f"(et non {len(value)})."
        )
    if not _CHECKS[kind](value):
        raise InvalidIdentifier(
            f"{label} {value} est invalide : la clé de contrôle ne correspond pas."
        )


def classify(raw: str) -> Identifier:
    """Recognise a SIREN (9 digits), SIRET (14) or NDA (11) typed by a user.

    >>> classify("356 000 000 00048")
    Identifier(kind='siret', value='35600000000048')

    Raises :class:`InvalidIdentifier` with a French message when the input is empty,
    contains something other than digits, has another length, or fails the checksum.
    """
    value = normalize(raw)
    if not value:
        raise InvalidIdentifier(
            "Identifiant vide : saisissez un SIRET (14 chiffres), un SIREN (9 chiffres) "
            "ou un numéro de déclaration d'activité (11 chiffres)."
        )
    if not _is_digits(value):
        raise InvalidIdentifier(
            f"Identifiant « {value} » non reconnu : il ne doit contenir que des chiffres "
            "(un SIRET a 14 chiffres, un SIREN 9, un numéro de déclaration d'activité 11)."
        )
    kind = _KIND_BY_LENGTH.get(len(value))
    if kind is None:
        raise InvalidIdentifier(_UNRECOGNISED)
    _check(kind, value)
    return Identifier(kind, value)


def validate(raw: str, kind: IdentifierKind) -> str:
    """Normalise ``raw`` and check it is a valid ``kind``; return the digits.

    For form fields that expect one specific kind of identifier (e.g. "SIRET de
    l'établissement"): the message names that kind instead of guessing from the length.
    """
    if kind not in _LENGTHS:
        raise ValueError(f"unknown identifier kind: {kind!r}")
    value = normalize(raw)
    if not value:
        raise InvalidIdentifier(f"{_LABELS[kind]} est obligatoire.")
    _check(kind, value)
    return value


NIC_LENGTH = 5


def _padded(value: str, length: int, valid: Callable[[str], bool]) -> str | None:
    """`value` with its lost leading zero put back, when that makes a valid identifier."""
    if len(value) == length - 1 and _is_digits(value):
        candidate = "0" + value
        if valid(candidate):
            return candidate
    return None


def repair_list_identifiers(siren: str, siret: str) -> tuple[str, str, str | None]:
    """The SIREN and SIRET of one line of the public list, repaired where the rules allow,
    and a French note when the SIRET is not an establishment of the line's SIREN.

    * an 8-digit SIREN (a 13-digit SIRET) whose zero-padded value passes the checksum is
      that SIREN (SIRET);
    * a SIRET column holding only a 5-digit NIC is completed with the SIREN when the result
      passes the checksum;
    * anything else is kept as read (the NDA is the key; the list holds odd values);
    * a 14-digit SIRET that does not start with a 9-digit SIREN is kept as read, with a note.

    Values are the trimmed texts of the list; the common case (9 and 14 digits, the SIRET
    starting with the SIREN) costs three comparisons: this runs for every line imported.
    """
    if len(siren) == SIREN_LENGTH and len(siret) == SIRET_LENGTH and siret.startswith(siren):
        return siren, siret, None
    if len(siren) == SIREN_LENGTH - 1:
        siren = _padded(siren, SIREN_LENGTH, is_valid_siren) or siren
    if len(siret) == SIRET_LENGTH - 1:
        siret = _padded(siret, SIRET_LENGTH, is_valid_siret) or siret
    elif (
        len(siret) == NIC_LENGTH
        and _is_digits(siret)
        and len(siren) == SIREN_LENGTH
        and _is_digits(siren)
        and is_valid_siret(siren + siret)
    ):
        siret = siren + siret
    note = None
    if (
        len(siren) == SIREN_LENGTH
        and len(siret) == SIRET_LENGTH
        and _is_digits(siren)
        and _is_digits(siret)
        and not siret.startswith(siren)
    ):
        note = (
            f"SIRET {siret} d'un autre SIREN que celui de la ligne ({siren}) : conservé tel que lu"
        )
    return siren, siret, note
