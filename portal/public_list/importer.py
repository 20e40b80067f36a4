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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Connection, and_, bindparam, func, select, text, update

from portal import formatting
from portal.clock import utcnow
from portal.errors import Refused
from portal.extensions import db
from portal.models import ImportStatus, ListImport, ListVersion, PreviousNda, User
from portal.public_list.download import (
    DownloadError,
    download,
    session_with_retries,
    sha256_of,
)
from portal.public_list.history import (
    ACTIVITY_FIELDS,
    CATEGORY_KEYS,
    diff,
    fingerprint,
    search_key,
)
from portal.public_list.parser import NotAPublicList, PublicListReader

BATCH = 5000
MAX_REJECTED_KEPT = 500
MAX_NOTES_KEPT = 500
KEPT_PREVIOUS = "ligne illisible : état précédent conservé"
ADVISORY_LOCK_KEY = 0x5155414C  # "QUAL"
# SQLite page cache of the importing connection. Its size barely matters to a bulk load
# (pages are filled once, in order; the index builds sort in memory, temp_store=MEMORY) but
# counts in the import's peak memory (~150 MB at most).
SQLITE_IMPORT_CACHE_KB = 16 * 1024
CHANGED_BATCH = 500

# The columns written for a new version. It is open: valid_to is left NULL (binding None
# would cost the sqlite3 driver a failed adapter lookup per row).
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
    *ACTIVITY_FIELDS,
    "fingerprint",
    "valid_from",
    "import_id",
)
CHANGE_COLUMNS = ("import_id", "nda", "kind", "category", "before", "after")
# In `_apply`, the value of an NDA already met in the list being imported.
_SEEN = object()


@dataclass(slots=True)
class _NewVersion:
    """A version about to be written: its row, and what `history.diff` compares."""

    nda: str
    siren: str
    siret: str
    denomination: str
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool
    fingerprint: str
    row: tuple[Any, ...]


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


def troubled_condition() -> Any:
    """The runs refused, failed or interrupted since the last list put in force: an import
    problem nobody has settled yet (the imports page's "problems" filter, and the home
    pages' count)."""
    last_good = (
        select(func.max(ListImport.id))
        .where(ListImport.status.in_(ImportStatus.IN_FORCE))
        .scalar_subquery()
    )
    return and_(
        ListImport.status.in_(ImportStatus.TROUBLED),
        ListImport.id > func.coalesce(last_good, 0),
    )


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

    Returns the recorded run; raises Refused (the run recorded as refused or failed)
    when the list in force stays as it was because of the input.
    """
    started = time.perf_counter()
    run = _start_run(source, as_of, triggered_by, user)
    try:
        return _import(run, source, as_of, force, progress, started, on_imported)
    except Refused as refusal:
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
        raise Refused(
            f"La liste du {formatting.date_fr(as_of)} est antérieure à la liste en vigueur "
            f"(du {formatting.date_fr(in_force.as_of)}) : l'historique ne se réécrit pas."
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
            raise Refused(str(error)) from error
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
            raise Refused(f"Fichier introuvable : {source}")
    try:
        sha = sha256_of(path) if path.is_file() else None  # a pipe can be read only once
        if sha is not None and imported is not None and sha == imported.sha256 and not force:
            run.sha256 = sha
            return _finish(
                run,
                ImportStatus.UNCHANGED,
                "Liste identique à la dernière importée (même empreinte SHA-256) : "
                "rien à importer.",
                started,
            )
        with path.open("rb") as raw:
            hashing = _HashingReader(raw) if sha is None else None
            try:
                reader = PublicListReader(hashing or raw, light=True)  # type: ignore[arg-type]
            except NotAPublicList as error:
                raise Refused(str(error)) from error
            _apply(run, reader, as_of, first=imported is None, previous=imported, force=force)
            run.sha256 = sha or hashing.digest.hexdigest()  # type: ignore[union-attr]
        run.status = ImportStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.duration_ms = int((time.perf_counter() - started) * 1000)
        run.message = _summary(run)
        db.session.commit()
    finally:
        if downloaded_path is not None:
            downloaded_path.unlink(missing_ok=True)
    if on_imported is not None:
        on_imported(run)
    return run


def _summary(run: ListImport) -> str:
    kept_previous = sum(1 for r in run.rejected_lines if r.get("kept_previous"))
    message = (
        f"{formatting.plural(run.rows_kept, 'organisme importé', 'organismes importés')}, "
        f"{formatting.plural(run.rows_rejected, 'ligne écartée', 'lignes écartées')}"
    )
    if kept_previous:
        message += f" (dont {kept_previous} {KEPT_PREVIOUS})"
    message += (
        f" ; {formatting.plural(run.added, 'entrée', 'entrées')}, "
        f"{formatting.plural(run.removed, 'sortie', 'sorties')}, "
        f"{formatting.plural(run.changed, 'modification', 'modifications')}."
    )
    columns = [n["message"] for n in run.notes or () if n.get("line") is None]
    if columns:
        message += " " + " ; ".join(columns) + "."
    return message


@contextmanager
def _sqlite_import_settings(conn: Connection) -> Iterator[None]:
    """On SQLite, the importing connection's page cache and memory map, for the import only.

    Set before the transaction's first write, and put back as they were at its end (the
    connection goes back to the pool): a page cache of SQLITE_IMPORT_CACHE_KB, and no
    memory map (mmap_size=0), as the import reads the whole table of versions once and a
    mapping would add the pages read to the import's resident memory.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    mmap_size = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KB}")
    conn.exec_driver_sql("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        if cache_size is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")
        if mmap_size is not None:
            conn.exec_driver_sql(f"PRAGMA mmap_size={int(mmap_size)}")


