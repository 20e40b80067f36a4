"""Bulk checks: a file of identifiers checked at once against the public list (services).

The file is read by :func:`portal.public_list.bulk_input.read_identifiers` (format by
content, unreadable lines listed, not fatal); each readable line is checked against the
list in force on its date (the date of the line, or the form's default date); the results
are stored as they were that day (:class:`portal.models.BulkCheck`) and only the user who
made a check may see it or download it.

Downloads (``/qualiopi/verification-groupee/<id>.csv`` and ``.xlsx``, written by
:mod:`portal.exports`) have these columns,
in this order (:data:`COLUMNS`), one row per match, and one row with empty match columns
when the identifier is absent from the list:

========================  ==================================================================
``ligne``                 line number in the uploaded file (the header is line 1)
``identifiant``           the identifier as written in the file
``date``                  the date checked (jj/mm/aaaa in the CSV, a date cell in the XLSX)
``liste_du``              the date of the public list in force on that date (empty: none)
``nda``                   numéro de déclaration d'activité of the match (11 digits, as text)
``siren``                 SIREN of the match
``siret``                 SIRET of the declaring establishment
``denomination``          the name in the list
``region``                INSEE region code (``76``, ``01``…)
``certifie``              ``oui`` when certified for at least one category, else ``non``
``actions_formation``     ``oui``/``non``: certified for actions de formation
``bilans_competences``    ``oui``/``non``: certified for bilans de compétences
``vae``                   ``oui``/``non``: certified for VAE
``apprentissage``         ``oui``/``non``: certified for actions de formation par apprentissage
``trouve_par``            how the match was found: ``nda``, ``siret`` (the declaring
                          establishment), ``siren`` (a SIREN, or a SIRET not in the list
                          answered through its SIREN: "établissement non déclarant") or
                          ``previous_nda`` (empty for checks stored before it existed)
========================  ==================================================================

The CSV is ``;``-separated UTF-8 with a BOM (so that Excel reads accents), CRLF line ends;
a text cell starting with ``=``, ``+``, ``-`` or ``@`` is prefixed with ``'`` so that a
spreadsheet never runs it as a formula. Open the XLSX in a spreadsheet: identifiers are
text cells there and keep their leading zeros, which Excel drops when it opens a CSV.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select

from portal import audit
from portal.extensions import db
from portal.models import BulkCheck, ImportStatus, ListImport, User
from portal.public_list import lookup
from portal.public_list.bulk_input import BulkInput, BulkItem
from portal.public_list.history import CATEGORY_KEYS

COLUMNS: tuple[str, ...] = (
    "ligne",
    "identifiant",
    "date",
    "liste_du",
    "nda",
    "siren",
    "siret",
    "denomination",
    "region",
    "certifie",
    *CATEGORY_KEYS,  # actions_formation, bilans_competences, vae, apprentissage
    "trouve_par",
)
RECENT_CHECKS = 10
# The status of one line of results, for the summary and the filter.
STATUS_LABELS: dict[str, str] = {
    "certifie": "Certifié (au moins une catégorie)",
    "non_certifie": "Dans la liste, non certifié",
    "absent": "Absent de la liste",
    "sans_liste": "Aucune liste publique à cette date",
}


def lists_in_force_dates() -> list[date]:
    """The dates of the lists that were in force one day or another, in order (one query)."""
    return list(
        db.session.scalars(
            select(ListImport.as_of)
            .where(ListImport.status.in_(ImportStatus.IN_FORCE))
            .distinct()
            .order_by(ListImport.as_of)
        )
    )


def list_date_on(list_dates: Sequence[date], on: date) -> date | None:
    """The date of the list in force on `on` (as `list_in_force`), from the sorted dates."""
    index = bisect_right(list_dates, on)
    return list_dates[index - 1] if index else None


def check_items(items: Sequence[BulkItem]) -> list[dict[str, Any]]:
    """The results of the readable lines, as stored in `BulkCheck.results`.

    Versions change only on the dates of lists, so the list in force on a date says what
    it said on its own date: each line is checked on the date of its list, which keeps the
    number of queries bounded by the number of lists involved, not of lines or of dates.
    """
    list_dates = lists_in_force_dates()
    list_of = {on: list_date_on(list_dates, on) for on in {item.on for item in items}}
    checked = [item for item in items if list_of[item.on] is not None]
    found = lookup.check_many([(item.identifier, list_of[item.on]) for item in checked])
    matches_of = {id(item): matches for item, matches in zip(checked, found, strict=True)}
    results = []
    for item in items:
        list_as_of = list_of[item.on]
        results.append(
            {
                "line": item.line,
                "query": item.raw,
                "kind": item.identifier.kind,
                "on": item.on.isoformat(),
                "list_as_of": list_as_of.isoformat() if list_as_of else None,
                "matches": [match.as_json() for match in matches_of.get(id(item), [])],
            }
        )
    return results


def line_status(result: dict[str, Any]) -> str:
    if result["list_as_of"] is None:
        return "sans_liste"
    if not result["matches"]:
        return "absent"
    if any(match["certified"] for match in result["matches"]):
        return "certifie"
    return "non_certifie"


def summary(check: BulkCheck) -> dict[str, int]:
    counts = Counter(line_status(result) for result in check.results)
    return {
        "lines": len(check.results),
        "unreadable": len(check.unreadable),
        **{status: counts.get(status, 0) for status in STATUS_LABELS},
    }


def create_check(user: User, filename: str, bulk_input: BulkInput) -> BulkCheck:
    """Check the lines read from a file and store the results (the caller commits)."""
    check = BulkCheck(
        user_id=user.id,
        filename=filename[:255],
        results=check_items(bulk_input.items),
        unreadable=[line.as_json() for line in bulk_input.unreadable],
    )
    db.session.add(check)
    audit.record(
        "qualiopi.bulk_check",
        actor=user,
        target=check,
        funder_id=user.funder_id,
        details={"filename": check.filename, "format": bulk_input.format, **summary(check)},
    )
    return check


def recent_checks(user: User, limit: int = RECENT_CHECKS) -> list[Any]:
    """The user's last checks, without loading their results (one query)."""
    return list(
        db.session.execute(
            select(
                BulkCheck.id,
                BulkCheck.created_at,
                BulkCheck.filename,
                func.json_array_length(BulkCheck.results).label("lines"),
                func.json_array_length(BulkCheck.unreadable).label("unreadable"),
            )
            .where(BulkCheck.user_id == user.id)
            .order_by(BulkCheck.id.desc())
            .limit(limit)
        )
    )


def export_rows(check: BulkCheck) -> Iterator[tuple[Any, ...]]:
    """The rows of the downloads, in :data:`COLUMNS` order, with Python values."""
    empty = (None,) * (len(COLUMNS) - 4)
    for result in check.results:
        list_as_of = result["list_as_of"]
        head = (
            result["line"],
            result["query"],
            date.fromisoformat(result["on"]),
            date.fromisoformat(list_as_of) if list_as_of else None,
        )
        if not result["matches"]:
            yield head + empty
        for match in result["matches"]:
            yield (
                *head,
                match["nda"],
                match["siren"],
                match["siret"],
                match["denomination"],
                match["region"],
                match["certified"],
                *(match["categories"].get(key, False) for key in CATEGORY_KEYS),
                match.get("matched_by", ""),
            )
