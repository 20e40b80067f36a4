"""Uploads: recognised by content, hashed and streamed to the store, refused without a trace;
downloads as attachments that are never sniffed nor cached."""

# The S3 fixtures come from tests.test_storage; taking them as arguments "redefines" them.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import io
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound

from portal.storage import LocalStorage, S3Storage, new_key
from portal.uploads import (
    MESSAGE_EMPTY,
    MESSAGE_TYPE,
    StoredFile,
    UploadRefused,
    clean_filename,
    max_size_label,
    name_for_download,
    send_stored,
    sniff,
    store_upload,
)
from tests.test_storage import (  # noqa: F401 - fixtures and helpers
    aws_env,
    bucket_keys,
    moto_endpoint,
    pending_multipart_uploads,
    s3_bucket,
    s3_storage,
    spool_dir,
)

MB = 1024 * 1024


# --- real small files, made here ----------------------------------------------------------


def make_pdf(text: str = "Facture n° 2024-001", padding: int = 0) -> bytes:
    """A one-page PDF with a correct cross-reference table (`padding` bytes of comment)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text.encode('ascii', 'replace').decode()}) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content.encode()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    out += b"%" + b"x" * padding + b"\n" if padding else b""
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_png(width: int = 2, height: int = 2) -> bytes:
    """An RGB PNG of the given size (red pixels), with valid CRCs and zlib data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_jpeg() -> bytes:
    """A baseline JFIF JPEG, 8×8 grey: one block whose coefficients are all zero, coded with
    one-symbol Huffman tables (DC category 0, then end of block)."""

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quantisation = b"\x00" + b"\x01" * 64
    frame = struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"
    dc_table = b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00"  # class 0, id 0: one code → 0
    ac_table = b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00"  # class 1, id 0: one code → EOB
    scan = b"\x01\x01\x00\x00\x3f\x00"
    entropy = b"\x3f"  # bits 0 (DC diff 0) and 0 (EOB), padded with ones
    return (
        b"\xff\xd8"
        + segment(0xE0, jfif)
        + segment(0xDB, quantisation)
        + segment(0xC0, frame)
        + segment(0xC4, dc_table)
        + segment(0xC4, ac_table)
        + segment(0xDA, scan)
        + entropy
        + b"\xff\xd9"
    )


PDF = make_pdf()
PNG = make_png()
JPEG = make_jpeg()
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def upload(data: bytes, filename: str | None, declared: str = "application/pdf") -> FileStorage:
    """What werkzeug hands a view for a file field (the declared type is the client's)."""
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=declared)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_dir())


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def stored_bytes(storage: LocalStorage | S3Storage, key: str) -> bytes:
    stream = storage.open(key)
    try:
        return stream.read()
    finally:
        stream.close()


# --- sniff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF, "application/pdf"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"%PDF-", "application/pdf"),
        (JPEG, "image/jpeg"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x18Exif", "image/jpeg"),
        (b"\xff\xd8\xff\xdb", "image/jpeg"),
        (PNG, "image/png"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"", None),
        (HTML, None),  # HTML renamed .png
        (b"<html><img src=x onerror=alert(1)>", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"Ceci n'est pas un PDF.", None),  # text renamed .pdf
        (b"%PDF", None),  # no dash: not the PDF header
        (b" %PDF-1.4", None),  # the signature must open the file
        (b"\xef\xbb\xbf%PDF-1.4", None),  # nor after a byte order mark
        (b"\xff\xd8", None),  # truncated JPEG signature
        (b"\x89PNG\r\n\x1a", None),  # truncated PNG signature
        (b"\x89PNG\n\r\x1a\n", None),  # PNG signature mangled by a text transfer
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"PK\x03\x04", None),  # zip, docx, xlsx
        (b"MZ\x90\x00", None),  # Windows executable
        (b"II*\x00", None),  # TIFF
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


# --- store_upload: accepted files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "declared", "content_type"),
    [
        (PDF, "Facture été 2024.pdf", "application/pdf", "application/pdf"),
        (PNG, "émargement.png", "image/png", "image/png"),
        (JPEG, "certificat.jpg", "image/jpeg", "image/jpeg"),
        # The name and the declared type do not count, only the content does.
        (PNG, "scan.pdf", "application/pdf", "image/png"),
        (PDF, "facture", "application/octet-stream", "application/pdf"),
    ],
)
def test_store_upload_accepts_pdf_png_jpeg(
    storage: LocalStorage, data: bytes, filename: str, declared: str, content_type: str
) -> None:
    stored = store_upload(storage, upload(data, filename, declared), max_bytes=10 * MB)

    assert stored == StoredFile(
        key=stored.key,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type=content_type,
        original_name=filename,
    )
    assert stored_bytes(storage, stored.key) == data
    assert files_under(storage.root) == [storage.path_for(stored.key)]


