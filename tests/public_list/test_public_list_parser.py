"""The streaming parser of the public list of training providers (no app, no database)."""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from portal.public_list.parser import (
    CATEGORIES,
    EXPECTED_COLUMNS,
    MAX_RECORD_LINES,
    LineNote,
    ListEntry,
    NotAPublicList,
    PublicListReader,
    RejectedLine,
    Specialite,
    header_layout,
    parse,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLE = FIXTURES / "public_list_sample.csv"
BOM = b"\xef\xbb\xbf"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_public_list_sample", FIXTURES / "make_public_list_sample.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_all(data: bytes) -> tuple[list[ListEntry], PublicListReader]:
    reader = PublicListReader(io.BytesIO(data))
    entries = list(reader)
    return entries, reader


# -- building small files in tests ------------------------------------------------------------

FIELD_INDEX = {
    "nda": 0,
    "previous": 1,
    "denomination": 2,
    "siren": 3,
    "siret": 4,
    "c_formation": 9,
    "c_bilans": 10,
    "c_vae": 11,
    "c_apprentissage": 12,
    "d_declaration": 18,
    "nb_stagiaires": 27,
    "effectif": 29,
}


def fields(**values: str) -> list[str]:
    row = [""] * len(EXPECTED_COLUMNS)
    row[0] = "11751234567"
    row[2] = "Organisme de test"
    row[3] = "812345676"
    row[4] = "81234567600017"
    for name, value in values.items():
        row[FIELD_INDEX[name]] = value
    return row


def csv_bytes(
    *rows: list[str] | str,
    bom: bool = True,
    eol: str = "\r\n",
    trailing: bool = True,
    header: str | None = None,
) -> bytes:
    """A file in the public-list format; a ``str`` row is written as is (without eol)."""
    end = ";" if trailing else ""
    lines = [header if header is not None else ";".join(EXPECTED_COLUMNS) + end]
    for row in rows:
        lines.append(row if isinstance(row, str) else ";".join(row) + end)
    return (BOM if bom else b"") + (eol.join(lines) + eol).encode("utf-8")


# -- the sample file --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()


@pytest.fixture(scope="module")
def sample(sample_bytes: bytes) -> tuple[dict[str, ListEntry], PublicListReader]:
    entries, reader = read_all(sample_bytes)
    return {entry.nda: entry for entry in entries}, reader


def test_sample_fixture_is_up_to_date(sample_bytes: bytes) -> None:
    assert load_generator().build_sample() == sample_bytes


def test_sample_has_the_awkward_bytes(sample_bytes: bytes) -> None:
    assert sample_bytes.startswith(BOM)
    header = sample_bytes.split(b"\r\n", 1)[0]
    assert header.endswith(b";") and b"; denomination ;siren ;" in header
    assert b"\n" not in sample_bytes.replace(b"\r\n", b"")


def test_sample_entries_in_order(sample: tuple[dict[str, ListEntry], PublicListReader]) -> None:
    entries, reader = sample
    assert [(e.line_number, e.nda) for e in entries.values()] == [
        (2, "76311234567"),
        (3, "01971234567"),
        (4, "93131234567"),
        (5, "11755432101"),
        (6, "84691234560"),
        (7, "52441234567"),
        (8, "24451234567"),
        (9, "75331234567"),
        (10, "44671234567"),
        (14, "11759876543"),
        (15, "84011234567"),
    ]
    assert reader.entries_read == 11
    assert reader.rows_read == 13 == reader.entries_read + len(reader.rejected)
    assert reader.lines_read == 15


def test_sample_rejected_lines(sample: tuple[dict[str, ListEntry], PublicListReader]) -> None:
    _, reader = sample
    assert reader.rejected == [
        RejectedLine(12, "29 champs au lieu de 30"),
        RejectedLine(13, 'numéro de déclaration d\'activité illisible : "en cours"'),
    ]


@pytest.mark.parametrize(
    ("nda", "attribute", "expected"),
    [
        # Plain row, true/false, quoted libellé with a comma, dates, numbers.
        ("76311234567", "denomination", "Atelier Formation Garonne"),
        ("76311234567", "siren", "812345676"),
        ("76311234567", "siret", "81234567600017"),
        ("76311234567", "street", "12 allée Jean Jaurès"),
        ("76311234567", "postal_code", "31000"),
        ("76311234567", "city", "Toulouse"),
        ("76311234567", "region_code", "76"),
        ("76311234567", "certified_categories", ("actions_formation",)),
        ("76311234567", "date_derniere_declaration", date(2025, 3, 15)),
        ("76311234567", "debut_exercice", date(2024, 1, 1)),
        ("76311234567", "fin_exercice", date(2024, 12, 31)),
        ("76311234567", "specialites", (Specialite("333", "Enseignement, formation"),)),
        ("76311234567", "nb_stagiaires", 120),
        ("76311234567", "nb_stagiaires_confies", 4),
        ("76311234567", "effectif_formateurs", 6),
        ("76311234567", "previous_ndas", ()),
        # Leading zeros kept; Oui/Non.
        ("01971234567", "nda", "01971234567"),
        ("01971234567", "region_code", "01"),
        ("01971234567", "certified_categories", ("actions_formation", "vae")),
        ("01971234567", "city", "Pointe-à-Pitre"),
        ("01971234567", "date_derniere_declaration", date(2025, 4, 2)),
        # Quoted values holding ; and "".
        ("93131234567", "denomination", 'Les Ateliers "Savoir; Faire" SARL'),
        ("93131234567", "street", "5, boulevard de la Libération"),
        ("93131234567", "certified_categories", ("bilans_competences",)),
        ("93131234567", "nb_stagiaires_confies", None),
        # Two NDAs, one SIREN.
        ("11755432101", "siren", "300123452"),
        ("11755432101", "siret", "30012345200017"),
        ("11755432101", "certified_categories", ("actions_formation", "apprentissage")),
        ("84691234560", "siren", "300123452"),
        ("84691234560", "siret", "30012345200025"),
        ("84691234560", "city", "Lyon"),
        # All four categories (TRUE/True/Oui/true).
        (
            "52441234567",
            "certified_categories",
            ("actions_formation", "bilans_competences", "vae", "apprentissage"),
        ),
        ("52441234567", "is_certified", True),
        (
            "52441234567",
            "specialites",
            (
                Specialite("251", "Mécanique générale et de précision, usinage"),
                Specialite("312", "Commerce, vente"),
                Specialite(
                    "326", "Informatique, traitement de l'information, réseaux de transmission"
                ),
            ),
        ),
        # No certification, empty columns.
        ("24451234567", "certified_categories", ()),
        ("24451234567", "is_certified", False),
        ("24451234567", "street", ""),
        ("24451234567", "date_derniere_declaration", None),
        ("24451234567", "specialites", ()),
        ("24451234567", "nb_stagiaires", None),
        ("24451234567", "effectif_formateurs", None),
        ("24451234567", "foreign_denomination", ""),
        # Previous NDAs with mixed separators; FALSE/false/Non/empty.
        ("75331234567", "previous_ndas", ("75330000001", "75330000002", "72330000003")),
        ("75331234567", "certified_categories", ()),
        # A line break inside a quoted value is folded into one space.
        ("44671234567", "street", "Bâtiment B 3 rue des Charpentiers"),
        ("44671234567", "postal_code", "67000"),
        # Invalid SIRET kept as is; foreign organisation.
        ("11759876543", "siret", "49912345300099"),
        ("11759876543", "has_valid_siret", False),
        ("11759876543", "has_valid_siren", True),
        ("11759876543", "foreign_denomination", "Euro Training Academy SRL"),
        ("11759876543", "foreign_street", "Rue de la Loi 42"),
        ("11759876543", "foreign_postal_code", "1040"),
        ("11759876543", "foreign_city", "Bruxelles"),
        ("11759876543", "foreign_country", "Belgique"),
        # Stray spaces trimmed; leading zero of the postal code kept.
        ("84011234567", "denomination", "Bresse Formation Santé"),
        ("84011234567", "siren", "380012344"),
        ("84011234567", "siret", "38001234400012"),
        ("84011234567", "postal_code", "01000"),
        ("84011234567", "city", "Bourg-en-Bresse"),
        ("84011234567", "region_code", "84"),
        ("84011234567", "actions_formation", True),
        ("84011234567", "date_derniere_declaration", date(2025, 1, 10)),
        ("84011234567", "specialites", (Specialite("331", "Santé"),)),
        ("84011234567", "nb_stagiaires", 64),
        ("84011234567", "effectif_formateurs", 4),
    ],
)
def test_sample_values(
    sample: tuple[dict[str, ListEntry], PublicListReader],
    nda: str,
    attribute: str,
    expected: object,
) -> None:
    entries, _ = sample
    assert getattr(entries[nda], attribute) == expected


def test_sample_valid_identifiers(sample: tuple[dict[str, ListEntry], PublicListReader]) -> None:
    entries, _ = sample
    invalid = {nda for nda, e in entries.items() if not (e.has_valid_siren and e.has_valid_siret)}
    assert invalid == {"11759876543"}
    assert all(e.siret.startswith(e.siren) for e in entries.values())


def test_certifications_mapping(sample: tuple[dict[str, ListEntry], PublicListReader]) -> None:
    entries, _ = sample
    entry = entries["11755432101"]
    assert list(CATEGORIES) == ["actions_formation", "bilans_competences", "vae", "apprentissage"]
    assert list(CATEGORIES.values()) == [EXPECTED_COLUMNS[i] for i in range(9, 13)]
    assert entry.certifications == {
        "actions_formation": True,
        "bilans_competences": False,
        "vae": False,
        "apprentissage": True,
    }
    assert all(getattr(entry, key) is entry.certifications[key] for key in CATEGORIES)


def test_expected_columns() -> None:
    assert len(EXPECTED_COLUMNS) == 30
    assert EXPECTED_COLUMNS[0] == "numeroDeclarationActivite"
    assert EXPECTED_COLUMNS[6] == "adressePhysiqueOrganismeFormation.codePostal"
    assert EXPECTED_COLUMNS[22] == "informationsDeclarees.specialitesDeFormation.libelleSpecialite1"
    assert EXPECTED_COLUMNS[-1] == "informationsDeclarees.effectifFormateurs"
    assert EXPECTED_COLUMNS == load_generator().COLUMNS


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda b: b.replace(b"\r\n", b"\n"), id="LF"),
        pytest.param(lambda b: b.removeprefix(BOM), id="no-BOM"),
        pytest.param(lambda b: b.removeprefix(BOM).replace(b"\r\n", b"\n"), id="LF-no-BOM"),
        pytest.param(lambda b: b.removesuffix(b"\r\n"), id="no-final-newline"),
    ],
)
def test_variants_parse_identically(sample_bytes: bytes, variant: Callable[[bytes], bytes]) -> None:
    expected, expected_reader = read_all(sample_bytes)
    entries, reader = read_all(variant(sample_bytes))
    assert entries == expected
    assert reader.rejected == expected_reader.rejected
    assert reader.rows_read == expected_reader.rows_read


