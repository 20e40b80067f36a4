"""URL converters: an identifier in a path is one the database can hold.

Werkzeug's `int` converter takes any number of digits; a value past a 64-bit integer then
reaches the database, which refuses it with an error (a 500). The portal's `int` stops at
the largest BIGINT, so `/dossiers/99999999999999999999` is simply a page that does not exist.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

#: The largest value of a signed 64-bit integer (PostgreSQL BIGINT, SQLite INTEGER).
MAX_ID = 2**63 - 1


class DatabaseIdConverter(IntegerConverter):
    """An `int` path segment from 0 to MAX_ID; beyond it, no route matches (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def bounded_int(value: str | None, default: int, *, low: int = 1, high: int = MAX_ID) -> int:
    """A number read from a query string, kept within [low, high]; `default` when it is not
    a whole number (a page number of "abc", "-1" or 99999999999999999999 stays usable)."""
    try:
        number = int(value or "")
    except ValueError:
        return default
    return min(max(number, low), high)


def database_id(value: str | None) -> int | None:
    """An identifier read from a form or a query string: a whole number from 1 to MAX_ID,
    else None (an identifier that no row can have)."""
    text = (value or "").strip()
    if not text.isdigit() or not text.isascii():
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def coerce_id(value: object) -> int:
    """WTForms' `coerce` for a select of identifiers: like `int` (0 stays the usual "all" or
    "none" choice), and refusing a number that no row can have (the field then reports an
    invalid choice)."""
    number = int(value)  # type: ignore[call-overload]  # ValueError for junk, as int does
    if not 0 <= number <= MAX_ID:
        raise ValueError("identifiant invalide")
    return number
