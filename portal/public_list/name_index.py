"""The names of the list in force, in memory, for the active search ("name contains …").

A database answers "contains" by reading every name unless it has a trigram index
(PostgreSQL has one, `ix_public_list_versions_search_trgm`; SQLite has none that is cheap
to keep): about 30 ms on 150,000 names when few or none match. Each process instead keeps
the names of the list in force, sorted, in one string, where a substring is found in about
a millisecond. The copy is keyed on the last import that changed the list: the first
search after a new import rebuilds it (one query, ~0.2 s), and an import in another
process is seen by the next search (one indexed query per search). Only the list in force
is held: a search on an earlier date goes to the database.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import ListVersion
from portal.public_list.importer import last_imported

SEPARATOR = "\n"


@dataclass(frozen=True)
class _Names:
    run: tuple[object, ...]  # what identifies the import the names come from
    text: str  # every name followed by SEPARATOR, sorted
    starts: list[int]  # where each name starts in `text`
    ids: list[int]  # the version id of each name


_lock = threading.Lock()
_current: dict[str, _Names] = {}  # per database URL


def _build(run: tuple[object, ...]) -> _Names:
    rows = db.session.execute(
        select(ListVersion.search_name, ListVersion.id)
        .where(ListVersion.valid_to.is_(None))
        .order_by(ListVersion.search_name, ListVersion.id)
    ).all()
    starts, ids, parts = [], [], []
    position = 0
    for name, version_id in rows:
        clean = name.replace(SEPARATOR, " ")
        starts.append(position)
        ids.append(version_id)
        parts.append(clean)
        position += len(clean) + 1
    text = SEPARATOR.join(parts) + SEPARATOR if parts else ""
    return _Names(run, text, starts, ids)


def _names_for(on: date) -> _Names | None:
    """The in-memory names when `on` is answered by the list in force, else None."""
    last = last_imported()
    if last is None or on < last.as_of:
        return None
    # The run's id alone could come back (a database emptied and filled again).
    run = (last.id, last.started_at, last.sha256)
    key = str(db.engine.url)
    names = _current.get(key)
    if names is None or names.run != run:
        with _lock:
            names = _current.get(key)
            if names is None or names.run != run:
                names = _build(run)
                _current[key] = names
    return names


def find(needle: str, on: date, limit: int) -> list[int] | None:
    """The version ids of the first `limit` names (in name order) containing `needle`, or
    None when the date is not answered from memory (the caller asks the database)."""
    if SEPARATOR in needle:
        return None
    names = _names_for(on)
    if names is None:
        return None
    found: list[int] = []
    position = names.text.find(needle)
    while position != -1 and len(found) < limit:
        index = bisect_right(names.starts, position) - 1
        found.append(names.ids[index])
        following = index + 1
        if following >= len(names.starts):
            break
        position = names.text.find(needle, names.starts[following])
    return found


def forget() -> None:
    """Drop every copy (tests, or after the list was changed outside an import)."""
    with _lock:
        _current.clear()