def test_parse_function_and_context_manager(sample_bytes: bytes) -> None:
    stream = io.BytesIO(sample_bytes)
    with parse(stream) as reader:
        first = next(iter(reader))
    assert first.nda == "76311234567"
    assert not stream.closed  # the caller owns the stream


def test_stream_left_open_after_reading_and_on_error(sample_bytes: bytes) -> None:
    stream = io.BytesIO(sample_bytes)
    list(PublicListReader(stream))
    assert not stream.closed
    stream = io.BytesIO(b"<html></html>")
    with pytest.raises(NotAPublicList):
        PublicListReader(stream)
    assert not stream.closed


def test_text_stream_refused() -> None:
    with pytest.raises(TypeError, match="binary"):
        PublicListReader(io.StringIO("x"))  # type: ignore[arg-type]


# -- not a public list ------------------------------------------------------------------------

HEADER = ";".join(EXPECTED_COLUMNS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Le fichier est vide"),
        (BOM, "Le fichier est vide"),
        (b"\r\n\r\n  \r\n", "Le fichier est vide"),
        (
            b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n",
            "est une page HTML",
        ),
        (b'\n<html lang="fr"><body>Erreur</body></html>', "est une page HTML"),
        (b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>', "est une page HTML"),
        (
            HEADER.replace(";", ",").encode() + b"\n11751234567,,X\n",
            "ne contient pas les 30 colonnes attendues séparées par des points-virgules",
        ),
        (
            b"siren;nic;denominationUniteLegale\n812345676;00017;X\n",
            "colonnes absentes, dont « numeroDeclarationActivite »",
        ),
        (
            HEADER.replace(";denomination;", ";raisonSociale;").encode() + b";\n",
            "colonne « denomination » absente (le portail en a besoin)",
        ),
        (
            ";".join(EXPECTED_COLUMNS[:-1]).encode() + b";\n",
            "colonne « informationsDeclarees.effectifFormateurs » absente",
        ),
        (HEADER.encode("utf-16") + b"\n", "L'en-tête ne correspond pas"),
        (b"x" * 40_000, "bien trop longue"),
    ],
    ids=[
        "empty",
        "bom-only",
        "blank-lines",
        "html",
        "html-after-blank-line",
        "xml",
        "comma-separated",
        "other-csv",
        "renamed-column",
        "missing-column",
        "utf-16",
        "no-newline",
    ],
)
def test_not_a_public_list(data: bytes, message: str) -> None:
    with pytest.raises(NotAPublicList) as excinfo:
        PublicListReader(io.BytesIO(data))
    text = str(excinfo.value)
    assert message in text
    assert "liste publique" in text or "en-tête" in text
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        BOM + HEADER.encode() + b";\r\n",
        HEADER.encode() + b";",
        HEADER.encode() + b"\n",
        BOM + HEADER.encode() + b";\r\n\r\n\r\n",
        " ; ".join(EXPECTED_COLUMNS).encode() + b" ; \r\n",
    ],
    ids=["crlf", "no-newline", "no-trailing-separator", "blank-lines-after", "spaced-names"],
)
def test_header_only_yields_nothing(data: bytes) -> None:
    entries, reader = read_all(data)
    assert entries == []
    assert reader.rejected == []
    assert reader.rows_read == 0


