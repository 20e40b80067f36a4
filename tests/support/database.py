"""Emptying the database after each test, cheaply and completely.

One query asks every table whether it holds a row; only those are emptied, with DELETE
(children first). TRUNCATE … CASCADE costs some 150 ms on PostgreSQL, for any number of
tables: more than most tests. On PostgreSQL the sequences that moved (even through an
INSERT rolled back, or a COPY) are then put back to 1, as `RESTART IDENTITY` did, and the
emptied tables of more than one page are vacuumed (new rows are then stored in the order
they come, as after a TRUNCATE); on SQLite a table's ids start again at 1 once it is empty
(no table uses AUTOINCREMENT).
"""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db

_RESET_MOVED_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)

_MORE_THAN_ONE_PAGE = text(
    "SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relkind = 'r' "
    "AND relnamespace = current_schema()::regnamespace AND pg_relation_size(oid) > 8192"
)


def tables_with_rows() -> set[str]:
    quote = db.engine.dialect.identifier_preparer.quote
    query = " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {quote(t.name)})"
        for t in db.metadata.sorted_tables
    )
    return {row[0] for row in db.session.execute(text(query))}


def empty_tables() -> None:
    """Empty every table of the current application's database that holds a row, and on
    PostgreSQL restart the sequences that moved; commits."""
    db.session.rollback()
    dirty = tables_with_rows()
    for table in reversed(db.metadata.sorted_tables):  # children before parents
        if table.name in dirty:
            db.session.execute(table.delete())
    postgresql = db.engine.dialect.name == "postgresql"
    spread = []
    if postgresql:
        db.session.execute(_RESET_MOVED_SEQUENCES)
        if dirty:
            spread = db.session.scalars(_MORE_THAN_ONE_PAGE, {"names": sorted(dirty)}).all()
    db.session.commit()
    if spread:
        # Give these tables their pages back, so that new rows are stored (and read by a
        # scan) in the order they come, as in a new table: a test may read without ORDER
        # BY. Otherwise PostgreSQL fills the space of the deleted rows first. (A table of
        # one page keeps the order: its deleted rows' slots are not reused before VACUUM.)
        quote = db.engine.dialect.identifier_preparer.quote
        names = ", ".join(quote(name) for name in spread)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM {names}")
