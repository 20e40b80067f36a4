"""Pure rules on the history of the public list: what a version tracks, how two versions
differ, and the per-category certification intervals drawn from a run of versions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from hashlib import blake2b
from typing import Protocol

from portal import formatting

CATEGORY_KEYS: tuple[str, ...] = ("actions_formation", "bilans_competences", "vae", "apprentissage")
CATEGORY_LABELS: dict[str, str] = {
    "actions_formation": "Actions de formation",
    "bilans_competences": "Bilans de compétences",
    "vae": "Validation des acquis de l'expérience",
    "apprentissage": "Actions de formation par apprentissage",
}

# Fields of a version, in the order of the tracked tuple below.
TRACKED_FIELDS: tuple[str, ...] = (
    "siren",
    "siret",
    "denomination",
    "region_code",
    "postal_code",
    "city",
    *CATEGORY_KEYS,
    "previous_ndas",
)


def search_key(text: str) -> str:
    """The key of a name for the search box: lower case, accents removed, and every run of
    spaces and punctuation one space ("BNP-Paribas", "bnp  paribas" and "BNP  PARIBAS" are
    all "bnp paribas"); the needle goes through the same function.

    Letters with no accent to remove are spelt out (œ → oe, æ → ae, ß → ss, ø → o); any
    other character with no ASCII form separates words, as punctuation does.
    """
    folded = text.lower()
    # Fast paths (the importer calls this for every row), giving the same result as the
    # general rule at the end: plain ASCII; then Latin-1 text, folded one byte at a time.
    if folded.isascii():
        # Most names: letters and digits between single spaces, already their own key.
        if (
            "  " not in folded
            and folded.replace(" ", "").isalnum()
            and folded[0] != " "
            and folded[-1] != " "
        ):
            return folded
        return " ".join(folded.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    try:
        latin = folded.encode("latin-1")
    except UnicodeEncodeError:
        pass
    else:
        ascii_text = latin.translate(_LATIN1_FOLDED)  # punctuation already spaces
        if ascii_text.isascii():
            if b"  " not in ascii_text and ascii_text[:1] != b" " and ascii_text[-1:] != b" ":
                return ascii_text.decode("ascii")
            return " ".join(ascii_text.decode("ascii").split())
    for letter, spelt in _SPELT_OUT.items():
        folded = folded.replace(letter, spelt)
    decomposed = unicodedata.normalize("NFKD", folded)
    ascii_text = "".join(
        char if char.isascii() else ("" if unicodedata.combining(char) else " ")
        for char in decomposed
    )
    return " ".join(ascii_text.translate(_PUNCTUATION_TO_SPACE).split())


_SPELT_OUT = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ð": "d", "þ": "th"}
_PUNCTUATION_TO_SPACE = str.maketrans(
    {chr(code): " " for code in range(128) if not chr(code).isalnum()}
)
# The same, as a table of bytes.translate (much faster than str.translate with a dict).
_ASCII_WORDS = bytes(code if code > 127 or chr(code).isalnum() else ord(" ") for code in range(256))


def _latin1_table() -> bytes:
    """What `search_key`'s general rule makes of each Latin-1 character, as the argument of
    `bytes.translate`: the one ASCII character it becomes (a space for punctuation and for
    a character with no ASCII form).

    NFKD decomposes each character on its own (then only reorders combining marks, which
    are dropped), so folding character by character gives the same text. The characters
    that become several (æ, ß, ¼…) are left as they are: not ASCII, so a text holding one
    takes the general rule.
    """
    folded = bytearray(range(256))
    for code in range(128, 256):
        char = chr(code)
        if char in _SPELT_OUT:
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        ascii_form = "".join(
            c if c.isascii() else ("" if unicodedata.combining(c) else " ") for c in decomposed
        )
        if len(ascii_form) == 1:
            folded[code] = ord(ascii_form)
        elif not ascii_form:
            folded[code] = ord(" ")
    return bytes(folded).translate(_ASCII_WORDS)


_LATIN1_FOLDED = _latin1_table()


def fingerprint(
    siren: str,
    siret: str,
    denomination: str,
    region_code: str,
    postal_code: str,
    city: str,
    actions_formation: bool,
    bilans_competences: bool,
    vae: bool,
    apprentissage: bool,
    previous_ndas: str,
    activity: tuple[date | None, int | None, int | None, int | None] | None = None,
) -> str:
    """A short, stable digest of the values a version tracks (TRACKED_FIELDS, in order).

    `activity` is what the OF declared (ACTIVITY_FIELDS, in order). None gives the digest
    of the versions imported before the portal kept it, which no tuple of activity figures
    (even all None) gives: the importer knows such a version and completes it in place.
    """
    flags = _FLAGS.get((actions_formation, bilans_competences, vae, apprentissage))
    if flags is None:  # not plain booleans: format them as the table does
        flags = f"{actions_formation:d}{bilans_competences:d}{vae:d}{apprentissage:d}"
    joined = (
        f"{siren}\x1f{siret}\x1f{denomination}\x1f{region_code}\x1f{postal_code}\x1f{city}\x1f"
        f"{flags}\x1f{previous_ndas}"
    )
    if activity is not None:
        declared, trainees, entrusted, trainers = activity
        declared_text = _DATE_TEXTS.get(declared)
        if declared_text is None:
            declared_text = _DATE_TEXTS[declared] = declared.isoformat()  # type: ignore[union-attr]
        # Inlined (no call per value): this runs once per entry of every imported list.
        joined = (
            f"{joined}\x1e{declared_text}"
            f"\x1f{'' if trainees is None else trainees}"
            f"\x1f{'' if entrusted is None else entrusted}"
            f"\x1f{'' if trainers is None else trainers}"
        )
    digest = _BLAKE2B_8.copy()  # cheaper than a new blake2b(digest_size=8), same digest
    digest.update(joined.encode())
    return digest.hexdigest()


_BLAKE2B_8 = blake2b(digest_size=8)  # never updated: only copied

#: The declared activity a version keeps, in the order of `fingerprint`'s `activity`.
ACTIVITY_FIELDS: tuple[str, ...] = (
    "date_derniere_declaration",
    "nb_stagiaires",
    "nb_stagiaires_confies",
    "effectif_formateurs",
)

# Dates as `fingerprint` writes them (few distinct ones), formatted once each.
_DATE_TEXTS: dict[date | None, str] = {None: ""}


# The four certification flags as `fingerprint` writes them ("1010"), looked up rather than
# formatted: it runs once per entry of every imported list.
_FLAGS: dict[tuple[bool, bool, bool, bool], str] = {
    (a, b, c, d): f"{a:d}{b:d}{c:d}{d:d}"
    for a in (False, True)
    for b in (False, True)
    for c in (False, True)
    for d in (False, True)
}


class VersionLike(Protocol):
    siren: str
    siret: str
    denomination: str
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, category_gained, category_lost, name_changed, siret_changed
    category: str | None = None
    before: str | None = None
    after: str | None = None


CHANGE_LABELS: dict[str, str] = {
    "added": "Entrée dans la liste",
    "removed": "Sortie de la liste",
    "category_gained": "Catégorie obtenue",
    "category_lost": "Catégorie perdue",
    "name_changed": "Dénomination modifiée",
    "siret_changed": "SIRET modifié",
}


def diff(old: VersionLike, new: VersionLike) -> list[Change]:
    """The changes worth showing between two successive versions of one NDA."""
    changes = []
    for key in CATEGORY_KEYS:
        was, now = getattr(old, key), getattr(new, key)
        if was and not now:
            changes.append(Change("category_lost", key))
        elif now and not was:
            changes.append(Change("category_gained", key))
    if old.denomination != new.denomination:
        changes.append(Change("name_changed", None, old.denomination, new.denomination))
    if old.siret != new.siret:
        changes.append(Change("siret_changed", None, old.siret, new.siret))
    return changes


class Dated(Protocol):
    valid_from: date
    valid_to: date | None
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool


@dataclass(frozen=True)
class Interval:
    category: str
    start: date
    end: date | None  # excluded; None while it holds


def certification_intervals(versions: Iterable[Dated]) -> list[Interval]:
    """Per category, the dated intervals of certification, merging touching versions."""
    ordered = sorted(versions, key=lambda v: v.valid_from)
    intervals: list[Interval] = []
    for key in CATEGORY_KEYS:
        start: date | None = None
        end: date | None = None
        for version in ordered:
            if getattr(version, key):
                if start is not None and end is not None and end == version.valid_from:
                    end = version.valid_to  # continues the open interval
                    continue
                if start is not None:
                    intervals.append(Interval(key, start, end))
                start, end = version.valid_from, version.valid_to
        if start is not None:
            intervals.append(Interval(key, start, end))
    return sorted(intervals, key=lambda i: (CATEGORY_KEYS.index(i.category), i.start))


def activity_signals(
    trainees: int | None, entrusted: int | None, trainers: int | None
) -> list[str]:
    """The points of attention the declared activity raises (French), in a fixed order:
    trainees but no trainer; every trainee entrusted by another OF (a subcontractor)."""
    signals = []
    if trainees and trainers == 0:
        signals.append(
            formatting.plural(trainees, "stagiaire déclaré", "stagiaires déclarés")
            + " mais aucun formateur"
        )
    if trainees and entrusted is not None and entrusted >= trainees:
        signals.append("tous les stagiaires déclarés sont confiés par un autre organisme")
    return signals


STALE_AFTER_DAYS = 3


def is_stale(list_as_of: date | None, today: date, max_days: int = STALE_AFTER_DAYS) -> bool:
    """The list in force is more than `max_days` days old (or there is none)."""
    return list_as_of is None or (today - list_as_of).days > max_days
