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
    folded = text.lower().replace("œ", "oe").replace("æ", "ae")
    return unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")


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
    joined = (
        f"{siren}\x1f{siret}\x1f{denomination}\x1f{region_code}\x1f{postal_code}\x1f{city}\x1f"
        f"{actions_formation:d}{bilans_competences:d}{vae:d}{apprentissage:d}\x1f{previous_ndas}"
    )
    return blake2b(joined.encode(), digest_size=8).hexdigest()


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
