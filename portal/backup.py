"""Backing up and restoring the portal: the database and the stored files, with a manifest.

A backup is a folder:

- ``base.sqlite`` (SQLite, through its online backup API: consistent while the portal runs)
  or ``base.pgdump`` (PostgreSQL, ``pg_dump --format=custom``);
- ``fichiers/<clé>``: every file the database names (the pieces, evidence, contracts…);
- ``manifest.csv``: each file of the backup with its size and SHA-256;
- ``sauvegarde.json``: when, from which database kind, the row count of every table and the
  head of the audit log.

`restore` checks every sum of the manifest first, and restores only into an empty database
and an empty store: it never mixes a backup with data already there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url

from portal import clock
from portal.extensions import db
from portal.models import AuditHead, Document
from portal.storage import Storage

SQLITE_FILE = "base.sqlite"
POSTGRES_FILE = "base.pgdump"
FILES_DIR = "fichiers"
MANIFEST = "manifest.csv"
INFO = "sauvegarde.json"
CHUNK = 1024 * 1024


class BackupRefused(Exception):
    """A backup or a restore that cannot be done; the message says why, in French."""


@dataclass
class BackupReport:
    path: Path
    dialect: str
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    missing_files: list[str] = field(default_factory=list)


def table_counts(engine: Engine) -> dict[str, int]:
    """The number of rows of every table of the portal (a backup's and a restore's proof)."""
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in db.metadata.sorted_tables
        }


def _copy(source: BinaryIO, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _sum(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        digest = hashlib.sha256()
        size = 0
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _pg_args(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """Connection options of pg_dump/pg_restore; the password goes in the environment,
    never on the command line."""
    url = engine.url
    args = ["--no-password"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError:
        raise BackupRefused(
            f"{command[0]} est introuvable : installez les outils clients de PostgreSQL "
            "(paquet Debian postgresql-client) de la même version que le serveur."
        ) from None
    except subprocess.CalledProcessError as error:
        raise BackupRefused(f"{command[0]} a échoué : {error.stderr.strip()}") from None


def create(path: Path, engine: Engine, storage: Storage) -> BackupReport:
    """Write a backup of the database and of every stored file into `path` (a new or empty
    folder)."""
    if path.exists() and any(path.iterdir()):
        raise BackupRefused(f"Le dossier {path} n'est pas vide : choisissez un dossier neuf.")
    (path / FILES_DIR).mkdir(parents=True, exist_ok=True)
    dialect = engine.dialect.name
    report = BackupReport(path, dialect, table_counts(engine))
    if dialect == "sqlite":
        database = path / SQLITE_FILE
        raw = engine.raw_connection()
        try:
            target = sqlite3.connect(database)
            with target:
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
            target.close()
        finally:
            raw.close()
    elif dialect == "postgresql":
        database = path / POSTGRES_FILE
        args, env = _pg_args(engine)
        name = str(engine.url.database)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", *args, "--file", str(database), name], env
        )
    else:
        raise BackupRefused(f"Base {dialect} : seules SQLite et PostgreSQL sont prises en charge.")
    rows = [(database.name, *_sum(database))]
    with engine.connect() as connection:
        keys = connection.scalars(select(Document.storage_key).order_by(Document.id)).all()
        head = connection.scalar(select(AuditHead.last_hash).where(AuditHead.id == 1))
    for key in keys:
        try:
            source = storage.open(key)
        except FileNotFoundError:
            report.missing_files.append(key)
            continue
        with source:
            size, sha = _copy(source, path / FILES_DIR / key)
        rows.append((f"{FILES_DIR}/{key}", size, sha))
        report.files += 1
    with (path / MANIFEST).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["fichier", "taille", "sha256"])
        writer.writerows(rows)
    info = {
        "created_at": clock.utcnow().isoformat(),
        "dialect": dialect,
        "tables": report.tables,
        "files": report.files,
        "missing_files": report.missing_files,
        "audit_head": head,
    }
    (path / INFO).write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
    return report


def _read_manifest(path: Path) -> list[tuple[str, int, str]]:
    try:
        with (path / MANIFEST).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter=";"))[1:]
        return [(name, int(size), sha) for name, size, sha in rows]
    except (OSError, ValueError) as error:
        raise BackupRefused(f"{path} n'est pas une sauvegarde du portail ({error}).") from None


def verify(path: Path) -> list[tuple[str, int, str]]:
    """Every file of the manifest is there with its size and SHA-256; else BackupRefused
    naming the first one that is not."""
    rows = _read_manifest(path)
    for name, size, sha in rows:
        file = path / name
        if not file.is_file():
            raise BackupRefused(f"Sauvegarde incomplète : {name} manque.")
        if _sum(file) != (size, sha):
            raise BackupRefused(f"Sauvegarde altérée : {name} ne correspond pas au manifeste.")
    return rows


def restore(path: Path, engine: Engine, storage: Storage) -> BackupReport:
    """Restore a backup into an empty database and an empty store."""
    rows = verify(path)
    try:
        info = json.loads((path / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupRefused(f"{path} n'est pas une sauvegarde du portail ({error}).") from None
    dialect = engine.dialect.name
    if info.get("dialect") != dialect:
        raise BackupRefused(
            f"Cette sauvegarde vient d'une base {info.get('dialect')} : elle se restaure dans "
            f"une base du même type, pas dans {dialect}."
        )
    if inspect(engine).get_table_names():
        raise BackupRefused(
            "La base de destination n'est pas vide : la restauration se fait dans une base "
            "neuve (aucune table)."
        )
    keys = [name.removeprefix(f"{FILES_DIR}/") for name, _, _ in rows if name.startswith(FILES_DIR)]
    present = [key for key in keys if storage.exists(key)]
    if present:
        raise BackupRefused(
            f"Le stockage de destination contient déjà {len(present)} des fichiers de la "
            "sauvegarde : la restauration se fait dans un stockage vide."
        )
    if dialect == "sqlite":
        source = sqlite3.connect(path / SQLITE_FILE)
        raw = engine.raw_connection()
        try:
            source.backup(raw.driver_connection)  # type: ignore[arg-type]
        finally:
            source.close()
            raw.close()
    else:
        args, env = _pg_args(engine)
        name = str(make_url(engine.url).database)
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                *args,
                "--dbname",
                name,
                str(path / POSTGRES_FILE),
            ],
            env,
        )
    engine.dispose()
    for key in keys:
        with (path / FILES_DIR / key).open("rb") as handle:
            storage.save(key, handle)
    report = BackupReport(path, dialect, table_counts(engine), files=len(keys))
    if report.tables != info.get("tables"):
        raise BackupRefused("La base restaurée ne compte pas les lignes de la sauvegarde.")
    return report


def remove_partial(path: Path) -> None:
    """Remove what a failed `create` left in `path`."""
    shutil.rmtree(path, ignore_errors=True)
