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
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter
from flask import Response

from portal import formatting

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([csv_value(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        out,
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
    return out.getvalue()


def download(body: bytes, content_type: str, filename: str) -> Response:
    """An attachment that no cache keeps (exports hold personal or funder data)."""
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