def _lock(conn: Connection, run: ListImport) -> None:
    """One import at a time; taken first in the import's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    # On SQLite this write takes the database's write lock for the whole transaction.
    conn.execute(
        update(ListImport).where(ListImport.id == run.id).values(status=ImportStatus.RUNNING)
    )


class _Writer:
    """Buffers what an import writes, in bounded batches, inside its transaction."""

    def __init__(self, conn: Connection, run_id: int, as_of: date) -> None:
        self.conn, self.run_id, self.as_of = conn, run_id, as_of
        self.versions: list[tuple[Any, ...]] = []
        self.changes: list[tuple[Any, ...]] = []
        self.changed: dict[str, _NewVersion] = {}
        self.changed_count = 0
        self.completed: list[dict[str, Any]] = []
        self.completed_count = 0

    def version(self, row: tuple[Any, ...]) -> None:
        self.versions.append(row)
        if len(self.versions) >= BATCH:
            self.flush_versions()

    def change(self, nda: str, kind: str, category=None, before=None, after=None) -> None:
        self.changes.append((self.run_id, nda, kind, category, before, after))
        if len(self.changes) >= BATCH:
            _insert(self.conn, "public_list_changes", CHANGE_COLUMNS, self.changes)
            self.changes.clear()

    def replace(self, new: _NewVersion) -> None:
        """The NDA's open version differs from `new`: queued, handled by batches."""
        self.changed[new.nda] = new
        if len(self.changed) >= CHANGED_BATCH:
            self.flush_changed()

    def remove(self, ndas: list[str]) -> None:
        for batch in _chunks(ndas, CHANGED_BATCH):
            olds = self.conn.execute(
                select(ListVersion.id, ListVersion.nda, ListVersion.denomination).where(
                    ListVersion.nda.in_(batch), ListVersion.valid_to.is_(None)
                )
            ).all()
            _close(self.conn, [old.id for old in olds], self.as_of)
            for old in olds:
                self.change(old.nda, "removed", before=old.denomination)

    def flush_changed(self) -> None:
        if not self.changed:
            return
        olds = self.conn.execute(
            select(ListVersion).where(
                ListVersion.nda.in_(list(self.changed)), ListVersion.valid_to.is_(None)
            )
        ).all()
        _close(self.conn, [old.id for old in olds], self.as_of)
        for old in olds:
            new = self.changed[old.nda]
            self.changed_count += 1
            for found in diff(old, new):
                self.change(old.nda, found.kind, found.category, found.before, found.after)
            self.version(new.row)
        self.changed.clear()

    def complete(self, nda: str, activity: tuple[Any, ...], digest: str) -> None:
        """The NDA's open version was imported before the portal kept the activity figures,
        and nothing else differs: it gets them in place (no new version)."""
        declared, trainees, entrusted, trainers = activity
        self.completed.append(
            {
                "b_nda": nda,
                "b_declared": declared,
                "b_trainees": trainees,
                "b_entrusted": entrusted,
                "b_trainers": trainers,
                "b_fingerprint": digest,
            }
        )
        self.completed_count += 1
        if len(self.completed) >= BATCH:
            self.flush_completed()

    def flush_completed(self) -> None:
        if not self.completed:
            return
        table = ListVersion.__table__
        self.conn.execute(
            table.update()
            .where(table.c.nda == bindparam("b_nda"), table.c.valid_to.is_(None))
            .values(
                date_derniere_declaration=bindparam("b_declared"),
                nb_stagiaires=bindparam("b_trainees"),
                nb_stagiaires_confies=bindparam("b_entrusted"),
                effectif_formateurs=bindparam("b_trainers"),
                fingerprint=bindparam("b_fingerprint"),
            ),
            self.completed,
        )
        self.completed.clear()

    def flush_versions(self) -> None:
        _insert(self.conn, "public_list_versions", VERSION_COLUMNS, self.versions)
        self.versions.clear()

    def finish(self) -> None:
        self.flush_completed()
        self.flush_changed()
        self.flush_versions()
        _insert(self.conn, "public_list_changes", CHANGE_COLUMNS, self.changes)
        self.changes.clear()


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
    with _sqlite_import_settings(conn):
        _lock(conn, run)
        _apply_list(conn, run, reader, as_of, first=first, previous=previous, force=force)


