"""The export writers of portal.exports: the streamed pieces make the same file."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from portal import exports

COLUMNS = ("reference", "debut", "montant", "formule")


def rows(count: int):
    for n in range(count):
        yield (f"R-{n:04d}", date(2025, 1, 1 + n % 28), Decimal(n) / 4, "=1+1" if n == 3 else "")


def test_csv_pieces_make_the_whole_file_and_come_as_rows_come() -> None:
    pieces = list(exports.csv_chunks(COLUMNS, rows(2_500), batch=1_000))
    assert len(pieces) == 3  # 1,000 + 1,000 + 500 rows (the header in the first)
    whole = b"".join(pieces)
    assert whole == exports.to_csv(COLUMNS, rows(2_500))
    text = whole.decode("utf-8-sig").splitlines()
    assert text[0] == "reference;debut;montant;formule"
    assert text[1] == "R-0000;01/01/2025;0,00;"
    assert text[4] == "R-0003;04/01/2025;0,75;'=1+1"
    assert len(text) == 2_501


def test_xlsx_pieces_make_a_workbook_with_every_row() -> None:
    pieces = list(exports.xlsx_chunks(COLUMNS, rows(3_000), "Lignes"))
    workbook = load_workbook(io.BytesIO(b"".join(pieces)), read_only=True)
    values = list(workbook["Lignes"].iter_rows(values_only=True))
    assert values[0] == COLUMNS
    assert len(values) == 3_001
    assert values[4][0] == "R-0003" and values[4][2] == 0.75 and values[4][3] == "=1+1"
    assert values[2][1].date() == date(2025, 1, 2)