def test_store_upload_gives_each_file_a_new_random_key(storage: LocalStorage) -> None:
    first = store_upload(storage, upload(PDF, "a.pdf"), max_bytes=MB)
    second = store_upload(storage, upload(PDF, "a.pdf"), max_bytes=MB)
    assert first.key != second.key
    assert first.sha256 == second.sha256
    assert "a.pdf" not in str(storage.path_for(first.key))


def test_store_upload_of_several_chunks(storage: LocalStorage) -> None:
    data = make_pdf(padding=300_000)
    stored = store_upload(storage, upload(data, "gros.pdf"), max_bytes=MB)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored_bytes(storage, stored.key) == data


class TrickleStream:
    """A raw stream that returns at most `step` bytes per read, as sockets do."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = io.BytesIO(data)
        self.step = step

    def read(self, size: int = -1) -> bytes:
        return self.data.read(self.step if size < 0 else min(size, self.step))


def test_store_upload_copes_with_short_reads(storage: LocalStorage) -> None:
    data = make_pdf(padding=5000)
    file = FileStorage(stream=TrickleStream(data, step=3), filename="facture.pdf")
    stored = store_upload(storage, file, max_bytes=MB)
    assert stored.content_type == "application/pdf"
    assert stored_bytes(storage, stored.key) == data


def test_store_upload_names_an_unnamed_file_after_its_content(storage: LocalStorage) -> None:
    assert store_upload(storage, upload(PNG, None), max_bytes=MB).original_name == "fichier.png"
    assert store_upload(storage, upload(PDF, "../"), max_bytes=MB).original_name == "fichier.pdf"


# --- store_upload: refused files, nothing left -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "declared", "message"),
    [
        (HTML, "photo.png", "image/png", MESSAGE_TYPE),
        (b"Ceci n'est pas un PDF.\n" * 100, "facture.pdf", "application/pdf", MESSAGE_TYPE),
        (b"GIF89a" + b"\x00" * 100, "image.jpg", "image/jpeg", MESSAGE_TYPE),
        (b"\xef\xbb\xbf%PDF-1.4", "bom.pdf", "application/pdf", MESSAGE_TYPE),
        (b"", "vide.pdf", "application/pdf", MESSAGE_EMPTY),
    ],
    ids=["html-as-png", "text-as-pdf", "gif-as-jpg", "bom-pdf", "empty"],
)
def test_store_upload_refuses_by_content(
    storage: LocalStorage, data: bytes, filename: str, declared: str, message: str
) -> None:
    with pytest.raises(UploadRefused) as refused:
        store_upload(storage, upload(data, filename, declared), max_bytes=MB)
    assert refused.value.message == message
    assert refused.value.filename == filename
    assert not storage.root.exists() or files_under(storage.root) == []


def test_type_message_names_the_allowed_types() -> None:
    assert "PDF, JPEG et PNG" in MESSAGE_TYPE
    assert "contenu réel" in MESSAGE_TYPE


def test_store_upload_refuses_oversize_and_leaves_nothing(storage: LocalStorage) -> None:
    data = make_pdf(padding=400_000)
    with pytest.raises(UploadRefused) as refused:
        store_upload(storage, upload(data, "gros.pdf"), max_bytes=len(data) - 1)
    assert refused.value.message.startswith("Le fichier dépasse la taille maximale de ")
    assert files_under(storage.root) == []


def test_oversize_message_for_the_default_limit(storage: LocalStorage) -> None:
    data = b"%PDF-" + b"0" * (10 * MB)
    with pytest.raises(UploadRefused) as refused:
        store_upload(storage, upload(data, "gros.pdf"), max_bytes=10 * MB)
    assert refused.value.message == "Le fichier dépasse la taille maximale de 10 Mo."
    assert files_under(storage.root) == []


def test_a_file_of_exactly_the_limit_is_accepted(storage: LocalStorage) -> None:
    data = make_pdf(padding=1000)
    stored = store_upload(storage, upload(data, "juste.pdf"), max_bytes=len(data))
    assert stored.size == len(data)


@pytest.mark.parametrize(
    ("max_bytes", "label"),
    [(10 * MB, "10 Mo"), (MB + MB // 2, "1,5 Mo"), (500 * 1024, "500 Ko"), (100, "100 octets")],
)
def test_max_size_label(max_bytes: int, label: str) -> None:
    assert max_size_label(max_bytes) == label


class BrokenStream:
    """Gives a valid PDF start, then the client goes away."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 3:
            raise OSError("client disconnected")
        return b"%PDF-1.4\n" + b"0" * 70_000


