"""Receiving and sending pièces justificatives (invoices, certificats de réalisation,
feuilles d'émargement): PDF, JPEG or PNG only, recognised by their content; and, for
invoices only, XML (an electronic invoice in CII or UBL: ``allowed=INVOICE_TYPES``), whose
content is then read by `portal.einvoice` before the piece is accepted.

`store_upload` takes a werkzeug `FileStorage` (or anything with `.stream` and `.filename`),
checks the first bytes, and streams the file to a `portal.storage.Storage` while computing
its SHA-256 and size: the file is never held in memory as a whole. A refused file leaves
nothing behind in the store. The caller records the returned `StoredFile` in the database.

`send_stored` sends a stored file back as a download (never displayed inline), for a view that
has already checked that the user may see the dossier.

Nothing here reads the Flask request: the views pass the file and the limits in. In a
request, every stored file is registered on the unit of work (`portal.unit_of_work`), which
deletes it again if the request's changes are rolled back or fail to commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from flask import Response, current_app, send_file
from werkzeug.exceptions import NotFound

from portal import formatting, unit_of_work
from portal.extensions import db
from portal.models import Document
from portal.storage import Storage, new_key, storage_for

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAX_NAME_LENGTH = 200

# --- Limits -------------------------------------------------------------------------------

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES_PER_UPLOAD = 10


def max_upload_bytes() -> int:
    """The size limit of one file: ``MAX_UPLOAD_BYTES``, never above ``MAX_CONTENT_LENGTH``
    (the limit of a whole request)."""
    config = current_app.config
    limit = int(config.get("MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES)
    request_limit = config.get("MAX_CONTENT_LENGTH")
    return min(limit, int(request_limit)) if request_limit else limit


def max_files_per_upload() -> int:
    return int(current_app.config.get("MAX_FILES_PER_UPLOAD") or DEFAULT_MAX_FILES_PER_UPLOAD)


def too_many_files(max_files: int) -> str:
    return f"Au plus {max_files} fichiers par envoi : envoyez les autres dans un second envoi."


# (signature, content type): a file is of that type when it opens with the signature.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
}
XML_TYPE = "application/xml"
#: The types of an invoice: the pieces' types and XML (an electronic invoice).
INVOICE_TYPES: dict[str, str] = {**ALLOWED_TYPES, XML_TYPE: "XML"}
#: Every type a stored file may have (downloads).
STORED_TYPES: dict[str, str] = INVOICE_TYPES
EXTENSIONS: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    XML_TYPE: ".xml",
}
#: Other spellings of a type's extension, kept as the OF wrote them.
_EXTENSION_ALIASES: dict[str, frozenset[str]] = {"image/jpeg": frozenset({".jpeg", ".jpe"})}
#: Enough for the signatures and for an XML declaration after a BOM and some blank space.
SNIFF_BYTES = 64
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:\?xml[\s?]|[A-Za-z_])")

MESSAGE_EMPTY = "Le fichier est vide."
MESSAGE_TYPE = (
    "Seuls les fichiers PDF, JPEG et PNG sont acceptés : le contenu réel de ce fichier "
    "n'est aucun de ces formats, quels que soient son nom et son extension."
)
MESSAGE_TYPE_INVOICE = (
    "Seuls les fichiers PDF, JPEG et PNG sont acceptés, et pour une facture le fichier XML "
    "d'une facture électronique (CII ou UBL) : le contenu réel de ce fichier n'est aucun de "
    "ces formats, quels que soient son nom et son extension."
)


class UploadLike(Protocol):
    """What `store_upload` needs of werkzeug's `FileStorage`."""

    @property
    def stream(self) -> BinaryIO: ...

    @property
    def filename(self) -> str | None: ...


class UploadRefused(ValueError):
    """The file is refused; `message` is meant for the user (French).

    `filename` is the cleaned name of the refused file, for a form that takes several files.
    """

    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    sha256: str  # hexadecimal
    size: int  # bytes
    content_type: str  # as recognised from the content, one of STORED_TYPES
    original_name: str  # cleaned, for display and as the download name

    def as_document(self, uploaded_by_id: int | None) -> Document:
        """The `Document` row that records this stored file (not added to the session)."""
        return Document(
            storage_key=self.key,
            sha256=self.sha256,
            size=self.size,
            content_type=self.content_type,
            original_name=self.original_name,
            uploaded_by_id=uploaded_by_id,
        )