def _apply_list(
    conn: Connection,
    run: ListImport,
    reader: PublicListReader,
    as_of: date,
    *,
    first: bool,
    previous: ListImport | None,
    force: bool,
) -> None:
    # NDA → fingerprint of the list in force: the one thing held for every row (~25 MB).
    # Read through the driver's cursor (plain tuples, in its transaction): 160,000 rows.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SELECT nda, fingerprint FROM public_list_versions WHERE valid_to IS NULL")
        current: dict[str, str | object] = dict(cursor)
    finally:
        cursor.close()
    known_pairs = set(conn.execute(select(PreviousNda.previous_nda, PreviousNda.nda)).all())
    # Into an empty history (the first import), build the indexes once at the end: a sort,
    # rather than 160,000 insertions into each of them.
    indexes = ListVersion.__table__.indexes
    bulk_load = not current and conn.execute(select(ListVersion.id).limit(1)).first() is None
    if bulk_load:
        for index in indexes:
            index.drop(conn)
    writer = _Writer(conn, run.id, as_of)
    import_id = run.id
    # What the rows hold for the date and the certifications. The sqlite3 driver stores a
    # date as its ISO text and a bool as 0/1, but only after looking for an adapter for
    # each value (~0.3 µs each, 5 per row): it is given the text and the ints directly.
    # PostgreSQL's COPY takes the date and the bools.
    if conn.dialect.name == "sqlite":
        valid_from: date | str = as_of.isoformat()
        flag: dict[bool, int | bool] = {False: 0, True: 1}
    else:
        valid_from, flag = as_of, {False: False, True: True}
    versions = writer.versions
    new_pairs: list[dict[str, Any]] = []
    duplicated: list[dict[str, Any]] = []
    added = kept = 0
    # Dates as the rows hold them (see valid_from): few distinct ones, looked up once each.
    stored_dates: dict[date | None, date | str | None] = {None: None}
    as_stored = (lambda d: d.isoformat()) if conn.dialect.name == "sqlite" else (lambda d: d)

    # The hot loop: ~160,000 entries, so few Python calls per entry.
    for entry in reader:
        (_, nda, previous_ndas, denomination, siren, siret, postal, city, region,
         af, bc, vae, app, declared, trainees, entrusted, trainers) = entry  # fmt: skip
        # `current` also records the NDAs seen in this list (value _SEEN): a second entry
        # for one is a duplicate; what is left with a fingerprint at the end was removed.
        old_fingerprint = current.get(nda)
        if old_fingerprint is _SEEN:
            duplicated.append(
                {"line": entry.line_number, "reason": f"NDA {nda} en double dans la liste"}
            )
            continue
        current[nda] = _SEEN
        kept += 1
        if previous_ndas:
            for previous_nda in previous_ndas:
                if (previous_nda, nda) not in known_pairs:
                    known_pairs.add((previous_nda, nda))
                    new_pairs.append(
                        {"previous_nda": previous_nda, "nda": nda, "first_seen": as_of}
                    )
        # Values are cut to the column sizes: PostgreSQL refuses longer values, and one odd
        # line must not stop the import.
        siren, siret, denomination = siren[:20], siret[:20], denomination[:300]
        region, postal, city = region[:3], postal[:10], city[:100]
        previous_text = " ".join(previous_ndas)[:200] if previous_ndas else ""
        activity = (declared, trainees, entrusted, trainers)
        digest = fingerprint(
            siren, siret, denomination, region, postal, city, af, bc, vae, app, previous_text,
            activity,
        )  # fmt: skip
        if old_fingerprint == digest:
            continue  # unchanged: nothing to write (most entries, from the second list on)
        stored_declared = stored_dates.get(declared)
        if stored_declared is None and declared is not None:
            stored_declared = stored_dates[declared] = as_stored(declared)
        if old_fingerprint is not None and old_fingerprint == fingerprint(
            siren, siret, denomination, region, postal, city, af, bc, vae, app, previous_text
        ):
            # Imported before the portal kept the activity figures, otherwise the same.
            writer.complete(nda, activity, digest)
            continue
        row = (
            nda,
            siren,
            siret,
            denomination,
            search_key(denomination),
            region,
            postal,
            city,
            flag[af],
            flag[bc],
            flag[vae],
            flag[app],
            previous_text,
            stored_declared,
            trainees,
            entrusted,
            trainers,
            digest,
            valid_from,
            import_id,
        )  # fmt: skip  (VERSION_COLUMNS)
        if old_fingerprint is None:
            added += 1
            versions.append(row)  # writer.version(row), inlined
            if len(versions) >= BATCH:
                writer.flush_versions()
            if not first:
                writer.change(nda, "added", after=denomination)
        else:
            writer.replace(
                _NewVersion(nda, siren, siret, denomination, af, bc, vae, app, digest, row)
            )
    if reader.cut_last_line is not None and not force:
        raise Refused(
            f"Fichier incomplet : il s'arrête au milieu de sa dernière ligne (ligne "
            f"{reader.cut_last_line}, sans fin de ligne) : téléchargement interrompu ? "
            "Relancez l'import, ou avec --force pour importer ce fichier tel quel (cette "
            "ligne comptant comme illisible)."
        )
    # A line that cannot be read but whose NDA can says nothing about the OF: it keeps
    # what the previous list said (not "removed", no change, no alert).
    rejected: list[dict[str, Any]] = []
    for line in reader.rejected:
        item: dict[str, Any] = {"line": line.line_number, "reason": line.reason}
        if line.nda is not None:
            item["nda"] = line.nda
            held = current.get(line.nda)
            if held is not None and held is not _SEEN:
                current[line.nda] = _SEEN
                kept += 1
                item["reason"] = f"{KEPT_PREVIOUS} ({line.reason})"
                item["kept_previous"] = True
        rejected.append(item)
    writer.finish()
    if bulk_load:
        for index in indexes:
            index.create(conn)

    removed = [nda for nda, digest in current.items() if digest is not _SEEN]
    del current
    _check_counts(kept, previous, force)
    writer.remove(removed)
    writer.finish()
    if new_pairs:
        conn.execute(PreviousNda.__table__.insert(), new_pairs)

    run.rows_read = reader.rows_read
    run.rows_kept = kept
    run.rows_rejected = len(reader.rejected) + len(duplicated)
    run.rejected_lines = sorted(rejected + duplicated[:MAX_REJECTED_KEPT], key=lambda r: r["line"])[
        :MAX_REJECTED_KEPT
    ]
    run.notes = _notes(reader, writer)
    run.added = added if not first else kept
    run.removed = len(removed)
    run.changed = writer.changed_count