# -- line-level rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (fields()[:-1], "29 champs au lieu de 30"),
        ([*fields(), "en trop"], "31 champs au lieu de 30"),
        (fields()[:10], "10 champs au lieu de 30"),
        (fields(previous="11750000001;11750000002"), "31 champs au lieu de 30"),
        (fields(nda=""), "numéro de déclaration d'activité absent"),
        (fields(nda="ABC"), 'numéro de déclaration d\'activité illisible : "ABC"'),
        (fields(nda="1175123456"), 'numéro de déclaration d\'activité illisible : "1175123456"'),
        (fields(nda="117512345678"), 'illisible : "117512345678"'),
        (
            fields(c_vae="peut-être"),
            'valeur illisible dans la colonne certifications.VAE : "peut-être" '
            "(attendu true ou false)",
        ),
        (fields(c_formation="X"), "colonne certifications.actionsDeFormation"),
        (";" * 30, "numéro de déclaration d'activité absent"),
    ],
)
def test_rejected_line_reasons(row: list[str] | str, reason: str) -> None:
    good = fields(nda="93130000001")
    entries, reader = read_all(csv_bytes(row, good))
    assert [e.nda for e in entries] == ["93130000001"]
    assert [e.line_number for e in entries] == [3]
    assert len(reader.rejected) == 1
    assert reader.rejected[0].line_number == 2
    assert reason in reader.rejected[0].reason
    assert reader.rows_read == 2