def test_an_interrupted_upload_propagates_and_leaves_nothing(storage: LocalStorage) -> None:
    with pytest.raises(OSError, match="client disconnected"):
        store_upload(storage, FileStorage(stream=BrokenStream(), filename="a.pdf"), max_bytes=MB)
    assert files_under(storage.root) == []


# --- the same on S3 -------------------------------------------------------------------------


def test_store_upload_to_s3(s3_storage: S3Storage) -> None:
    stored = store_upload(s3_storage, upload(JPEG, "photo.jpeg", "image/jpeg"), max_bytes=MB)
    assert stored.content_type == "image/jpeg"
    assert stored.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert stored_bytes(s3_storage, stored.key) == JPEG
    assert bucket_keys(s3_storage) == [f"pieces/{stored.key}"]


@pytest.mark.parametrize("size", [2 * MB, 10 * MB], ids=["small", "large"])
def test_store_upload_to_s3_refuses_oversize_and_leaves_nothing(
    s3_storage: S3Storage, size: int
) -> None:
    data = b"%PDF-" + b"0" * size
    with pytest.raises(UploadRefused, match="taille maximale"):
        store_upload(s3_storage, upload(data, "gros.pdf"), max_bytes=size)
    assert bucket_keys(s3_storage) == []
    assert pending_multipart_uploads(s3_storage) == []


def test_store_upload_to_s3_refuses_html(s3_storage: S3Storage) -> None:
    with pytest.raises(UploadRefused):
        store_upload(s3_storage, upload(HTML, "photo.png", "image/png"), max_bytes=MB)
    assert bucket_keys(s3_storage) == []


# --- memory ---------------------------------------------------------------------------------