def _notes(reader: PublicListReader, writer: _Writer) -> list[dict[str, Any]]:
    """What the import record says besides the rejected lines (French)."""
    layout = reader.layout
    notes: list[dict[str, Any]] = []
    if layout.ignored:
        notes.append({"line": None, "message": "colonnes ignorées : " + ", ".join(layout.ignored)})
    if layout.missing:
        missing = ", ".join(layout.missing)
        notes.append({"line": None, "message": f"colonnes absentes, lues vides : {missing}"})
    if reader.repaired:
        notes.append(
            {
                "line": None,
                "message": formatting.plural(reader.repaired, "ligne", "lignes")
                + " au SIREN ou SIRET complété (zéro initial perdu, "
                "ou SIRET réduit au numéro d'établissement)",
            }
        )
    if writer.completed_count:
        notes.append(
            {
                "line": None,
                "message": formatting.plural(
                    writer.completed_count, "organisme complété", "organismes complétés"
                )
                + " des chiffres d'activité déclarés, que le portail ne gardait pas encore",
            }
        )
    notes.extend(
        {"line": note.line_number, "message": note.message}
        for note in reader.notes[:MAX_NOTES_KEPT]
    )
    if len(reader.notes) > MAX_NOTES_KEPT:
        notes.append(
            {
                "line": None,
                "message": "… et "
                + formatting.plural(
                    len(reader.notes) - MAX_NOTES_KEPT, "autre SIRET", "autres SIRET"
                ),
            }
        )
    return notes


def _check_counts(kept: int, previous: ListImport | None, force: bool) -> None:
    if kept == 0:
        raise Refused("La liste ne contient aucune ligne de données exploitable.")
    if previous is not None and not force and kept < previous.rows_kept / 2:
        raise Refused(
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
