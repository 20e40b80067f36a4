"""Reading the file of a bulk check: one identifier per line, optionally a date (no Flask).

:func:`read_identifiers` takes the bytes of an uploaded file and returns its readable lines
(:class:`BulkItem`) and its unreadable ones (:class:`Unreadable`, with a French reason). The
format is recognised by the **content**, never by the file name:

* **XLSX**: a ZIP archive (``PK\\x03\\x04``) that openpyxl opens as a workbook; the first
  sheet is read, column A holds the identifier and column B the optional date.
  Cells may be numbers: a SIRET or a SIREN typed as a number is read as its digits. An NDA
  typed as a number loses its leading zero (``01971234567`` becomes ``1971234567``): since
  no identifier has 10 digits, **a 10-digit whole number in column A is read as an NDA
  whose leading 0 is restored**. Dates may be date cells or text.
* **CSV** (or plain text): UTF-8 with or without BOM (UTF-16 with a BOM too, as Excel's
  "Texte Unicode" writes it), otherwise Windows-1252; the separator (``;``, ``,`` or
  tab) is sniffed from the first lines. Column 1 holds the identifier, column 2 the
  optional date; further columns are ignored. A 10-digit text value is *not* completed
  (a digit may be missing anywhere): the line is unreadable, and its reason says why.

In both formats: a first line whose first cell contains letters (``siret``,
``Identifiant``…) is a header and is skipped; blank lines are skipped; identifiers may hold
spaces, dots or dashes (see :func:`portal.identifiers.classify`); dates are written
``jj/mm/aaaa`` or ``aaaa-mm-jj``, and an empty date means ``default_on`` (today unless
given). Line numbers are those a spreadsheet shows (the header is line 1).

The whole file is refused (:class:`BulkInputRefused`, a French message) when it is empty,
neither CSV nor XLSX (a PDF, an image, an old ``.xls``…), larger than :data:`MAX_BYTES`,
has more than :data:`MAX_LINES` lines to check, or holds no readable identifier at all.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from portal import clock, formatting
from portal.identifiers import Identifier, InvalidIdentifier, classify
from portal.tabular import NotATable, decode_csv, is_xlsx

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "BulkInput",
    "BulkInputRefused",
    "BulkItem",
    "Unreadable",
    "parse_date",
    "read_identifiers",
]

#: At most this many lines to check in one file (header and blank lines not counted).
MAX_LINES = 10_000
#: At most this many bytes in one file (10,000 lines of CSV or XLSX hold far less).
MAX_BYTES = 5 * 1024 * 1024
#: An XLSX whose parts would unpack to more than this is refused (a "ZIP bomb").
MAX_XLSX_UNPACKED = 100 * 1024 * 1024

SEPARATORS = (";", "\t", ",")
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
ACCEPTED = "déposez un fichier CSV ou XLSX (un identifiant par ligne)"

_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_TEXT_FORMULA = re.compile(r'^="([^"]*)"$')


class BulkInputRefused(ValueError):
    """The whole file is refused; ``str(exc)`` is a French message for the user."""


@dataclass(frozen=True, slots=True)
class BulkItem:
    """A readable line: its number, the identifier as written, the identifier, the date."""

    line: int
    raw: str
    identifier: Identifier
    on: date


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line that cannot be checked, with the value as written and the reason (French)."""

    line: int
    value: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "value": self.value, "reason": self.reason}


@dataclass
class BulkInput:
    format: str  # "csv" or "xlsx"
    items: list[BulkItem] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)


# --- Entry point -----------------------------------------------------------------------------


def read_identifiers(
    data: bytes, filename: str = "", *, default_on: date | None = None
) -> BulkInput:
    """Read the lines of an uploaded CSV or XLSX file (see the module docstring).

    `filename` only serves the messages. Raises :class:`BulkInputRefused` when the whole
    file is refused.
    """
    name = _display_name(filename)
    default = default_on or clock.today()
    if len(data) > MAX_BYTES:
        raise BulkInputRefused(
            f"Le fichier{name} dépasse {MAX_BYTES // (1024 * 1024)} Mo : "
            f"déposez au plus {formatting.number(MAX_LINES)} lignes."
        )
    if not data.strip():
        raise BulkInputRefused(f"Le fichier{name} est vide : {ACCEPTED}.")
    if is_xlsx(data):
        rows: Iterator[tuple[int, Any, Any]] = _xlsx_rows(data, name)
        result = BulkInput("xlsx")
    else:
        try:
            text = decode_csv(data, accepted=ACCEPTED, name=name)
        except NotATable as refusal:
            raise BulkInputRefused(str(refusal)) from None
        rows = _csv_rows(text)
        result = BulkInput("csv")
    _read_rows(rows, result, default, xlsx=result.format == "xlsx")
    if not result.items:
        detail = ""
        if result.unreadable:
            first = result.unreadable[0]
            detail = f" (ligne {first.line} : {first.reason})"
        raise BulkInputRefused(
            f"Aucun identifiant lisible dans le fichier{name}{detail} : indiquez un SIRET, "
            "un SIREN ou un numéro de déclaration d'activité par ligne, en première colonne."
        )
    return result


