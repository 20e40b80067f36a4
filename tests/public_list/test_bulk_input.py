"""Reading the file of a bulk check (no app, no database)."""

from __future__ import annotations

import codecs
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from portal.public_list.bulk_input import (
    MAX_BYTES,
    MAX_LINES,
    BulkInputRefused,
    read_identifiers,
)

DEFAULT = date(2026, 3, 15)
SIRET = "81234567600017"  # valid Luhn keys (the sample list's "Atelier Formation Garonne")
SIREN = "300123452"
NDA = "01971234567"
BAD_SIRET = "81234567600018"


def read(data: bytes, filename: str = "fichier"):
    return read_identifiers(data, filename, default_on=DEFAULT)


def summary(data: bytes) -> tuple[list[tuple[int, str, str, date]], list[int]]:
    """(line, kind, value, date) of readable lines and the numbers of unreadable ones."""
    result = read(data)
    items = [(i.line, i.identifier.kind, i.identifier.value, i.on) for i in result.items]
    return items, [u.line for u in result.unreadable]


def xlsx(rows: list[tuple], sheets: int = 1) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    for n in range(1, sheets):
        workbook.create_sheet(f"Autre {n}").append(["ignorée"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


BOM = codecs.BOM_UTF8

CSV_CASES = {
    "utf-8 with BOM, semicolons, CRLF, header": (
        BOM + f"siret;date\r\n{SIRET};01/03/2026\r\n{SIREN};\r\n".encode(),
        [(2, "siret", SIRET, date(2026, 3, 1)), (3, "siren", SIREN, DEFAULT)],
        [],
    ),
    "comma separated, ISO dates, no header": (
        f"{SIRET},2026-02-01\n{NDA},\n".encode(),
        [(1, "siret", SIRET, date(2026, 2, 1)), (2, "nda", NDA, DEFAULT)],
        [],
    ),
    "tab separated": (
        f"Identifiant\tDate\n{SIREN}\t15/01/2026\n".encode(),
        [(2, "siren", SIREN, date(2026, 1, 15))],
        [],
    ),
    "cp1252 header with an accent": (
        f"Numéro;Date de vérification\n{SIRET};01/03/2026\n".encode("cp1252"),
        [(2, "siret", SIRET, date(2026, 3, 1))],
        [],
    ),
    "single column, spaces in identifiers, blank lines": (
        b"\n812 345 676 00017\n\n  300 123 452  \n\n",
        [(2, "siret", SIRET, DEFAULT), (4, "siren", SIREN, DEFAULT)],
        [],
    ),
    "bad checksum and bad date listed with their line numbers": (
        f"siret;date\n{SIRET}\n{BAD_SIRET}\n{SIREN};31/02/2026\n{NDA};demain\n".encode(),
        [(2, "siret", SIRET, DEFAULT)],
        [3, 4, 5],
    ),
    "a line of letters after the header is unreadable, not a header": (
        f"siret\n{SIRET}\ninconnu\n".encode(),
        [(2, "siret", SIRET, DEFAULT)],
        [3],
    ),
    "quoted values and extra columns ignored": (
        f'"{SIRET}";"01/03/2026";"Atelier"\n="{NDA}";;"autre"\n'.encode(),
        [(1, "siret", SIRET, date(2026, 3, 1)), (2, "nda", NDA, DEFAULT)],
        [],
    ),
    "utf-16 with BOM (Excel's Unicode text)": (
        f"siret\tdate\r\n{SIRET}\t01/03/2026\r\n".encode("utf-16"),
        [(2, "siret", SIRET, date(2026, 3, 1))],
        [],
    ),
}


@pytest.mark.parametrize(("data", "items", "unreadable"), CSV_CASES.values(), ids=list(CSV_CASES))
def test_csv_files(data: bytes, items: list, unreadable: list[int]) -> None:
    assert read(data).format == "csv"
    assert summary(data) == (items, unreadable)


def test_unreadable_lines_carry_the_value_and_a_french_reason() -> None:
    data = f"siret;date\n{SIRET}\n{BAD_SIRET}\n{SIREN};31/02/2026\n1971234567\n".encode()
    reasons = {u.line: (u.value, u.reason) for u in read(data).unreadable}
    assert reasons[3] == (
        BAD_SIRET,
        f"Le SIRET {BAD_SIRET} est invalide : la clé de contrôle ne correspond pas.",
    )
    assert reasons[4][0] == f"{SIREN} ; 31/02/2026"
    assert reasons[4][1].startswith("Date « 31/02/2026 » illisible")
    # A 10-digit text is not completed, but the reason says what probably happened.
    assert "0 initial a été perdu" in reasons[5][1]


def test_default_date_is_today_when_not_given() -> None:
    (item,) = read_identifiers(f"{SIRET}\n".encode(), "f.csv").items
    assert item.on == date.today()


def test_the_format_is_recognised_by_content_not_by_name() -> None:
    assert read_identifiers(f"{SIRET}\n".encode(), "liste.xlsx").format == "csv"
    assert read_identifiers(xlsx([(SIRET,)]), "liste.csv").format == "xlsx"


def test_xlsx_numbers_text_and_dates() -> None:
    data = xlsx(
        [
            ("siret", "date"),
            (int(SIRET), datetime(2026, 2, 1)),  # a SIRET typed as a number is fine
            (1971234567, None),  # an NDA that lost its leading zero
            (NDA, "01/03/2026"),  # text keeps it
            (None, None),
            (float(SIREN), date(2026, 1, 5)),
            (int(BAD_SIRET), None),
            (datetime(2026, 1, 1), None),
            (3.5, None),
            (int(SIREN), 46000),  # a bare number is not a date
        ],
        sheets=2,
    )
    result = read(data)
    assert result.format == "xlsx"
    assert [(i.line, i.raw, i.identifier.kind, i.identifier.value, i.on) for i in result.items] == [
        (2, SIRET, "siret", SIRET, date(2026, 2, 1)),
        (3, "1971234567", "nda", NDA, DEFAULT),
        (4, NDA, "nda", NDA, date(2026, 3, 1)),
        (6, SIREN, "siren", SIREN, date(2026, 1, 5)),
    ]
    reasons = {u.line: u.reason for u in result.unreadable}
    assert sorted(reasons) == [7, 8, 9, 10]
    assert "clé de contrôle" in reasons[7]
    assert "est une date" in reasons[8]
    assert "nombre entier" in reasons[9]
    assert "Date « 46000 » illisible" in reasons[10]


def test_xlsx_reads_the_first_sheet_only() -> None:
    workbook = Workbook()
    workbook.active.append([SIRET])
    workbook.create_sheet("Deuxième").append([SIREN])
    workbook.active = 1  # even when another sheet is the active one
    out = io.BytesIO()
    workbook.save(out)
    assert [i.identifier.value for i in read(out.getvalue()).items] == [SIRET]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
REFUSED = {
    "empty": (b"", "est vide"),
    "only blank lines": (b"\r\n\r\n  \n", "est vide"),
    "pdf": (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "document PDF",
    ),
    "png": (PNG, "image PNG"),
    "xls (OLE2)": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "Excel 97-2003 (.xls)"),
    "zip that is no workbook": (b"PK\x03\x04" + b"\x14\x00" * 40, "pas un classeur XLSX"),
    "binary": (bytes(range(256)) * 4, "ni un CSV ni un classeur XLSX"),
    "header only": (b"siret;date\r\n", "Aucun identifiant lisible"),
    "only unreadable lines": (
        f"siret\n{BAD_SIRET}\n".encode(),
        "Aucun identifiant lisible dans le fichier « fichier » (ligne 2 : Le SIRET",
    ),
}


@pytest.mark.parametrize(("data", "message"), REFUSED.values(), ids=list(REFUSED))
def test_files_refused_with_a_french_message(data: bytes, message: str) -> None:
    with pytest.raises(BulkInputRefused) as refusal:
        read(data)
    assert message in str(refusal.value)
    assert "« fichier »" in str(refusal.value)


def test_a_real_zip_archive_that_is_not_a_workbook_is_refused() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("content.xml", "<document/>")
    with pytest.raises(BulkInputRefused, match="pas un classeur XLSX"):
        read(out.getvalue())


def test_the_file_name_in_messages_is_its_last_part() -> None:
    with pytest.raises(BulkInputRefused, match=r"« liste\.pdf »"):
        read_identifiers(b"%PDF-1.4", "C:\\Users\\moi\\liste.pdf")


def test_more_than_max_lines_is_refused() -> None:
    lines = "siret\n" + "\n".join([SIRET] * MAX_LINES) + "\n"
    assert len(read(lines.encode()).items) == MAX_LINES  # the header is not counted
    with pytest.raises(BulkInputRefused, match="plus de 10\u202f000 lignes"):
        read((lines + SIREN + "\n").encode())


def test_more_than_max_lines_in_a_workbook_is_refused() -> None:
    with pytest.raises(BulkInputRefused, match="plus de 10\u202f000 lignes"):
        read(xlsx([(SIRET,)] * (MAX_LINES + 1)))


def test_too_large_a_file_is_refused() -> None:
    with pytest.raises(BulkInputRefused, match="dépasse 5 Mo"):
        read(b"1" * (MAX_BYTES + 1))
