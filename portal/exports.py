"""CSV and XLSX downloads with stable columns, for every export of the portal.

CSV: `;`-separated UTF-8 with a BOM (so that Excel reads accents), CRLF line ends,
booleans `oui`/`non`, dates jj/mm/aaaa, decimals with a dot; a text starting with `=`, `+`,
`-` or `@` is prefixed with `'` so that a spreadsheet never runs it as a formula.
XLSX (openpyxl, write-only): dates are date cells, texts stay texts (identifiers keep
their leading zeros), a text starting with `=` is never a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask import Response

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
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
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    sheet.append(list(columns))

    # A styled cell per date, reused: a write-only sheet writes each cell as soon as it is
    # placed, so one object may serve many rows (and saves thousands of cell objects).
    date_cells: dict[date, Any] = {}

    def cell(value: Any) -> Any:
        if isinstance(value, bool):
            return "oui" if value else "non"
        if isinstance(value, date):
            dated = date_cells.get(value)
            if dated is None:
                dated = date_cells[value] = WriteOnlyCell(sheet, value=value)
                dated.number_format = "DD/MM/YYYY"
            return dated
        if isinstance(value, str) and value.startswith("="):
            text = WriteOnlyCell(sheet, value=value)
            text.data_type = "s"  # text, never a formula
            return text
        return value

    for row in rows:
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def download(body: bytes, content_type: str, filename: str) -> Response:
    """An attachment that no cache keeps (exports hold personal or funder data)."""
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
