"""Pure rules on the history of the public list: what a version tracks, how two versions
differ, and the per-category certification intervals drawn from a run of versions."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from hashlib import blake2b
from typing import Protocol

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
    """Lower case, accents removed (œ and æ spelt out), for accent-insensitive search.

    Characters with no ASCII form are dropped; the needle goes through the same function.
    """
    folded = text.lower()
    # Fast paths (the importer calls this for every row), giving the same result as the
    # general rule at the end: plain ASCII; then Latin-1 text, folded one byte at a time.
    if folded.isascii():
        return folded
    try:
        latin = folded.encode("latin-1")
    except UnicodeEncodeError:
        pass
    else:
        ascii_text = latin.translate(_LATIN1_FOLDED, _LATIN1_DROPPED)
        if ascii_text.isascii():
            return ascii_text.decode("ascii")
    folded = folded.replace("œ", "oe").replace("æ", "ae")
    return unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")


def _latin1_tables() -> tuple[bytes, bytes]:
    """What `search_key`'s general rule makes of each Latin-1 character, as the two
    arguments of `bytes.translate`: the one ASCII character it becomes, or its deletion.

    NFKD decomposes each character on its own (then only reorders combining marks, which
    are dropped), so folding character by character gives the same text. The characters
    that become several (æ, ¼, ½, ¾) are left as they are: not ASCII, so a text holding
    one takes the general rule.
    """
    folded, dropped = bytearray(range(256)), bytearray()
    for code in range(128, 256):
        char = chr(code)
        ascii_form = unicodedata.normalize("NFKD", char).encode("ascii", "ignore")
        if len(ascii_form) == 1:
            folded[code] = ascii_form[0]
        elif not ascii_form and char != "æ":
            dropped.append(code)
    return bytes(folded), bytes(dropped)


_LATIN1_FOLDED, _LATIN1_DROPPED = _latin1_tables()


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
) -> str:
    """A short, stable digest of the values a version tracks (TRACKED_FIELDS, in order)."""
    flags = _FLAGS.get((actions_formation, bilans_competences, vae, apprentissage))
    if flags is None:  # not plain booleans: format them as the table does
        flags = f"{actions_formation:d}{bilans_competences:d}{vae:d}{apprentissage:d}"
    joined = (
        f"{siren}\x1f{siret}\x1f{denomination}\x1f{region_code}\x1f{postal_code}\x1f{city}\x1f"
        f"{flags}\x1f{previous_ndas}"
    )
    digest = _BLAKE2B_8.copy()  # cheaper than a new blake2b(digest_size=8), same digest
    digest.update(joined.encode())
    return digest.hexdigest()


_BLAKE2B_8 = blake2b(digest_size=8)  # never updated: only copied


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


STALE_AFTER_DAYS = 3


def is_stale(list_as_of: date | None, today: date, max_days: int = STALE_AFTER_DAYS) -> bool:
    """The list in force is more than `max_days` days old (or there is none)."""
    return list_as_of is None or (today - list_as_of).days > max_days