@pytest.mark.parametrize(
    ("values", "attribute", "expected"),
    [
        ({"c_formation": "TRUE"}, "actions_formation", True),
        ({"c_formation": "True"}, "actions_formation", True),
        ({"c_formation": "tRuE"}, "actions_formation", True),
        ({"c_formation": "oui"}, "actions_formation", True),
        ({"c_formation": "OUI"}, "actions_formation", True),
        ({"c_formation": " Oui "}, "actions_formation", True),
        ({"c_formation": "NON"}, "actions_formation", False),
        ({"c_formation": "false"}, "actions_formation", False),
        ({"c_formation": ""}, "actions_formation", False),
        ({"c_apprentissage": "true"}, "apprentissage", True),
        ({"d_declaration": "31/02/2024"}, "date_derniere_declaration", None),
        ({"d_declaration": "2024-02-29"}, "date_derniere_declaration", date(2024, 2, 29)),
        ({"d_declaration": "29/02/2024"}, "date_derniere_declaration", date(2024, 2, 29)),
        ({"d_declaration": "demain"}, "date_derniere_declaration", None),
        ({"nb_stagiaires": "1 234"}, "nb_stagiaires", 1234),
        ({"nb_stagiaires": "beaucoup"}, "nb_stagiaires", None),
        ({"nb_stagiaires": "0"}, "nb_stagiaires", 0),
        ({"siret": "12345678901234"}, "siret", "12345678901234"),
        ({"siren": "ABC"}, "siren", "ABC"),
        ({"siren": ""}, "siren", ""),
        ({"nda": "01 97 12345 67"}, "nda", "01971234567"),
        ({"nda": "00000000001"}, "nda", "00000000001"),
        ({"previous": "11750000001"}, "previous_ndas", ("11750000001",)),
        (
            {"previous": '"11750000001;11750000002"'},
            "previous_ndas",
            ("11750000001", "11750000002"),
        ),
        ({"previous": "11750000001/ 11750000001 |x"}, "previous_ndas", ("11750000001",)),
        ({"previous": "11751234567"}, "previous_ndas", ()),  # its own NDA
        ({"previous": "n/a"}, "previous_ndas", ()),
        ({"denomination": '"A ""B"" C"'}, "denomination", 'A "B" C'),
        ({"denomination": 'Dit "le bon" OF'}, "denomination", 'Dit "le bon" OF'),
        ({"denomination": "\u00a0OF Espacé\u00a0"}, "denomination", "OF Espacé"),
    ],
)
def test_value_rules(values: dict[str, str], attribute: str, expected: object) -> None:
    entries, reader = read_all(csv_bytes(fields(**values)))
    assert reader.rejected == []
    assert getattr(entries[0], attribute) == expected


