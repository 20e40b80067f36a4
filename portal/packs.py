"""Evidence packs: a ZIP of files with a manifest of their SHA-256 sums.

Used wherever the portal hands a third party a set of documents that must be verifiable
months later: the control bundle of a service-fait control, the transmission pack of a
signalement to the certifier. `stream_pack` writes the archive chunk by chunk: each file is
copied in chunks while its SHA-256 and size are computed (a stored piece is never read
whole into memory, and the archive is never held whole either). The manifest
(`manifest.csv`, `;`-separated, UTF-8 with BOM for spreadsheet users), written last, lists
every other file with the sum of the bytes written, its size, the sum recorded when the
file was received (when known: a reader checks that nothing changed since), and the files
that were expected but could not be read from the store.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from flask import Response, send_file

from portal import clock
from portal.exports import to_csv

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("chemin", "sha256", "taille_octets", "sha256_a_la_reception", "description")
MISSING = "ABSENT du stockage au moment de l'export"
CHUNK = 64 * 1024


@dataclass(frozen=True)
class PackFile:
    """One file of a pack: its path in the archive, and its bytes or a way to open them."""

    path: str
    content: bytes | Callable[[], BinaryIO]
    description: str = ""
    recorded_sha256: str = ""  # the sum computed when the file was received, if any
    modified: datetime | None = None  # the date shown in the archive (default: now)


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int
    description: str
    recorded_sha256: str = ""


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream that keeps what is written until it is taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _zip_info(path: str, modified: datetime | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(
        path, date_time=(modified or clock.local(clock.utcnow())).timetuple()[:6]
    )
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def stream_pack(
    files: Iterable[PackFile],
    *,
    missing: Sequence[str] = (),
    entries: list[ManifestEntry] | None = None,
) -> Iterator[bytes]:
    """The archive, chunk by chunk, manifest last. `missing`: paths of files that could not
    be read (listed in the manifest as absent). `entries`, when given, receives the
    manifest's rows as they are written. A path given twice is a programming error."""
    entries = entries if entries is not None else []
    seen: set[str] = set()
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            if item.path in seen or item.path == MANIFEST_NAME:
                raise ValueError(f"chemin en double dans le dossier : {item.path}")
            seen.add(item.path)
            digest = hashlib.sha256()
            size = 0
            with archive.open(_zip_info(item.path, item.modified), mode="w") as target:
                if isinstance(item.content, bytes):
                    target.write(item.content)
                    digest.update(item.content)
                    size = len(item.content)
                else:
                    with item.content() as source:
                        while chunk := source.read(CHUNK):
                            target.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                            if pending := sink.take():
                                yield pending
            entries.append(
                ManifestEntry(
                    item.path, digest.hexdigest(), size, item.description, item.recorded_sha256
                )
            )
            if pending := sink.take():
                yield pending
        rows = [(e.path, e.sha256, e.size, e.recorded_sha256, e.description) for e in entries]
        rows += [(path, "", 0, "", MISSING) for path in missing]
        archive.writestr(_zip_info(MANIFEST_NAME, None), to_csv(MANIFEST_COLUMNS, rows))
    yield sink.take()


def write_pack(out: BinaryIO, files: Iterable[PackFile]) -> list[ManifestEntry]:
    """Write the pack to `out`; return the manifest's rows."""
    entries: list[ManifestEntry] = []
    for chunk in stream_pack(files, entries=entries):
        out.write(chunk)
    return entries


def pack_response(files: Iterable[PackFile], filename: str) -> tuple[Response, list[ManifestEntry]]:
    """The whole pack as a download (`Content-Disposition: attachment`, not cached), with
    its manifest for the caller's audit record. The pack is written first (to a spooled
    temporary file: a large one goes to disk), so that the manifest is known before the
    response leaves; `stream_pack` serves it as it is written instead."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    entries = write_pack(spool, files)
    spool.seek(0)
    response = send_file(
        spool, mimetype="application/zip", as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "no-store"
    return response, entries


def read_manifest(archive: zipfile.ZipFile) -> dict[str, tuple[str, int]]:
    """The manifest of a pack: path → (sha256, size), the absent files left out. For tests
    and for whoever checks a pack later."""
    import csv

    text = archive.read(MANIFEST_NAME).decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text), delimiter=";")
    return {
        row["chemin"]: (row["sha256"], int(row["taille_octets"]))
        for row in rows
        if row["description"] != MISSING
    }
