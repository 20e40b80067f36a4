"""Importing one public list into the history, atomically.

Everything the list changes is written in one transaction: readers keep seeing the list in
force until it commits, and a crash, an error or a kill in the middle leaves it in force.
Each run is recorded in `public_list_imports` (committed apart, before and after).

The list in force is the set of open versions. For each entry of the new list:
- an NDA not in force opens a version ("added", except on the very first import);
- an NDA in force whose tracked values differ closes its version on the list's date and
  opens a new one (the differences are recorded as changes);
- an NDA in force that the new list no longer holds has its version closed ("removed").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Connection, select, text, update

from portal.extensions import db
from portal.models import ImportStatus, ListImport, ListVersion, PreviousNda, User
from portal.models.types import utcnow
from portal.public_list.download import (
    DownloadError,
    download,
    session_with_retries,
    sha256_of,
)
from portal.public_list.history import (
    CATEGORY_KEYS,
    diff,
    fingerprint,
    search_key,
)
from portal.public_list.parser import ListEntry, NotAPublicList, PublicListReader

BATCH = 5000
MAX_REJECTED_KEPT = 500
ADVISORY_LOCK_KEY = 0x5155414C  # "QUAL"

VERSION_COLUMNS = (
    "nda",
    "siren",
    "siret",
    "denomination",
    "search_name",
    "region_code",
    "postal_code",
    "city",
    *CATEGORY_KEYS,
    "previous_ndas",
    "fingerprint",
    "valid_from",
    "valid_to",
    "import_id",
)
CHANGE_COLUMNS = ("import_id", "nda", "kind", "category", "before", "after")


class ImportRefused(Exception):
    """The list was not imported; the message says why, in French."""


@dataclass
class _NewVersion:
    """One entry of the new list, as a version row (same attribute names as ListVersion)."""

    nda: str
    siren: str
    siret: str
    denomination: str
    region_code: str
    postal_code: str
    city: str
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool
    previous_ndas: str
    fingerprint: str

    @classmethod
    def from_entry(cls, entry: ListEntry) -> _NewVersion:
        values = (
            entry.siren[:20],
            entry.siret[:20],
            entry.denomination[:300],
            entry.region_code[:3],
            entry.postal_code[:10],
            entry.city[:100],
            entry.actions_formation,
            entry.bilans_competences,
            entry.vae,
            entry.apprentissage,
            " ".join(entry.previous_ndas)[:200],
        )
        return cls(entry.nda, *values, fingerprint(values))

    def row(self, valid_from: date, import_id: int) -> tuple[Any, ...]:
        return (
            self.nda,
            self.siren,
            self.siret,
            self.denomination,
            search_key(self.denomination),
            self.region_code,
            self.postal_code,
            self.city,
            self.actions_formation,
            self.bilans_competences,
            self.vae,
            self.apprentissage,
            self.previous_ndas,
            self.fingerprint,
            valid_from,
            None,
            import_id,
        )


class _HashingReader:
    """Wraps a binary stream and computes its SHA-256 while it is read."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


# --- Runs -------------------------------------------------------------------------------


def list_in_force(on: date | None = None) -> ListImport | None:
    """The last run after which a list was in force (on a date, if given)."""
    query = select(ListImport).where(ListImport.status.in_(ImportStatus.IN_FORCE))
    if on is not None:
        query = query.where(ListImport.as_of <= on)
    return db.session.scalar(query.order_by(ListImport.as_of.desc(), ListImport.id.desc()))


def last_imported() -> ListImport | None:
    """The last run that actually imported a list (its rows are the list in force)."""
    return db.session.scalar(
        select(ListImport)
        .where(ListImport.status == ImportStatus.SUCCEEDED)
        .order_by(ListImport.as_of.desc(), ListImport.id.desc())
    )


def _start_run(source: str, as_of: date, triggered_by: str, user: User | None) -> ListImport:
    db.session.execute(
        update(ListImport)
        .where(ListImport.status == ImportStatus.RUNNING)
        .values(status=ImportStatus.INTERRUPTED, message="Import interrompu avant sa fin.")
    )
    run = ListImport(
        source=source,
        as_of=as_of,
        status=ImportStatus.RUNNING,
        triggered_by=triggered_by,
        triggered_by_id=user.id if user else None,
        rejected_lines=[],
    )
    db.session.add(run)
    db.session.commit()
    return run


def _finish(run: ListImport, status: str, message: str, started: float) -> ListImport:
    run.status = status
    run.message = message
    run.finished_at = utcnow()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    db.session.commit()
    return run