def test_invalid_utf8_rejects_only_that_line() -> None:
    data = csv_bytes(
        fields(nda="11750000001"), fields(nda="11750000002"), fields(nda="11750000003")
    )
    data = data.replace(b"11750000002;;Organisme", b"11750000002;;Organisme \xe9\xff")
    entries, reader = read_all(data)
    assert [e.nda for e in entries] == ["11750000001", "11750000003"]
    assert reader.rejected == [
        RejectedLine(3, "caractères illisibles : la ligne n'est pas encodée en UTF-8 valide")
    ]


def test_latin1_file_is_rejected_line_by_line_not_aborted() -> None:
    data = csv_bytes(fields(denomination="Été Formation"), bom=False).decode("utf-8")
    entries, reader = read_all(data.encode("latin-1"))
    assert entries == []
    assert [r.line_number for r in reader.rejected] == [2]


def test_unclosed_quote_costs_one_line_only() -> None:
    data = csv_bytes(
        fields(nda="11750000001"),
        fields(nda="11750000002", denomination='"Guillemet jamais fermé'),
        fields(nda="11750000003"),
        fields(nda="11750000004", denomination='"Sur deux\r\nlignes"'),
        fields(nda="11750000005"),
    )
    entries, reader = read_all(data)
    assert [(e.line_number, e.nda) for e in entries] == [
        (2, "11750000001"),
        (4, "11750000003"),
        (5, "11750000004"),
        (7, "11750000005"),
    ]
    assert entries[2].denomination == "Sur deux lignes"
    assert [r.line_number for r in reader.rejected] == [3]
    assert "guillemet" in reader.rejected[0].reason
    assert reader.rows_read == 5


def test_unclosed_quote_in_a_long_file_is_bounded() -> None:
    rows = [fields(nda=f"117500{i:05d}") for i in range(1, 3 * MAX_RECORD_LINES)]
    rows[4] = fields(nda="11750000005", denomination='"Ouvert')
    entries, reader = read_all(csv_bytes(*rows))
    assert reader.rejected == [
        RejectedLine(6, "guillemet ouvrant sans guillemet fermant : ligne ignorée")
    ]
    assert len(entries) == len(rows) - 1
    assert [e.line_number for e in entries] == [n for n in range(2, len(rows) + 2) if n != 6]


def test_unclosed_quote_on_last_line() -> None:
    entries, reader = read_all(
        csv_bytes(fields(nda="11750000001"), fields(nda="11750000002", denomination='"Ouvert'))
    )
    assert [e.nda for e in entries] == ["11750000001"]
    assert [r.line_number for r in reader.rejected] == [3]


def test_carriage_return_alone_in_unquoted_field() -> None:
    data = csv_bytes(
        fields(nda="11750000001", denomination="Retour\rchariot"), fields(nda="11750000002")
    )
    entries, reader = read_all(data)
    assert [e.nda for e in entries] == ["11750000002"]
    assert reader.rejected == [RejectedLine(2, "ligne illisible : structure CSV incorrecte")]