def sniff(head: bytes, allowed: Iterable[str] = ALLOWED_TYPES) -> str | None:
    """The content type recognised from the first bytes of a file, or None if not allowed.

    XML is recognised by its start (an XML declaration or an element, after a BOM and blank
    space); that it is a well-formed invoice is for `portal.einvoice` to say."""
    allowed = set(allowed)
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type if content_type in allowed else None
    if XML_TYPE in allowed and _XML_START.match(head):
        return XML_TYPE
    return None


def max_size_label(max_bytes: int) -> str:
    """« 10 Mo », « 1,5 Mo », « 500 Ko »: the limit as the user reads it (1 Mo = 1024 Ko)."""
    return formatting.size(max_bytes)


def message_too_large(max_bytes: int) -> str:
    return f"Le fichier dépasse la taille maximale de {max_size_label(max_bytes)}."


_SEPARATORS = re.compile(r"[/\\]")


def clean_filename(name: str | None, *, fallback: str = "fichier") -> str:
    """A display name: the last path component, without control or format characters
    (bidirectional overrides included), whitespace collapsed, at most 200 characters with
    the extension kept. Accents and other letters stay. `fallback` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = _SEPARATORS.split(text)[-1]
    text = "".join(_display_char(ch) for ch in text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return fallback
    if len(text) > MAX_NAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and 0 < len(extension) <= 10:
            stem = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(" .")
            text = f"{stem}.{extension}"
        else:
            text = text[:MAX_NAME_LENGTH].rstrip(" .")
    return text


def name_for_download(name: str, content_type: str) -> str:
    """The name a file is downloaded under: its cleaned name with the extension of the type
    found in its content (``facture.html`` holding a PDF downloads as ``facture.pdf``), so
    that the reader's computer opens it with the right program."""
    extension = EXTENSIONS.get(content_type)
    cleaned = clean_filename(name, fallback="fichier" + (extension or ""))
    if extension is None:
        return cleaned
    stem, dot, current = cleaned.rpartition(".")
    current = f".{current.casefold()}"
    if (
        dot
        and stem
        and (current == extension or current in _EXTENSION_ALIASES.get(content_type, ()))
    ):
        return cleaned
    if dot and stem and 0 < len(current) <= 6 and current[1:].isalnum():
        cleaned = stem
    return clean_filename(cleaned[: MAX_NAME_LENGTH - len(extension)] + extension)


