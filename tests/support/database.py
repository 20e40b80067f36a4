"""Emptying the database after each test, cheaply and completely.

Only the tables that hold rows are emptied: one query asks every table whether it has a
row (a few hundred microseconds). On PostgreSQL the tables that received an INSERT are
truncated too, even when that INSERT was rolled back, so that their sequences start again
from 1 as on a new database (`RESTART IDENTITY`); INSERTs are noted by an event on every
engine of the process (`note_inserts`).
"""

from __future__ import annotations

import re

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from portal.extensions import db

_INSERT = re.compile(r'\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+"?(\w+)"?', re.IGNORECASE)
_inserted: set[str] = set()


def _note_insert(conn, cursor, statement, parameters, context, executemany) -> None:
    match = _INSERT.match(statement)
    if match:
        _inserted.add(match.group(1))


def note_inserts() -> None:
    """Start noting the tables that receive an INSERT, on any engine (once per process)."""
    if not event.contains(Engine, "before_cursor_execute", _note_insert):
        event.listen(Engine, "before_cursor_execute", _note_insert)


def tables_with_rows() -> set[str]:
    quote = db.engine.dialect.identifier_preparer.quote
    tables = db.metadata.sorted_tables
    query = " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {quote(t.name)})" for t in tables
    )
    return {row[0] for row in db.session.execute(text(query))}


def empty_tables() -> None:
    """Empty every table that holds a row (and, on PostgreSQL, reset the sequences that
    moved), in the current application's database; commits."""
    db.session.rollback()
    dirty = tables_with_rows()
    postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:
        dirty |= _inserted & set(db.metadata.tables)
    _inserted.clear()
    if not dirty:
        return
    tables = [t for t in db.metadata.sorted_tables if t.name in dirty]
    if postgresql:
        quote = db.engine.dialect.identifier_preparer.quote
        names = ", ".join(quote(t.name) for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):  # children before parents
            db.session.execute(table.delete())
    db.session.commit()


def empty_all_tables() -> None:
    """Empty every table, whatever it holds (the old way, kept for a full reset)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()
    _inserted.clear()
