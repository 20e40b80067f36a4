"""The figures typed by the OF against those its file carries: pure functions.

`read_values` turns the record kept with a piece (`Reading.stored()`, JSON) back into typed
values; `differences` lists the fields where the typed value is not the one read;
`provenance` says, in French, where a piece's figures come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from portal.einvoice.model import SOURCE_LABELS, Source

DATE_FIELDS = frozenset({"period_start", "period_end", "invoice_date", "signed_on"})
NUMBER_FIELDS = frozenset(
    {"amount_excl_tax", "amount_incl_tax", "hours_billed", "hours_completed", "months_completed"}
)
#: The fields compared, in the order the differences are told.
COMPARED = (
    "invoice_number",
    "invoice_date",
    "amount_excl_tax",
    "amount_incl_tax",
    "period_start",
    "period_end",
    "hours_billed",
    "hours_completed",
    "nature",
    "signatory",
    "signed_on",
)


def _value(name: str, raw: Any) -> Any:
    if raw is None:
        return None
    if name in DATE_FIELDS:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            return None
    if name in NUMBER_FIELDS:
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            return None
    return str(raw)


def read_values(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The figures of a stored reading, typed (dates, decimals, text)."""
    if not record:
        return {}
    figures = record.get("figures") or {}
    values = {name: _value(name, raw) for name, raw in figures.items()}
    return {name: value for name, value in values.items() if value is not None}


HOURS_FIELDS = frozenset({"hours_billed", "hours_completed"})


def minutes_of_hours(hours: Decimal) -> int:
    """Hours read in a file (7.33, 7.5) to the nearest whole minute, the unit durations are
    kept in: 7.5 → 450."""
    return int((hours * 60).to_integral_value(ROUND_HALF_UP))


def hours_of_minutes(minutes: int | None) -> Decimal | None:
    """A duration kept in minutes as hours, to compare with a reading: 450 → 7.5."""
    return None if minutes is None else Decimal(minutes) / 60


def normalize_number(number: str) -> str:
    return "".join(number.split()).upper()


def _same(name: str, typed: Any, read: Any) -> bool:
    if name == "invoice_number":
        return normalize_number(str(typed)) == normalize_number(str(read))
    if name == "signatory":
        return " ".join(str(typed).split()).casefold() == " ".join(str(read).split()).casefold()
    if name in HOURS_FIELDS:
        try:
            return minutes_of_hours(Decimal(str(typed))) == minutes_of_hours(Decimal(str(read)))
        except InvalidOperation:
            return False
    if isinstance(typed, Decimal) or isinstance(read, Decimal):
        try:
            return Decimal(str(typed)) == Decimal(str(read))
        except InvalidOperation:
            return False
    return typed == read


@dataclass(frozen=True, slots=True)
class Difference:
    name: str  # the piece field
    typed: Any
    read: Any


def differences(typed: Mapping[str, Any], read: Mapping[str, Any]) -> list[Difference]:
    """The fields typed (not empty) whose value differs from the one read in the file."""
    found = []
    for name in COMPARED:
        if name not in read or typed.get(name) is None:
            continue
        if not _same(name, typed[name], read[name]):
            found.append(Difference(name, typed[name], read[name]))
    return found


def provenance(source: str | None, typed: Mapping[str, Any], read: Mapping[str, Any]) -> str:
    """Where the figures of a piece come from, as the controller reads it."""
    if source in (Source.EINVOICE, Source.PDF_FORM, Source.PDF_TEXT) and read:
        if differences(typed, read):
            return (
                f"{SOURCE_LABELS[Source.TYPED]}, différentes de celles {_of_source(Source(source))}"
            )
        return SOURCE_LABELS[Source(source)]
    return SOURCE_LABELS[Source.TYPED]


def _of_source(source: Source) -> str:
    return {
        Source.EINVOICE: "de la facture électronique",
        Source.PDF_FORM: "du formulaire du PDF",
        Source.PDF_TEXT: "suggérées par le texte du PDF",
    }[source]
