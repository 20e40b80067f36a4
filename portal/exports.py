"""CSV and XLSX downloads with stable columns, for every export of the portal.

CSV: `;`-separated UTF-8 with a BOM (so that Excel reads accents), CRLF line ends,
booleans `oui`/`non`, dates jj/mm/aaaa, decimals with a comma and two digits (French
spreadsheets read them as numbers); a text starting with `=`, `+`, `-` or `@` is
prefixed with `'` so that a spreadsheet never runs it as a formula.
XLSX (XlsxWriter in constant-memory mode: about three times faster than openpyxl's
writer, which stays for reading files): dates are date cells, decimals numbers shown
with two digits, texts stay texts (identifiers keep their leading zeros, a text starting
with `=` is never a formula), the header row is frozen.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter
from flask import Response, stream_with_context

from portal import formatting

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime | date):
        return formatting.date_fr(value)  # an instant: its day in Paris
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], batch: int = 1000
) -> Iterator[bytes]:
    """The CSV file in pieces of `batch` rows, as they come: memory does not grow with the
    number of rows, and the first bytes leave with the first rows."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow([csv_value(v) for v in row])
        if number % batch == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    return b"".join(csv_chunks(columns, rows))


def _write_xlsx(
    target: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str
) -> int:
    """Write the workbook into `target` (a seekable binary file); return the rows written.
    Constant memory: XlsxWriter writes each row to its temporary file as it comes."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,  # rows are written as they come
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(sheet_title[:31])
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    decimal_format = workbook.add_format({"num_format": "0.00"})
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(columns):
        sheet.write_string(0, col, name)
    number = 0
    for number, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_string(number, col, "oui" if value else "non")
            elif isinstance(value, datetime):
                sheet.write_datetime(number, col, value.replace(tzinfo=None), date_format)
            elif isinstance(value, date):
                sheet.write_datetime(number, col, value, date_format)
            elif isinstance(value, Decimal):
                sheet.write_number(number, col, float(value), decimal_format)
            elif isinstance(value, int | float):
                sheet.write_number(number, col, value)
            else:
                sheet.write_string(number, col, str(value))
    workbook.close()
    return number


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str) -> bytes:
    out = io.BytesIO()
    _write_xlsx(out, columns, rows, sheet_title)
    return out.getvalue()


def xlsx_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str
) -> Iterator[bytes]:
    """The XLSX file in pieces: the workbook is built in a temporary file (constant
    memory: XlsxWriter keeps no row, the ZIP is written to disk), then read back in
    pieces. A ZIP's directory comes last and its sheet only once every row is written:
    the first bytes leave when the workbook is complete."""
    with tempfile.TemporaryFile() as target:
        _write_xlsx(target, columns, rows, sheet_title)
        target.seek(0)
        while chunk := target.read(CHUNK):
            yield chunk


def download(body: bytes, content_type: str, filename: str) -> Response:
    """An attachment that no cache keeps (exports hold personal or funder data)."""
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def stream(chunks: Iterator[bytes], content_type: str, filename: str) -> Response:
    """An attachment sent as `chunks` come (within the request's context: the database
    session stays open while they are read), that no cache keeps."""
    response = Response(stream_with_context(chunks), content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