class GeneratedStream:
    """`size` bytes of a PDF-looking file made on demand, never held in memory at once."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.sha256 = hashlib.sha256()
        self._chunks = self._generate()
        self._pending = b""

    def _generate(self) -> Iterator[bytes]:
        yield b"%PDF-1.4\n"
        block = bytes(range(256)) * 256  # 64 KiB
        while True:
            yield block

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        while len(self._pending) < size:
            self._pending += next(self._chunks)
        data, self._pending = self._pending[:size], self._pending[size:]
        self.remaining -= len(data)
        self.sha256.update(data)
        return data


def test_a_large_upload_is_streamed_not_held_in_memory(storage: LocalStorage) -> None:
    """30 MB streamed with less than 20 MB of peak allocations: a file held in memory would
    exceed it. (tracemalloc counts every thread's allocations, so the margin is wide; the
    figure for a 10 MB upload is measured in a fresh process by bench/upload_memory.py.)"""
    stream = GeneratedStream(30 * MB)
    file = FileStorage(stream=stream, filename="gros.pdf")
    tracemalloc.start()
    try:
        stored = store_upload(storage, file, max_bytes=30 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 30 * MB
    assert stored.sha256 == stream.sha256.hexdigest()
    assert storage.path_for(stored.key).stat().st_size == 30 * MB
    assert peak < 20 * MB, f"peak {peak / MB:.1f} MB: the file seems to be buffered"


# --- file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Facture été.pdf", "Facture été.pdf"),
        ("Facture e\u0301te\u0301.pdf", "Facture été.pdf"),  # macOS sends NFD
        ("C:\\Users\\Agnès\\Documents\\feuille d'émargement.png", "feuille d'émargement.png"),
        ("../../etc/passwd", "passwd"),
        ("/var/www/static/x.pdf", "x.pdf"),
        ("a\nb\r\n\tc.pdf", "a b c.pdf"),
        ("nul\x00byte.pdf", "nul byte.pdf"),
        ("facture\u202efdp.exe", "facturefdp.exe"),  # right-to-left override removed
        ("zéro\u200blargeur.pdf", "zérolargeur.pdf"),
        ("  espaces   en   trop  .pdf ", "espaces en trop .pdf"),
        ('guillemets "et" ; points-virgules.pdf', 'guillemets "et" ; points-virgules.pdf'),
        ("...", "fichier"),
        ("", "fichier"),
        (None, "fichier"),
        ("dossier/", "fichier"),
    ],
)
def test_clean_filename(name: str | None, expected: str) -> None:
    assert clean_filename(name) == expected


def test_clean_filename_keeps_the_extension_of_a_long_name() -> None:
    cleaned = clean_filename("é" * 300 + ".pdf")
    assert len(cleaned) == 200
    assert cleaned.endswith("é.pdf")
    assert len(clean_filename("x" * 300)) == 200


# --- send_stored ------------------------------------------------------------------------------


@pytest.fixture
def tiny_app() -> Flask:
    app = Flask("uploads_test")
    app.testing = True
    return app


def test_send_stored_is_an_attachment_never_sniffed_nor_cached(
    tiny_app: Flask, storage: LocalStorage
) -> None:
    stored = store_upload(storage, upload(PDF, "Facture été.pdf"), max_bytes=MB)
    with tiny_app.test_request_context():
        response = send_stored(
            storage,
            stored.key,
            download_name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
        )
        response.direct_passthrough = False
        body = response.get_data()
        response.close()
    assert body == PDF
    assert response.mimetype == "application/pdf"
    assert response.content_length == len(PDF)
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"Facture ete.pdf\"; filename*=UTF-8''{quote('Facture été.pdf')}"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Expires" not in response.headers
    assert "ETag" not in response.headers


def test_send_stored_through_a_route(tiny_app: Flask, storage: LocalStorage) -> None:
    stored = store_upload(storage, upload(PNG, "scan.png", "image/png"), max_bytes=MB)

    @tiny_app.get("/piece")
    def piece():  # type: ignore[no-untyped-def]
        return send_stored(
            storage, stored.key, download_name="scan.png", content_type=stored.content_type
        )

    with tiny_app.test_client().get("/piece") as response:
        body = response.data
    assert response.status_code == 200
    assert body == PNG
    assert response.headers["Content-Disposition"] == "attachment; filename=scan.png"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("facture.html", "application/pdf", "facture.pdf"),
        ("facture.PDF", "application/pdf", "facture.PDF"),
        ("facture", "application/pdf", "facture.pdf"),
        ("facture mars 2026.docx", "application/pdf", "facture mars 2026.pdf"),
        ("scan.jpeg", "image/jpeg", "scan.jpeg"),
        ("scan.png", "image/jpeg", "scan.jpg"),
        ("émargement.v2", "image/png", "émargement.png"),
        ("relevé.2026.03", "application/pdf", "relevé.2026.pdf"),
        ("", "application/pdf", "fichier.pdf"),
        ("page.html", "application/octet-stream", "page.html"),
        ("a" * 250 + ".txt", "application/pdf", "a" * 196 + ".pdf"),
    ],
)
def test_a_download_takes_the_extension_of_its_detected_type(
    name: str, content_type: str, expected: str
) -> None:
    assert name_for_download(name, content_type) == expected


def test_a_pdf_uploaded_as_html_downloads_as_pdf(tiny_app: Flask, storage: LocalStorage) -> None:
    stored = store_upload(storage, upload(PDF, "facture.html", "text/html"), max_bytes=MB)
    assert stored.content_type == "application/pdf"
    with tiny_app.test_request_context():
        response = send_stored(
            storage,
            stored.key,
            download_name=stored.original_name,
            content_type=stored.content_type,
        )
        response.close()
    assert response.headers["Content-Disposition"] == "attachment; filename=facture.pdf"
    assert response.mimetype == "application/pdf"


def test_send_stored_never_sends_an_unexpected_type(tiny_app: Flask, storage: LocalStorage) -> None:
    key = new_key()
    storage.save(key, io.BytesIO(HTML))
    with tiny_app.test_request_context():
        response = send_stored(
            storage, key, download_name="page\r\nSet-Cookie: x=1.html", content_type="text/html"
        )
        response.close()
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="page Set-Cookie: x=1.html"'
    )
    assert "Set-Cookie" not in response.headers


def test_send_stored_missing_file_is_404(tiny_app: Flask, storage: LocalStorage) -> None:
    with tiny_app.test_request_context(), pytest.raises(NotFound):
        send_stored(storage, new_key(), download_name="x.pdf", content_type="application/pdf")


def test_send_stored_from_s3(tiny_app: Flask, s3_storage: S3Storage) -> None:
    stored = store_upload(s3_storage, upload(PDF, "certificat de réalisation.pdf"), max_bytes=MB)

    @tiny_app.get("/piece")
    def piece():  # type: ignore[no-untyped-def]
        return send_stored(
            s3_storage,
            stored.key,
            download_name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
        )

    with tiny_app.test_client().get("/piece") as response:
        body = response.data
    assert body == PDF
    assert response.headers["Content-Length"] == str(len(PDF))
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''certificat%20de%20r%C3%A9alisation.pdf" in disposition
    assert response.headers["Cache-Control"] == "no-store"


def test_send_stored_headers_survive_the_portal_hooks(app: Flask, storage: LocalStorage) -> None:
    """The portal's own after-request hooks (Talisman, …) keep the download headers."""
    stored = store_upload(storage, upload(PDF, "facture.pdf"), max_bytes=MB)
    with app.test_request_context("/pieces/1/telecharger"):
        response = send_stored(
            storage,
            stored.key,
            download_name=stored.original_name,
            content_type=stored.content_type,
        )
        response = app.process_response(response)
        response.close()
    assert response.headers["Content-Disposition"] == "attachment; filename=facture.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
