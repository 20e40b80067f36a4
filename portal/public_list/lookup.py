"""Was this OF certified, and for what, on a given day? Answered from the history.

Certification belongs to the NDA; a SIRET is only the establishment that filed the
declaration. A SIRET in the list answers with its entry ("siret"); a SIRET that is not in it
but whose SIREN is (a training site, another establishment: "établissement non déclarant")
answers through the SIREN, with every NDA of the company ("siren"); an NDA answers with its
entry ("nda") and with the entries giving it as a previous NDA ("previous_nda"). Each match
says how it was found (`Match.matched_on`, "matched_by" in JSON).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select

from portal.extensions import db
from portal.identifiers import Identifier
from portal.models import ListVersion, PreviousNda
from portal.public_list import name_index
from portal.public_list.history import CATEGORY_KEYS, search_key
from portal.public_list.importer import list_in_force


@dataclass(frozen=True)
class Match:
    nda: str
    siren: str
    siret: str
    denomination: str
    region: str
    categories: dict[str, bool]
    matched_on: str  # nda, siren, siret, previous_nda (MATCHED_BY); name or identifier
    valid_from: date
    valid_to: date | None

    @property
    def certified(self) -> bool:
        return any(self.categories.values())

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nda": self.nda,
            "siren": self.siren,
            "siret": self.siret,
            "denomination": self.denomination,
            "region": self.region,
            "certified": self.certified,
            "categories": self.categories,
        }
        if self.matched_on in MATCHED_BY:
            data["matched_by"] = self.matched_on
        return data


#: How a match of a check was found (the "matched_by" of the JSON answers).
MATCHED_BY: dict[str, str] = {
    "nda": "par son NDA",
    "siret": "par son SIRET (établissement déclarant)",
    "siren": "par son SIREN",
    "previous_nda": "comme ancien NDA de l'organisme",
}
#: Said of a SIRET answered through its SIREN.
NON_DECLARING = "établissement non déclarant"


@dataclass(frozen=True)
class CheckResult:
    query: str
    on: date
    list_as_of: date | None
    matches: list[Match] = field(default_factory=list)
    kind: str | None = None  # of the identifier checked

    @property
    def non_declaring(self) -> bool:
        """A SIRET not in the list, answered through its SIREN: the establishment asked
        about is not the one that filed the declaration (a training site…)."""
        return self.kind == "siret" and any(m.matched_on == "siren" for m in self.matches)

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "on": self.on.isoformat(),
            "list_as_of": self.list_as_of.isoformat() if self.list_as_of else None,
            "matches": [m.as_json() for m in self.matches],
        }


def _valid_on(on: date):
    return and_(
        ListVersion.valid_from <= on,
        or_(ListVersion.valid_to.is_(None), ListVersion.valid_to > on),
    )


def _match(version: ListVersion, matched_on: str) -> Match:
    return Match(
        nda=version.nda,
        siren=version.siren,
        siret=version.siret,
        denomination=version.denomination,
        region=version.region_code,
        categories={key: bool(getattr(version, key)) for key in CATEGORY_KEYS},
        matched_on=matched_on,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
    )


_COLUMN = {"nda": ListVersion.nda, "siren": ListVersion.siren, "siret": ListVersion.siret}


def check(ident: Identifier, on: date, *, query: str | None = None) -> CheckResult:
    """What the list in force on `on` said about a SIRET, a SIREN or an NDA."""
    in_force = list_in_force(on)
    result = CheckResult(
        query or ident.value, on, in_force.as_of if in_force else None, kind=ident.kind
    )
    if in_force is None:
        return result
    versions = db.session.scalars(
        select(ListVersion)
        .where(_COLUMN[ident.kind] == ident.value, _valid_on(on))
        .order_by(ListVersion.nda)
    ).all()
    result.matches.extend(_match(v, ident.kind) for v in versions)
    if ident.kind == "siret" and not versions:
        # Not a declaring establishment: the company's entries, through its SIREN.
        for version in db.session.scalars(
            select(ListVersion)
            .where(ListVersion.siren == ident.value[:9], _valid_on(on))
            .order_by(ListVersion.nda)
        ):
            result.matches.append(_match(version, "siren"))
    if ident.kind == "nda":
        successors = select(PreviousNda.nda).where(PreviousNda.previous_nda == ident.value)
        for version in db.session.scalars(
            select(ListVersion)
            .where(ListVersion.nda.in_(successors), _valid_on(on))
            .order_by(ListVersion.nda)
        ):
            result.matches.append(_match(version, "previous_nda"))
    return result


def check_many(items: Sequence[tuple[Identifier, date]]) -> list[list[Match]]:
    """The matches of many identifiers at once (bulk check), a few queries per date; the
    same answers as `check`, SIRET through SIREN and previous NDAs included."""
    by_date: dict[date, list[Identifier]] = {}
    for ident, on in items:
        by_date.setdefault(on, []).append(ident)
    found: dict[tuple[date, str, str], list[Match]] = {}
    for on, idents in by_date.items():
        for kind, column in _COLUMN.items():
            values = sorted({i.value for i in idents if i.kind == kind})
            for chunk in _chunks(values):
                for version in db.session.scalars(
                    select(ListVersion).where(column.in_(chunk), _valid_on(on))
                ):
                    key = (on, kind, getattr(version, kind))
                    found.setdefault(key, []).append(_match(version, kind))
        # SIRETs not in the list: their company's entries, through the SIREN.
        sirens = sorted(
            {
                i.value[:9]
                for i in idents
                if i.kind == "siret" and (on, "siret", i.value) not in found
            }
        )
        for chunk in _chunks(sirens):
            for version in db.session.scalars(
                select(ListVersion).where(ListVersion.siren.in_(chunk), _valid_on(on))
            ):
                found.setdefault((on, "siret_siren", version.siren), []).append(
                    _match(version, "siren")
                )
        ndas = sorted({i.value for i in idents if i.kind == "nda"})
        for chunk in _chunks(ndas):
            for previous_nda, version in db.session.execute(
                select(PreviousNda.previous_nda, ListVersion)
                .join(ListVersion, ListVersion.nda == PreviousNda.nda)
                .where(PreviousNda.previous_nda.in_(chunk), _valid_on(on))
            ):
                found.setdefault((on, "previous_nda", previous_nda), []).append(
                    _match(version, "previous_nda")
                )
    out = []
    for ident, on in items:
        matches = sorted(found.get((on, ident.kind, ident.value), []), key=lambda m: m.nda)
        if ident.kind == "siret" and not matches:
            matches = sorted(found.get((on, "siret_siren", ident.value[:9]), []), key=_by_nda)
        if ident.kind == "nda":
            matches += sorted(found.get((on, "previous_nda", ident.value), []), key=_by_nda)
        out.append(matches)
    return out


def _by_nda(match: Match) -> str:
    return match.nda


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def search(text: str, on: date, limit: int = 20) -> list[Match]:
    """Search by name (accent-insensitive) or by identifier, in the list of a date.

    The first `limit` matches found are sorted by name: the database stops at `limit`
    instead of sorting every match ("formation" matches most of the list).
    """
    needle = search_key(text.strip())
    digits = "".join(ch for ch in needle if ch.isdigit())
    query = select(ListVersion.id).where(_valid_on(on))
    if digits and len(digits) == len(needle.replace(" ", "")):
        if len(digits) < 3:
            return []
        exact = {9: ListVersion.siren, 11: ListVersion.nda, 14: ListVersion.siret}
        if len(digits) in exact:  # a whole identifier: an index look-up
            query = query.where(exact[len(digits)] == digits)
        else:
            query = query.where(
                or_(_prefix(ListVersion.siret, digits), _prefix(ListVersion.nda, digits))
            )
        matched_on = "identifier"
    else:
        if len(needle) < 2:
            return []
        query = query.where(ListVersion.search_name.contains(needle, autoescape=True))
        matched_on = "name"
        ids = name_index.find(needle, on, limit)  # the list in force: from memory
        if ids is not None:
            return _versions(ids, matched_on)
    # Ids first: for a name, a scan of the covering index, not of the table.
    return _versions(db.session.scalars(query.limit(limit)).all(), matched_on)


def digits_after(prefix: str) -> str | None:
    """The smallest string of digits that sorts after every string starting with `prefix`
    (digits only), or None when there is none ("999…")."""
    kept = prefix.rstrip("9")
    if not kept:
        return None
    return kept[:-1] + str(int(kept[-1]) + 1)


def _prefix(column: Any, digits: str) -> Any:
    """`column` starts with `digits`, as a range that an index answers (a LIKE 'x%' is a scan
    in SQLite, whose LIKE ignores case)."""
    upper = digits_after(digits)
    if upper is None:
        return column >= digits
    return and_(column >= digits, column < upper)


def _versions(ids: Sequence[int], matched_on: str) -> list[Match]:
    versions = db.session.scalars(select(ListVersion).where(ListVersion.id.in_(ids))).all()
    return [_match(v, matched_on) for v in sorted(versions, key=lambda v: v.search_name)]


def history(nda: str) -> list[ListVersion]:
    return list(
        db.session.scalars(
            select(ListVersion).where(ListVersion.nda == nda).order_by(ListVersion.valid_from)
        )
    )


def in_force_categories(ndas: Iterable[str], on: date) -> dict[str, dict[str, bool]]:
    """The categories of several NDAs on a date (for pages listing OF)."""
    values = sorted(set(ndas))
    out: dict[str, dict[str, bool]] = {}
    for start in range(0, len(values), 500):
        for version in db.session.scalars(
            select(ListVersion).where(
                ListVersion.nda.in_(values[start : start + 500]), _valid_on(on)
            )
        ):
            out[version.nda] = {key: bool(getattr(version, key)) for key in CATEGORY_KEYS}
    return out
