"""Evidence packs: a ZIP of files with a manifest of their SHA-256 sums.

Used wherever the portal hands a third party a set of documents that must be verifiable
months later: the control bundle of a service-fait control, the transmission pack of a
signalement to the certifier. Each file is copied into the archive in chunks while its
SHA-256 and size are computed (a stored piece is never read whole into memory); the
manifest (`manifest.csv`, `;`-separated, UTF-8 with BOM for spreadsheet users) lists every
other file of the archive with its sum and size, and the archive is written to a spooled
temporary file, so that a large pack goes to disk rather than into memory.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from flask import Response, send_file

from portal.exports import to_csv

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("fichier", "sha256", "taille_octets", "description")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PackFile:
    """One file of a pack: its path in the archive, and its bytes or a way to open them."""

    path: str
    content: bytes | Callable[[], BinaryIO]
    description: str = ""


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int
    description: str


def _copy(source: BinaryIO, target: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        target.write(chunk)
    return digest.hexdigest(), size


def write_pack(out: BinaryIO, files: Iterable[PackFile]) -> list[ManifestEntry]:
    """Write the files and their manifest as a ZIP archive to `out`; return the manifest.

    Paths must be unique; a duplicate path is a programming error (ValueError).
    """
    entries: list[ManifestEntry] = []
    seen: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            if item.path in seen or item.path == MANIFEST_NAME:
                raise ValueError(f"chemin en double dans le dossier : {item.path}")
            seen.add(item.path)
            with archive.open(item.path, "w", force_zip64=True) as target:
                if isinstance(item.content, bytes):
                    digest = hashlib.sha256(item.content).hexdigest()
                    size = len(item.content)
                    target.write(item.content)
                else:
                    with item.content() as source:
                        digest, size = _copy(source, target)
            entries.append(ManifestEntry(item.path, digest, size, item.description))
        archive.writestr(
            MANIFEST_NAME,
            to_csv(
                MANIFEST_COLUMNS,
                [(e.path, e.sha256, e.size, e.description) for e in entries],
            ),
        )
    return entries


def pack_response(files: Iterable[PackFile], filename: str) -> tuple[Response, list[ManifestEntry]]:
    """The pack as a download (`Content-Disposition: attachment`, not cached), with its
    manifest for the caller's audit record."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    entries = write_pack(spool, files)
    spool.seek(0)
    response = send_file(
        spool, mimetype="application/zip", as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "no-store"
    return response, entries


def read_manifest(archive: zipfile.ZipFile) -> dict[str, tuple[str, int]]:
    """The manifest of a pack: path → (sha256, size). For tests and for whoever checks a
    pack later."""
    import csv
    import io

    text = archive.read(MANIFEST_NAME).decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text), delimiter=";")
    return {row["fichier"]: (row["sha256"], int(row["taille_octets"])) for row in rows}