def _display_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cc":  # control characters (tab, newline, NUL, …) become a space
        return " "
    if category.startswith("C"):  # format (bidi overrides, …), surrogates, private use
        return ""
    return ch


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Read `size` bytes, or fewer only at the end of the stream (raw streams may return
    short reads)."""
    first = stream.read(size)
    if not first or len(first) >= size:
        return first or b""
    parts = [first]
    missing = size - len(first)
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


class _TooLarge(Exception):
    pass


class _MeteredReader:
    """Passes the upload through to the store, first the bytes already read for sniffing,
    computing the SHA-256 and the size, and stopping as soon as the size goes over the limit.

    `read(n)` returns n bytes except at the end (boto3's multipart upload relies on it)."""

    def __init__(self, head: bytes, stream: BinaryIO, max_bytes: int) -> None:
        self._head = head
        self._stream = stream
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        self.too_large = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(CHUNK_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        if size == 0:
            return b""
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += _read_full(self._stream, size - len(data))
        else:
            data = _read_full(self._stream, size)
        self.size += len(data)
        if self.size > self._max_bytes:
            self.too_large = True
            raise _TooLarge
        self._hash.update(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def store_upload(
    storage: Storage,
    file: UploadLike,
    *,
    max_bytes: int,
    allowed: Iterable[str] = ALLOWED_TYPES,
) -> StoredFile:
    """Check and store one uploaded file; raise `UploadRefused` (nothing stored) if refused.
    `allowed`: the accepted types (`ALLOWED_TYPES`, or `INVOICE_TYPES` for an invoice).

    Other errors (disk full, store unreachable, client gone) propagate, also with nothing
    left in the store.
    """
    allowed = tuple(allowed)
    stream = file.stream
    head = _read_full(stream, SNIFF_BYTES)
    content_type = sniff(head, allowed)
    original_name = clean_filename(
        file.filename, fallback="fichier" + EXTENSIONS.get(content_type or "", "")
    )
    if not head:
        raise UploadRefused(MESSAGE_EMPTY, filename=original_name)
    if content_type is None:
        message = MESSAGE_TYPE_INVOICE if XML_TYPE in allowed else MESSAGE_TYPE
        raise UploadRefused(message, filename=original_name)

    key = new_key()
    reader = _MeteredReader(head, stream, max_bytes)
    try:
        storage.save(key, reader)  # type: ignore[arg-type]  # a minimal readable stream
    except BaseException as exc:
        _discard(storage, key)
        if reader.too_large:
            raise UploadRefused(message_too_large(max_bytes), filename=original_name) from None
        if isinstance(exc, Exception):
            logger.warning("Échec de l'enregistrement de « %s » (%s).", original_name, key)
        raise
    unit_of_work.stored([key])  # deleted again if the request's changes are rolled back
    return StoredFile(
        key=key,
        sha256=reader.hexdigest(),
        size=reader.size,
        content_type=content_type,
        original_name=original_name,
    )


def _discard(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:
        logger.exception("Impossible d'effacer la pièce partielle %s.", key)


CHOOSE_AGAIN = (
    "Aucun fichier de cet envoi n'a été enregistré : choisissez de nouveau vos fichiers, "
    "sans ceux qui sont refusés."
)


class UploadsRefused(ValueError):
    """Files of one sending were refused: none of the sending's files was kept."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in refused))
        self.refused = refused  # (file name, French reason)

    @property
    def messages(self) -> list[str]:
        """One French line per refused file, then what to do."""
        return [*(f"« {name} » : {reason}" for name, reason in self.refused), CHOOSE_AGAIN]


def discard_stored(storage: Storage, keys: Iterable[str]) -> None:
    """Delete stored files that will not be used (a cancelled sending); never raises."""
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            logger.exception("Impossible d'effacer le fichier %s d'un envoi annulé.", key)


def store_all(
    storage: Storage,
    files: Sequence[UploadLike],
    *,
    max_bytes: int,
    allowed: Iterable[str] = ALLOWED_TYPES,
) -> list[StoredFile]:
    """Store every file of one sending, or none: when a file is refused (by its content or
    size), the files already stored are deleted again and `UploadsRefused` names each
    refused file."""
    allowed = tuple(allowed)
    stored: list[StoredFile] = []
    refused: list[tuple[str, str]] = []
    try:
        for file in files:
            try:
                stored.append(store_upload(storage, file, max_bytes=max_bytes, allowed=allowed))
            except UploadRefused as error:
                refused.append((error.filename or "fichier", error.message))
    except BaseException:
        discard_stored(storage, [s.key for s in stored])
        raise
    if refused:
        discard_stored(storage, [s.key for s in stored])
        raise UploadsRefused(refused)
    return stored


def send_stored(
    storage: Storage,
    key: str,
    *,
    download_name: str,
    content_type: str,
    size: int | None = None,
) -> Response:
    """A download response for a stored file, streamed from the store.

    Always an attachment (``filename*`` in UTF-8 for accented names), with
    ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``. A type other than the
    allowed ones is sent as ``application/octet-stream``. `size` (from the database) sets
    Content-Length. A key missing from the store gives 404 (and an error in the log).
    Must be called in a request context, once access to the dossier has been checked.
    """
    mimetype = content_type if content_type in STORED_TYPES else "application/octet-stream"
    name = name_for_download(download_name, mimetype)
    try:
        stream = storage.open(key)
    except FileNotFoundError:
        logger.error("Pièce absente du stockage : %s (%s).", key, name)
        raise NotFound("Ce fichier n'est plus disponible.") from None
    response = send_file(
        stream,
        mimetype=mimetype,
        as_attachment=True,
        download_name=name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    if size is not None:
        response.content_length = size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Expires", None)
    return response


def commit_or_discard(keys: Sequence[str], storage: Storage | None = None) -> None:
    """Outside a request (CLI commands): commit the session; if the commit fails, roll back
    and delete the files stored for it (`keys`), so that no stray file is left, then raise
    again. In a request the edge does this (`portal.unit_of_work`)."""
    try:
        unit_of_work.commit()
    except BaseException:
        db.session.rollback()
        discard_stored(storage or storage_for(current_app), keys)
        raise