# --- The import -------------------------------------------------------------------------


def import_list(
    source: str,
    *,
    as_of: date,
    force: bool = False,
    triggered_by: str = "cli",
    user: User | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    on_imported: Callable[[ListImport], None] | None = None,
) -> ListImport:
    """Import the list at `source` (a path or an http(s) URL) as the list of `as_of`.

    Returns the recorded run; raises ImportRefused (the run recorded as refused or failed)
    when the list in force stays as it was because of the input.
    """
    started = time.perf_counter()
    run = _start_run(source, as_of, triggered_by, user)
    try:
        return _import(run, source, as_of, force, progress, started, on_imported)
    except ImportRefused as refusal:
        db.session.rollback()
        _finish(run, ImportStatus.REFUSED, str(refusal), started)
        raise
    except BaseException:
        db.session.rollback()
        _finish(run, ImportStatus.FAILED, "Erreur inattendue pendant l'import.", started)
        raise


def _import(
    run: ListImport,
    source: str,
    as_of: date,
    force: bool,
    progress: Callable[[int, int | None], None] | None,
    started: float,
    on_imported: Callable[[ListImport], None] | None,
) -> ListImport:
    in_force = list_in_force()
    if in_force is not None and as_of < in_force.as_of:
        raise ImportRefused(
            f"La liste du {as_of:%d/%m/%Y} est antérieure à la liste en vigueur "
            f"(du {in_force.as_of:%d/%m/%Y}) : l'historique ne se réécrit pas."
        )
    imported = last_imported()
    downloaded_path: Path | None = None
    if source.startswith(("http://", "https://")):
        same_source = imported if imported is not None and imported.source == source else None
        try:
            fetched = download(
                source,
                session=session_with_retries(
                    current_app.config["QUALIOPI_DOWNLOAD_RETRIES"],
                    current_app.config["QUALIOPI_DOWNLOAD_BACKOFF"],
                ),
                etag=same_source.etag if same_source and not force else None,
                last_modified=same_source.last_modified if same_source and not force else None,
                progress=progress,
            )
        except DownloadError as error:
            raise ImportRefused(str(error)) from error
        if fetched.unchanged:
            run.sha256 = imported.sha256 if imported else None
            run.etag, run.last_modified = fetched.etag, fetched.last_modified
            return _finish(
                run,
                ImportStatus.UNCHANGED,
                "Liste inchangée depuis le dernier import "
                "(le serveur l'indique) : rien à importer.",
                started,
            )
        downloaded_path = fetched.path
        run.etag, run.last_modified = fetched.etag, fetched.last_modified
        path = fetched.path
    else:
        path = Path(source)
        if not path.exists():
            raise ImportRefused(f"Fichier introuvable : {source}")
    try:
        if path.is_file():
            sha = sha256_of(path)
            if imported is not None and sha == imported.sha256 and not force:
                run.sha256 = sha
                return _finish(
                    run,
                    ImportStatus.UNCHANGED,
                    "Liste identique à la dernière importée (même empreinte SHA-256) : "
                    "rien à importer.",
                    started,
                )
        with path.open("rb") as raw:
            hashing = _HashingReader(raw)
            try:
                reader = PublicListReader(hashing)  # type: ignore[arg-type]
            except NotAPublicList as error:
                raise ImportRefused(str(error)) from error
            _apply(run, reader, as_of, first=imported is None, previous=imported, force=force)
            run.sha256 = hashing.digest.hexdigest()
        run.status = ImportStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.duration_ms = int((time.perf_counter() - started) * 1000)
        run.message = (
            f"{run.rows_kept} organismes importés, {run.rows_rejected} ligne(s) écartée(s) ; "
            f"{run.added} entrée(s), {run.removed} sortie(s), {run.changed} modification(s)."
        )
        db.session.commit()
    finally:
        if downloaded_path is not None:
            downloaded_path.unlink(missing_ok=True)
    if on_imported is not None:
        on_imported(run)
    return run