def test_line_numbers_after_multiline_records_and_blank_lines() -> None:
    data = csv_bytes(
        fields(nda="11750000001", denomination='"Trois\r\nlignes\r\nici"'),
        "",
        fields(nda="ABC"),
        fields(nda="11750000002", denomination='"Deux\nlignes"'),
        fields()[:5],
        fields(nda="11750000003"),
        eol="\r\n",
    )
    entries, reader = read_all(data)
    assert [(e.line_number, e.nda) for e in entries] == [
        (2, "11750000001"),
        (7, "11750000002"),
        (10, "11750000003"),
    ]
    assert [r.line_number for r in reader.rejected] == [6, 9]
    assert reader.lines_read == 10


def test_rows_without_trailing_separator() -> None:
    data = csv_bytes(
        fields(nda="11750000001", effectif="3"), fields(nda="11750000002"), trailing=False
    )
    entries, reader = read_all(data)
    assert [(e.nda, e.effectif_formateurs) for e in entries] == [
        ("11750000001", 3),
        ("11750000002", None),
    ]
    assert reader.rejected == []


def test_row_missing_only_its_trailing_separator_is_kept() -> None:
    row = ";".join(fields(nda="11750000001", effectif="3"))  # no trailing ;
    entries, reader = read_all(csv_bytes(row))
    assert [(e.nda, e.effectif_formateurs) for e in entries] == [("11750000001", 3)]
    assert reader.rejected == []


def test_streams_without_reading_everything() -> None:
    rows = [fields(nda=f"11{i:09d}") for i in range(20_000)]
    data = csv_bytes(*rows)

    class CountingStream(io.BytesIO):
        bytes_read = 0

        def read1(self, size: int = -1) -> bytes:
            chunk = super().read1(size)
            self.bytes_read += len(chunk)
            return chunk

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.bytes_read += len(chunk)
            return chunk

    stream = CountingStream(data)
    reader = PublicListReader(stream)
    assert next(reader).nda == "11000000000"
    assert stream.bytes_read < len(data) / 10
    assert sum(1 for _ in reader) == 19_999
    assert stream.bytes_read == len(data)


# -- columns read by their header name --------------------------------------------------------

GEOCODAGE_TWIN = [
    *EXPECTED_COLUMNS[:9],
    "geocodageban",
    *EXPECTED_COLUMNS[9:],
    *(f"champ_ods_{i}" for i in range(1, 13)),
]


@pytest.mark.parametrize(
    ("names", "positions", "width", "ignored", "missing"),
    [
        (list(EXPECTED_COLUMNS), tuple(range(30)), 30, (), ()),
        ([*EXPECTED_COLUMNS, "extra"], tuple(range(30)), 31, ("extra",), ()),
        (
            GEOCODAGE_TWIN,
            (*range(9), *range(10, 31)),
            43,
            ("geocodageban", *(f"champ_ods_{i}" for i in range(1, 13))),
            (),
        ),
        (list(reversed(EXPECTED_COLUMNS)), tuple(range(29, -1, -1)), 30, (), ()),
        (["", *EXPECTED_COLUMNS], tuple(range(1, 31)), 31, ("(sans nom)",), ()),
        (
            [c for c in EXPECTED_COLUMNS if c != "adressePhysiqueOrganismeFormation.voie"],
            (*range(5), None, *range(5, 29)),
            29,
            (),
            ("adressePhysiqueOrganismeFormation.voie",),
        ),
    ],
    ids=["dgefp", "extra-at-end", "opendatasoft-twin", "reversed", "unnamed", "optional-absent"],
)
def test_header_layout(names, positions, width, ignored, missing) -> None:
    layout = header_layout(names)
    assert layout.positions == positions
    assert (layout.width, layout.ignored, layout.missing) == (width, ignored, missing)
    assert layout.canonical is (names == list(EXPECTED_COLUMNS))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            [c for c in EXPECTED_COLUMNS if c != "siren"],
            "colonne « siren » absente (le portail en a besoin)",
        ),
        (
            [c for c in EXPECTED_COLUMNS if not c.startswith("certifications.")],
            "4 colonnes absentes, dont « certifications.actionsDeFormation », "
            "« certifications.bilansDeCompetences », « certifications.VAE »",
        ),
        (
            [c for c in EXPECTED_COLUMNS if c not in ("siren", "denomination")],
            "colonnes « denomination », « siren » absentes",
        ),
        ([*EXPECTED_COLUMNS, "siren"], "« siren » en double"),
        (["numeroDeclarationActivite"], "colonnes attendues séparées par des points-virgules"),
    ],
    ids=["one-needed", "four-needed", "two-needed", "doubled", "one-column"],
)
def test_header_refused_only_for_a_needed_column(names, message) -> None:
    with pytest.raises(NotAPublicList, match=re.escape(message)):
        header_layout(names)