def parse_date(text: str) -> date:
    """A date written ``jj/mm/aaaa`` or ``aaaa-mm-jj``; ValueError otherwise."""
    value = text.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


# --- Lines -----------------------------------------------------------------------------------


def _read_rows(
    rows: Iterator[tuple[int, Any, Any]], result: BulkInput, default: date, *, xlsx: bool
) -> None:
    first = True
    count = 0
    for line, ident_cell, date_cell in rows:
        ident_text = _cell_text(ident_cell)
        date_text = _cell_text(date_cell)
        if not ident_text and not date_text:
            continue  # a blank line
        if first:
            first = False
            if isinstance(ident_cell, str) and any(ch.isalpha() for ch in ident_text):
                continue  # a header
        count += 1
        if count > MAX_LINES:
            raise BulkInputRefused(
                f"Le fichier compte plus de {formatting.number(MAX_LINES)} lignes à vérifier : "
                "découpez-le en plusieurs fichiers."
            )
        try:
            identifier = _identifier(ident_cell, ident_text, xlsx=xlsx)
        except InvalidIdentifier as error:
            result.unreadable.append(Unreadable(line, ident_text, str(error)))
            continue
        try:
            on = _date(date_cell, date_text, default)
        except ValueError:
            result.unreadable.append(
                Unreadable(
                    line,
                    f"{ident_text} ; {date_text}",
                    f"Date « {date_text} » illisible (2e colonne) : écrivez-la jj/mm/aaaa "
                    "ou aaaa-mm-jj, ou laissez la colonne vide pour la date par défaut.",
                )
            )
            continue
        result.items.append(BulkItem(line, ident_text, identifier, on))


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.strftime("%d/%m/%Y") if cell.time() == datetime.min.time() else str(cell)
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    return str(cell).strip()


def _identifier(cell: Any, text: str, *, xlsx: bool) -> Identifier:
    if isinstance(cell, date):
        raise InvalidIdentifier(f"« {text} » est une date, pas un identifiant.")
    if isinstance(cell, bool):
        raise InvalidIdentifier(f"« {text} » n'est pas un identifiant.")
    if isinstance(cell, int | float):
        if (isinstance(cell, float) and not cell.is_integer()) or cell < 0:
            raise InvalidIdentifier(
                f"« {text} » n'est pas un identifiant : un SIRET, un SIREN ou un numéro "
                "de déclaration d'activité est un nombre entier."
            )
        if xlsx and len(text) == 10:
            # An NDA typed as a number lost its leading 0 (no identifier has 10 digits).
            return classify("0" + text)
    formula = _TEXT_FORMULA.match(text)
    if formula:  # ="01971234567", the usual trick to keep leading zeros in a CSV
        text = formula.group(1)
    try:
        return classify(text)
    except InvalidIdentifier as error:
        raise InvalidIdentifier(str(error) + _hint(text)) from error


def _hint(text: str) -> str:
    compact = "".join(text.split())
    if compact.isdigit() and len(compact) == 10:
        return (
            " Avec 10 chiffres, c'est peut-être un numéro de déclaration d'activité dont "
            "le 0 initial a été perdu : ajoutez-le."
        )
    if _SCIENTIFIC.match(compact):
        return (
            " Le tableur l'a écrit en notation scientifique et des chiffres sont perdus : "
            "mettez la colonne au format texte et saisissez de nouveau le numéro."
        )
    return ""


def _date(cell: Any, text: str, default: date) -> date:
    if cell is None or text == "":
        return default
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if not isinstance(cell, str):
        raise ValueError(text)
    return parse_date(text)


# --- CSV -------------------------------------------------------------------------------------


def _sniff(lines: list[str]) -> str:
    """The separator found on most of the first non-blank lines (``;`` when none)."""
    sample = [line for line in lines if line.strip()][:50]
    best, best_count = ";", 0
    for separator in SEPARATORS:
        count = sum(1 for line in sample if separator in line)
        if count > best_count:
            best, best_count = separator, count
    return best


def _csv_rows(text: str) -> Iterator[tuple[int, Any, Any]]:
    head = text[:65536].splitlines()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff(head))
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        yield line, row[0].strip(), (row[1].strip() if len(row) > 1 else None)


# --- XLSX ------------------------------------------------------------------------------------


def _xlsx_rows(data: bytes, name: str) -> Iterator[tuple[int, Any, Any]]:
    from openpyxl import load_workbook

    refused = BulkInputRefused(
        f"Le fichier{name} est une archive ZIP mais pas un classeur XLSX lisible "
        f"(un document .docx ou .ods, par exemple) : {ACCEPTED}."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise refused from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise BulkInputRefused(f"Le classeur{name} est trop volumineux une fois décompressé.")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on a file it cannot read
        raise refused from None
    try:
        if not workbook.worksheets:
            raise refused
        sheet = workbook.worksheets[0]
        try:
            for line, row in enumerate(
                sheet.iter_rows(min_row=1, max_col=2, values_only=True), start=1
            ):
                cells = (*row, None, None)
                yield line, cells[0], cells[1]
        except BulkInputRefused:
            raise
        except Exception:
            raise refused from None
    finally:
        workbook.close()


def _display_name(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base:
        return ""
    if len(base) > 80:
        base = base[:77] + "…"
    return f" « {base} »"
