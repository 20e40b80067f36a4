"""Reading an uploaded table (CSV or XLSX) by its content: shared by every import.

`decode_csv` turns the bytes of a file that is not an XLSX into CSV text, or refuses it
with a French message: an old Excel file (.xls), a PDF, an image or an archive is named as
such; UTF-16 with a BOM (Excel's "Texte Unicode"), UTF-8 with or without BOM, then cp1252
are read; control characters mean it was not text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator

XLSX_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_KNOWN_BINARIES = (
    (b"%PDF", "un document PDF"),
    (b"\x89PNG", "une image PNG"),
    (b"\xff\xd8\xff", "une image JPEG"),
    (b"GIF8", "une image GIF"),
    (b"PK\x05\x06", "une archive ZIP vide"),
    (b"\x1f\x8b", "une archive compressée (gzip)"),
    (b"Rar!", "une archive RAR"),
    (b"7z\xbc\xaf", "une archive 7-Zip"),
    (b"{\\rtf", "un document RTF"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class NotATable(ValueError):
    """The file is neither CSV text nor an XLSX workbook; the message is in French."""


def is_xlsx(data: bytes) -> bool:
    return data.startswith(XLSX_MAGIC)


def decode_csv(data: bytes, *, accepted: str, name: str = "") -> str:
    """The text of a CSV file; `accepted` says what to send instead, `name` is inserted
    after "Le fichier" (e.g. " « liste.csv »")."""
    if data.startswith(_OLE2_MAGIC):
        raise NotATable(
            f"Le fichier{name} est au format Excel 97-2003 (.xls), qui n'est pas pris en "
            "charge : enregistrez-le au format .xlsx ou CSV, puis déposez-le de nouveau."
        )
    for magic, what in _KNOWN_BINARIES:
        if data.startswith(magic):
            raise NotATable(f"Le fichier{name} est {what} : {accepted}.")
    refused = NotATable(
        f"Le fichier{name} n'est ni un CSV ni un classeur XLSX lisible : {accepted}."
    )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise refused from None
    elif b"\x00" in data:
        raise refused
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise refused from None
    if _CONTROL.search(text[:65536]):
        raise refused
    return text


def fold_header(text: str) -> str:
    """A column name as compared: lower case, no accents, words joined by ``_``
    ("Chiffre d'affaires CPF" → ``chiffre_d_affaires_cpf``)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower().replace("’", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


def csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """The rows of CSV text as (line number as a spreadsheet shows it, stripped cells); the
    separator is the one of ``;``, tab and ``,`` that the first non-blank line holds most."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    separator = max((";", "\t", ","), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    line = 1
    for row in reader:
        yield line, [cell.strip() for cell in row]
        line = reader.line_num + 1