def _twin_bytes(rows: list[list[str]]) -> bytes:
    """The same rows in the Opendatasoft twin's layout: a column inserted, 12 at the end."""
    header = ";".join(GEOCODAGE_TWIN) + ";"
    lines = [header]
    for row in rows:
        lines.append(";".join([*row[:9], "43.6,1.44", *row[9:], *("x" * 12)]) + ";")
    return BOM + ("\r\n".join(lines) + "\r\n").encode()


def test_added_and_moved_columns_read_the_same_entries() -> None:
    rows = [
        fields(nda="11750000001", c_vae="true", effectif="3", nb_stagiaires="40"),
        fields(nda="11750000002", d_declaration="15/03/2025"),
    ]
    expected, _ = read_all(csv_bytes(*rows))
    entries, reader = read_all(_twin_bytes(rows))
    assert entries == expected
    assert reader.rejected == []
    assert reader.layout.ignored[0] == "geocodageban" and len(reader.layout.ignored) == 13
    # Reversed order, no trailing separator.
    reversed_header = ";".join(reversed(EXPECTED_COLUMNS))
    data = csv_bytes(*(list(reversed(r)) for r in rows), header=reversed_header, trailing=False)
    entries, reader = read_all(data)
    assert entries == expected and reader.rejected == []
    # The light rows too.
    light = list(PublicListReader(io.BytesIO(_twin_bytes(rows)), light=True))
    assert [(r.nda, r.vae, r.effectif_formateurs) for r in light] == [
        ("11750000001", True, 3),
        ("11750000002", False, None),
    ]


def test_a_row_of_the_wrong_width_in_a_wider_file() -> None:
    rows = [fields(nda="11750000001")]
    data = _twin_bytes(rows) + b"11750000002;;court;\r\n"
    entries, reader = read_all(data)
    assert [e.nda for e in entries] == ["11750000001"]
    assert reader.rejected == [RejectedLine(3, "3 champs au lieu de 43")]
    assert reader.rejected[0].nda == "11750000002"


# -- an unreadable line whose NDA can be read -------------------------------------------------


@pytest.mark.parametrize(
    ("row", "nda"),
    [
        (fields(nda="11750000009")[:12], "11750000009"),  # short
        ([*fields(nda="11750000009"), "en trop"], "11750000009"),  # long
        (fields(nda="11750000009", c_vae="peut-être"), "11750000009"),  # bad certification
        (fields(nda="11750000009", denomination='"Guillemet jamais fermé'), "11750000009"),
        (fields(nda='"11750000009"', denomination='"Guillemet jamais fermé'), "11750000009"),
        (fields(nda="117 500 000 09")[:5], "11750000009"),
        (fields(nda="11750000009", denomination="Retour\rchariot"), "11750000009"),
        (fields(nda="en cours"), None),  # the NDA itself: reported as before
        (fields(nda="1175000000")[:5], None),
        ('"Guillemet;11750000009;' + ";" * 28, None),
    ],
    ids=[
        "short",
        "long",
        "certification",
        "unclosed-quote",
        "quoted-nda-unclosed-quote",
        "spaced-nda",
        "carriage-return",
        "nda-unreadable",
        "nda-short",
        "quote-before-nda",
    ],
)
def test_the_nda_of_an_unreadable_line(row: list[str] | str, nda: str | None) -> None:
    good = fields(nda="93130000001")
    for light in (False, True):
        reader = PublicListReader(io.BytesIO(csv_bytes(row, good)), light=light)
        assert [e.nda for e in reader] == ["93130000001"]
        assert [(r.line_number, r.nda) for r in reader.rejected] == [(2, nda)]