def _lock(conn: Connection, run: ListImport) -> None:
    """One import at a time; taken first in the import's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    # On SQLite this write takes the database's write lock for the whole transaction.
    conn.execute(
        update(ListImport).where(ListImport.id == run.id).values(status=ImportStatus.RUNNING)
    )


def _apply(
    run: ListImport,
    reader: PublicListReader,
    as_of: date,
    *,
    first: bool,
    previous: ListImport | None,
    force: bool,
) -> None:
    conn = db.session.connection()
    _lock(conn, run)
    current: dict[str, str] = dict(
        conn.execute(
            select(ListVersion.nda, ListVersion.fingerprint).where(ListVersion.valid_to.is_(None))
        ).all()
    )
    known_pairs = set(conn.execute(select(PreviousNda.previous_nda, PreviousNda.nda)).all())
    seen: set[str] = set()
    new_rows: list[tuple[Any, ...]] = []
    new_pairs: list[dict[str, Any]] = []
    changed: dict[str, _NewVersion] = {}
    changes: list[tuple[Any, ...]] = []
    rejected: list[dict[str, Any]] = []
    added = kept = duplicates = 0

    for entry in reader:
        nda = entry.nda
        if nda in seen:
            duplicates += 1
            if len(rejected) < MAX_REJECTED_KEPT:
                rejected.append(
                    {"line": entry.line_number, "reason": f"NDA {nda} en double dans la liste"}
                )
            continue
        seen.add(nda)
        kept += 1
        version = _NewVersion.from_entry(entry)
        for previous_nda in entry.previous_ndas:
            if (previous_nda, nda) not in known_pairs:
                known_pairs.add((previous_nda, nda))
                new_pairs.append({"previous_nda": previous_nda, "nda": nda, "first_seen": as_of})
        old_fingerprint = current.pop(nda, None)
        if old_fingerprint is None:
            added += 1
            new_rows.append(version.row(as_of, run.id))
            if not first:
                changes.append((run.id, nda, "added", None, None, version.denomination))
            if len(new_rows) >= BATCH:
                _insert(conn, "public_list_versions", VERSION_COLUMNS, new_rows)
                new_rows.clear()
        elif old_fingerprint != version.fingerprint:
            changed[nda] = version
    _insert(conn, "public_list_versions", VERSION_COLUMNS, new_rows)
    new_rows.clear()

    removed = list(current)
    del current
    _check_counts(kept, previous, force)

    for batch in _chunks(removed, 500):
        olds = conn.execute(
            select(ListVersion.id, ListVersion.nda, ListVersion.denomination).where(
                ListVersion.nda.in_(batch), ListVersion.valid_to.is_(None)
            )
        ).all()
        _close(conn, [o.id for o in olds], as_of)
        changes.extend((run.id, o.nda, "removed", None, o.denomination, None) for o in olds)
    changed_count = 0
    for batch in _chunks(list(changed), 500):
        olds = db.session.scalars(
            select(ListVersion).where(ListVersion.nda.in_(batch), ListVersion.valid_to.is_(None))
        ).all()
        for old in olds:
            new = changed[old.nda]
            found = diff(old, new)
            changed_count += 1
            changes.extend((run.id, old.nda, c.kind, c.category, c.before, c.after) for c in found)
            new_rows.append(new.row(as_of, run.id))
        _close(conn, [o.id for o in olds], as_of)
        for old in olds:
            db.session.expunge(old)
    _insert(conn, "public_list_versions", VERSION_COLUMNS, new_rows)
    _insert(conn, "public_list_changes", CHANGE_COLUMNS, changes)
    if new_pairs:
        conn.execute(PreviousNda.__table__.insert(), new_pairs)

    rejected = [{"line": r.line_number, "reason": r.reason} for r in reader.rejected] + rejected
    run.rows_read = reader.rows_read
    run.rows_kept = kept
    run.rows_rejected = len(reader.rejected) + duplicates
    run.rejected_lines = sorted(rejected, key=lambda r: r["line"])[:MAX_REJECTED_KEPT]
    run.added = added if not first else kept
    run.removed = len(removed)
    run.changed = changed_count


def _check_counts(kept: int, previous: ListImport | None, force: bool) -> None:
    if kept == 0:
        raise ImportRefused("La liste ne contient aucune ligne de données exploitable.")
    if previous is not None and not force and kept < previous.rows_kept / 2:
        raise ImportRefused(
            f"La liste ne compte que {kept} organismes contre {previous.rows_kept} dans la liste "
            "en vigueur : téléchargement tronqué ? Relancez avec --force si cette baisse est "
            "réelle."
        )


def _close(conn: Connection, ids: list[int], as_of: date) -> None:
    """Close versions on `as_of`; one opened that same day never held: drop it."""
    if not ids:
        return
    table = ListVersion.__table__
    conn.execute(table.delete().where(table.c.id.in_(ids), table.c.valid_from == as_of))
    conn.execute(
        table.update().where(table.c.id.in_(ids), table.c.valid_from < as_of).values(valid_to=as_of)
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(conn: Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Bulk insert through the driver: COPY on PostgreSQL, executemany on SQLite."""
    rows = list(rows)
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