def test_the_nda_of_an_unreadable_line_in_an_other_order() -> None:
    names = ["denomination", *(c for c in EXPECTED_COLUMNS if c != "denomination")]
    row = fields(nda="11750000009")
    moved = [row[2], *(v for i, v in enumerate(row) if i != 2)]
    short = ";".join(moved[:8]) + ";"
    quoted = '"Nom;"' + ";" + ";".join(moved[1:8]) + ";"
    data = csv_bytes(short, quoted, header=";".join(names) + ";")
    _, reader = read_all(data)
    assert [(r.line_number, r.nda) for r in reader.rejected] == [
        (2, "11750000009"),
        (3, "11750000009"),
    ]


# -- a file cut in the middle of its last row -------------------------------------------------

GOOD = ";".join(fields(nda="11750000001")) + ";"
LAST = ";".join(fields(nda="11750000002", effectif="12")) + ";"


@pytest.mark.parametrize(
    ("tail", "cut_at", "rejected"),
    [
        (LAST + "\r\n", None, []),  # complete
        (LAST, None, []),  # complete, no final line end
        (LAST.removesuffix(";"), None, []),  # only its trailing separator missing
        (LAST[:40], 3, [3]),  # cut: short, no line end
        (LAST[:5], 3, [3]),  # cut inside the NDA
        (";".join(fields(nda="11750000002", denomination='"Coupé'))[:50], 3, [3]),  # unclosed
        (LAST[:40] + "\r\n", None, [3]),  # a short line that ends: a bad line, not a cut
        ("\r\n", None, []),
        ("   ", None, []),  # blank: nothing cut
    ],
    ids=[
        "complete",
        "no-final-eol",
        "no-trailing-separator",
        "cut-short",
        "cut-in-nda",
        "cut-in-quotes",
        "short-line-with-eol",
        "blank-line",
        "spaces",
    ],
)
def test_a_last_row_cut_short(tail: str, cut_at: int | None, rejected: list[int]) -> None:
    data = BOM + (";".join(EXPECTED_COLUMNS) + ";\r\n" + GOOD + "\r\n" + tail).encode()
    for light in (False, True):
        reader = PublicListReader(io.BytesIO(data), light=light)
        list(reader)
        assert reader.cut_last_line == cut_at
        assert [r.line_number for r in reader.rejected] == rejected


# -- identifiers and activity figures ---------------------------------------------------------


def test_identifiers_repaired_and_a_siret_of_another_siren_noted() -> None:
    data = csv_bytes(
        fields(nda="11750000001", siren="12345674", siret="1234567400019"),
        fields(nda="11750000002", siren="812345676", siret="00017"),
        fields(nda="11750000003", siren="812345676", siret="90123456700013"),
        fields(nda="11750000004"),
    )
    for light in (False, True):
        reader = PublicListReader(io.BytesIO(data), light=light)
        rows = list(reader)
        assert [(r.siren, r.siret) for r in rows] == [
            ("012345674", "01234567400019"),
            ("812345676", "81234567600017"),
            ("812345676", "90123456700013"),
            ("812345676", "81234567600017"),
        ]
        assert reader.repaired == 2
        assert reader.notes == [
            LineNote(
                4,
                "SIRET 90123456700013 d'un autre SIREN que celui de la ligne (812345676) : "
                "conservé tel que lu",
            )
        ]


def test_light_rows_carry_the_activity_figures(sample_bytes: bytes) -> None:
    full = {e.nda: e for e in PublicListReader(io.BytesIO(sample_bytes))}
    light = list(PublicListReader(io.BytesIO(sample_bytes), light=True))
    assert len(light) == len(full)
    for row in light:
        entry = full[row.nda]
        assert (
            row.date_derniere_declaration,
            row.nb_stagiaires,
            row.nb_stagiaires_confies,
            row.effectif_formateurs,
        ) == (
            entry.date_derniere_declaration,
            entry.nb_stagiaires,
            entry.nb_stagiaires_confies,
            entry.effectif_formateurs,
        )
    garonne = next(r for r in light if r.nda == "76311234567")
    assert (garonne.nb_stagiaires, garonne.nb_stagiaires_confies) == (120, 4)
    assert garonne.date_derniere_declaration == date(2025, 3, 15)
