"""Streaming parser of the DGEFP "Liste publique des organismes de formation" CSV.

Pure standard library (no Flask, no database): it turns the daily CSV published on
data.gouv.fr (~160,000 rows, ~38 MB) into :class:`ListEntry` objects, one at a time, and
collects the lines it had to skip as :class:`RejectedLine` objects with a French reason.

Usage::

    with open(path, "rb") as f, PublicListReader(f) as reader:  # header checked here
        for entry in reader:
            ...
    reader.rows_read, reader.rejected

Format handled: ``;`` separator; UTF-8 with or without a
BOM; CRLF or LF line ends; fields optionally double-quoted, with ``""`` inside and ``;`` or
line breaks allowed between quotes; a trailing ``;`` at the end of the header and of every
line (an extra empty last field, tolerated when absent); header names with stray spaces.

Columns are read **by their header name** (:func:`header_layout`): another order or added
columns (the Opendatasoft twin inserts ``geocodageban`` and adds 12 at the end) are
accepted, and :attr:`PublicListReader.layout` lists the columns ignored; a file lacking one
of :data:`REQUIRED_COLUMNS` is refused, naming it; an optional column absent reads as empty.

Choices
-------
* **Streaming**: the binary stream is wrapped in :class:`io.TextIOWrapper` and read by
  blocks of lines (~64 KB) fed to :func:`csv.reader`; memory use does not depend on the
  file size. Records that hold on one physical line (nearly all of them) are read straight
  from the block; any record that spans several lines is read again, from its first line,
  by the careful line-by-line path (:class:`_LineSource`), which applies the rules below.
  Both paths give exactly the same entries, rejections and line numbers.
* **Values**: every value is trimmed (``str.strip``, which also removes non-breaking
  spaces). Text columns are ``str`` (``""`` when empty); integer columns are ``int | None``;
  dates (``dd/mm/yyyy``, ISO ``yyyy-mm-dd`` tolerated) are ``datetime.date | None``.
  Identifiers, postal codes and region codes stay strings, leading zeros included.
* **Certifications**: four ``bool`` fields on :class:`ListEntry`, named like the keys of
  :data:`CATEGORIES` (``entry.vae``, or ``getattr(entry, key)``), plus the
  ``certifications`` property (a ``dict``) and ``certified_categories``. ``true``/``false``,
  ``Oui``/``Non`` (any case; also ``vrai``/``faux``, ``1``/``0``) and the empty string
  (= not certified) are read; any other value **rejects the line**, because silently reading
  it as "not certified" would hide a format change that concerns every provider.
* **Lines rejected** (reported in :attr:`PublicListReader.rejected`, never aborting the
  import): a wrong number of fields; an absent or unreadable NDA (after removing spaces,
  dots and dashes it must be exactly 11 digits); an unreadable certification value; bytes
  that are not valid UTF-8 (the stream is decoded with ``errors="replace"`` and any line
  holding U+FFFD is rejected: its values could not be trusted); a CSV structure error (e.g. a
  carriage return alone in an unquoted field); a quoted field that is never closed.
* **The NDA of a rejected line**: when the line cannot be read but its NDA field still can,
  :attr:`RejectedLine.nda` holds it: such a line says nothing about the OF, and the
  importer keeps what the previous list said. A rejected last line without a final line
  end is a file cut short (:attr:`PublicListReader.cut_last_line`).
* **Identifiers repaired** (:func:`portal.identifiers.repair_list_identifiers`): a SIREN on
  8 digits or a SIRET on 13 whose zero-padded value passes the checksum, a SIRET column
  holding only the NIC; a SIRET that does not start with its line's SIREN is kept as read
  and noted (:attr:`PublicListReader.notes`).
* **Not rejected**: an invalid SIREN or SIRET (the real list holds some odd ones, and the
  NDA is the key): the raw trimmed value is kept, nothing is recorded;
  :attr:`ListEntry.has_valid_siren` / :attr:`ListEntry.has_valid_siret` tell. An unreadable
  date or number becomes ``None``. Previous NDAs (separated by commas, spaces, ``|``, ``/``
  or ``;``) that are not 11 digits are dropped. Blank lines are skipped silently.
* **Line numbers** are physical line numbers in the file (header = line 1; a line ends
  with LF, so CRLF counts once), and stay right when a quoted field spans several lines.
  A record spanning several lines that turns out malformed, or spanning more than
  :data:`MAX_RECORD_LINES` lines, is taken as an unclosed quote: its first line is rejected
  and the following lines are parsed again, so one stray ``"`` costs one line, not the rest
  of the file.
* **Not checked**: duplicate NDAs (one row per NDA is expected; the importer decides).
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from operator import itemgetter
from types import MappingProxyType, TracebackType
from typing import BinaryIO, NamedTuple

from portal.identifiers import (
    is_valid_siren,
    is_valid_siret,
    normalize,
    repair_list_identifiers,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "EXPECTED_COLUMNS",
    "MAX_RECORD_LINES",
    "REQUIRED_COLUMNS",
    "HeaderLayout",
    "LineNote",
    "ListEntry",
    "ListRow",
    "NotAPublicList",
    "PublicListReader",
    "RejectedLine",
    "Specialite",
    "header_layout",
    "parse",
    "readable_nda",
]

EXPECTED_COLUMNS: tuple[str, ...] = (
    "numeroDeclarationActivite",
    "numerosDeclarationActivitePrecedent",
    "denomination",
    "siren",
    "siretEtablissementDeclarant",
    "adressePhysiqueOrganismeFormation.voie",
    "adressePhysiqueOrganismeFormation.codePostal",
    "adressePhysiqueOrganismeFormation.ville",
    "adressePhysiqueOrganismeFormation.codeRegion",
    "certifications.actionsDeFormation",
    "certifications.bilansDeCompetences",
    "certifications.VAE",
    "certifications.actionsDeFormationParApprentissage",
    "organismeEtrangerRepresente.denomination",
    "organismeEtrangerRepresente.voie",
    "organismeEtrangerRepresente.codePostal",
    "organismeEtrangerRepresente.ville",
    "organismeEtrangerRepresente.pays",
    "informationsDeclarees.dateDerniereDeclaration",
    "informationsDeclarees.debutExercice",
    "informationsDeclarees.finExercice",
    "informationsDeclarees.specialitesDeFormation.codeSpecialite1",
    "informationsDeclarees.specialitesDeFormation.libelleSpecialite1",
    "informationsDeclarees.specialitesDeFormation.codeSpecialite2",
    "informationsDeclarees.specialitesDeFormation.libelleSpecialite2",
    "informationsDeclarees.specialitesDeFormation.codeSpecialite3",
    "informationsDeclarees.specialitesDeFormation.libelleSpecialite3",
    "informationsDeclarees.nbStagiaires",
    "informationsDeclarees.nbStagiairesConfiesParUnAutreOF",
    "informationsDeclarees.effectifFormateurs",
)
N_COLUMNS = len(EXPECTED_COLUMNS)

#: The columns the portal keeps in its history: a file without one of them is refused. The
#: others (street, foreign organisation, financial year, specialities) read as empty when
#: absent, and the import names them.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "numeroDeclarationActivite",
    "numerosDeclarationActivitePrecedent",
    "denomination",
    "siren",
    "siretEtablissementDeclarant",
    "adressePhysiqueOrganismeFormation.codePostal",
    "adressePhysiqueOrganismeFormation.ville",
    "adressePhysiqueOrganismeFormation.codeRegion",
    "certifications.actionsDeFormation",
    "certifications.bilansDeCompetences",
    "certifications.VAE",
    "certifications.actionsDeFormationParApprentissage",
    "informationsDeclarees.dateDerniereDeclaration",
    "informationsDeclarees.nbStagiaires",
    "informationsDeclarees.nbStagiairesConfiesParUnAutreOF",
    "informationsDeclarees.effectifFormateurs",
)
_IDENTITY = tuple(range(N_COLUMNS))

#: Our category keys (art. L.6313-1, 1° to 4°) → the column of the list, in order.
CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "actions_formation": "certifications.actionsDeFormation",
        "bilans_competences": "certifications.bilansDeCompetences",
        "vae": "certifications.VAE",
        "apprentissage": "certifications.actionsDeFormationParApprentissage",
    }
)

#: French labels of the categories, for screens.
CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "actions_formation": "Actions de formation",
        "bilans_competences": "Bilans de compétences",
        "vae": "Actions permettant de faire valider les acquis de l'expérience (VAE)",
        "apprentissage": "Actions de formation par apprentissage",
    }
)

#: A record spanning more physical lines than this is taken as an unclosed quote.
MAX_RECORD_LINES = 20

#: Bytes read from the file at a time.
_CHUNK_SIZE = 1 << 16
#: Characters of whole lines read at a time by the fast path (see _LineFeed).
_BLOCK_CHARS = 1 << 16
#: Longest header line accepted (the real one is ~1,300 characters).
_MAX_HEADER_CHARS = 16_384

_BOOLEANS: dict[str, bool] = {
    "": False,
    "true": True,
    "false": False,
    "oui": True,
    "non": False,
    "vrai": True,
    "faux": False,
    "1": True,
    "0": False,
}
# The spellings met in practice, so the common case is one dict lookup without .lower().
_BOOLEANS.update({k.upper(): v for k, v in list(_BOOLEANS.items())})
_BOOLEANS.update({k.capitalize(): v for k, v in list(_BOOLEANS.items())})

_PREVIOUS_NDA_SEPARATORS = str.maketrans({",": " ", "|": " ", "/": " ", ";": " ", "\n": " "})

#: Thousands separators met in numbers ("1 234").
_SPACES = str.maketrans("", "", " \u00a0\u202f")

_UNCLOSED_QUOTE = "guillemet ouvrant sans guillemet fermant : ligne ignorée"
_CSV_ERROR = "ligne illisible : structure CSV incorrecte"
_BAD_ENCODING = "caractères illisibles : la ligne n'est pas encodée en UTF-8 valide"


class NotAPublicList(ValueError):
    """The stream is not the public list (empty, HTML page, other CSV...); French message."""


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line skipped by the parser: physical line number (header = 1) and French reason.

    ``nda`` is the NDA the line still shows when the rest of it cannot be read (None when
    even the NDA is unreadable): the importer then keeps what the previous list said of
    that OF. It is not part of the comparison (a rejection is its line and its reason).
    """

    line_number: int
    reason: str
    nda: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LineNote:
    """Something worth reporting about a line that was kept (e.g. a SIRET of another
    SIREN): physical line number and French message."""

    line_number: int
    message: str


class HeaderLayout(NamedTuple):
    """Where the columns of the portal are in a file, read from its header by name."""

    #: For each of EXPECTED_COLUMNS, its index in the file's rows (None: absent).
    positions: tuple[int | None, ...]
    #: Fields of a row of the file (without the trailing ``;``).
    width: int
    #: Columns of the file the portal does not read, in file order.
    ignored: tuple[str, ...]
    #: Optional columns (not in REQUIRED_COLUMNS) the file lacks, in the expected order.
    missing: tuple[str, ...]

    @property
    def canonical(self) -> bool:
        """The DGEFP layout exactly: the 30 columns, in order, nothing else."""
        return self.width == N_COLUMNS and self.positions == _IDENTITY


class Specialite(NamedTuple):
    """One declared training speciality (NSF code and label)."""

    code: str
    libelle: str


class ListRow(NamedTuple):
    """The columns the history needs, read by ``PublicListReader(..., light=True)``.

    Checked exactly like a :class:`ListEntry` (same rejections), but the street, the
    financial year, the specialities and the foreign organisation are not decoded: importing
    160,000 rows a day goes faster. The activity figures are (the history keeps them).
    """

    line_number: int
    nda: str
    previous_ndas: tuple[str, ...]
    denomination: str
    siren: str
    siret: str
    postal_code: str
    city: str
    region_code: str
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool
    date_derniere_declaration: date | None
    nb_stagiaires: int | None
    nb_stagiaires_confies: int | None
    effectif_formateurs: int | None


# ListRow from a tuple of its values, without the Python-level NamedTuple.__new__ (hot path).
_new_list_row = partial(tuple.__new__, ListRow)


@dataclass(slots=True)
class ListEntry:
    """One row of the public list: one training provider (one NDA).

    Text fields are ``""`` when the column is empty. ``siren`` and ``siret`` are the raw
    trimmed values, not validated (see :attr:`has_valid_siren`). The four ``bool`` fields
    ``actions_formation``, ``bilans_competences``, ``vae`` and ``apprentissage`` are the
    certifications per category (keys of :data:`CATEGORIES`).
    """

    nda: str
    previous_ndas: tuple[str, ...]
    denomination: str
    siren: str
    siret: str
    street: str
    postal_code: str
    city: str
    region_code: str
    actions_formation: bool
    bilans_competences: bool
    vae: bool
    apprentissage: bool
    foreign_denomination: str
    foreign_street: str
    foreign_postal_code: str
    foreign_city: str
    foreign_country: str
    date_derniere_declaration: date | None
    debut_exercice: date | None
    fin_exercice: date | None
    specialites: tuple[Specialite, ...]
    nb_stagiaires: int | None
    nb_stagiaires_confies: int | None
    effectif_formateurs: int | None
    #: Physical line of the file where the row starts (header = 1).
    line_number: int = 0

    @property
    def certifications(self) -> dict[str, bool]:
        """Category key → certified, in the order of :data:`CATEGORIES`."""
        return {
            "actions_formation": self.actions_formation,
            "bilans_competences": self.bilans_competences,
            "vae": self.vae,
            "apprentissage": self.apprentissage,
        }

    @property
    def certified_categories(self) -> tuple[str, ...]:
        """Keys of the categories the provider is certified for (possibly empty)."""
        return tuple(key for key, certified in self.certifications.items() if certified)

    @property
    def is_certified(self) -> bool:
        """Certified (Qualiopi) for at least one category."""
        return self.actions_formation or self.bilans_competences or self.vae or self.apprentissage

    @property
    def has_valid_siren(self) -> bool:
        return is_valid_siren(self.siren)

    @property
    def has_valid_siret(self) -> bool:
        return is_valid_siret(self.siret)


class _Rejected(Exception):
    """Internal: the current row must be rejected for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _UnclosedQuote(Exception):
    """Internal: a record grew past MAX_RECORD_LINES lines."""


class _KeepOpen:
    """Proxy of the caller's binary stream that TextIOWrapper cannot close.

    Closing (or garbage-collecting) the TextIOWrapper would otherwise close the caller's
    stream; the caller owns it.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def close(self) -> None:
        """Leave the caller's stream open."""

    def flush(self) -> None:
        """Nothing to flush: the stream is only read."""


class _LineFeed:
    """The text lines of the file after the header, read by blocks of ~_BLOCK_CHARS.

    The fast path takes whole blocks (:meth:`take`) and gives back the lines it did not
    handle (:meth:`give_back`); the careful path (:class:`_LineSource`) reads the same
    lines one at a time by iterating over the feed. Either way each line is read once from
    the file, in order.
    """

    __slots__ = ("_lines", "_pos", "_text", "unterminated")

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self._lines: list[str] = []
        self._pos = 0
        # The last line read has no line end (so it is the file's last, and was cut?).
        self.unterminated = False

    def _read(self) -> list[str]:
        lines = self._text.readlines(_BLOCK_CHARS)
        if lines:
            self.unterminated = not lines[-1].endswith("\n")
        return lines

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self._pos >= len(self._lines):
            self._lines, self._pos = self._read(), 0
            if not self._lines:
                raise StopIteration
        line = self._lines[self._pos]
        self._pos += 1
        return line

    def take(self) -> tuple[list[str], bool]:
        """The lines not read yet from the current block, then the next block; and whether
        the file ends after them (no lines at all: the file has ended)."""
        lines = self._lines[self._pos :]
        more = self._read()
        self._lines, self._pos = [], 0
        return (lines + more if lines else more), not more

    def give_back(self, lines: list[str]) -> None:
        """Lines taken but not handled: they are read again first."""
        self._lines, self._pos = lines, 0


class _LineSource:
    """Iterator of text lines for csv.reader that knows where each record starts.

    It numbers physical lines, remembers the lines of the record being read (so they can
    be parsed again after an unclosed quote), flags undecodable bytes (U+FFFD), and stops a
    record that runs past MAX_RECORD_LINES lines.
    """

    __slots__ = ("_lines", "_pending", "bad_encoding", "next_line", "record", "record_start")

    def __init__(self, lines: Iterator[str], first_line: int) -> None:
        # next_line: physical number of the next line to read (the fast path advances it
        # too, by the lines it handles).
        self._lines = lines
        self._pending: deque[str] = deque()
        self.next_line = first_line
        self.record: list[str] = []
        self.record_start = first_line
        self.bad_encoding = False

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        line = self._pending.popleft() if self._pending else next(self._lines)
        record = self.record
        if not record:
            self.record_start = self.next_line
        record.append(line)
        self.next_line += 1
        if "\ufffd" in line:
            self.bad_encoding = True
        if len(record) > MAX_RECORD_LINES:
            raise _UnclosedQuote
        return line

    @property
    def replaying(self) -> bool:
        """Lines of a rejected record are still to be read again."""
        return bool(self._pending)

    def end_record(self) -> None:
        self.record = []
        self.bad_encoding = False

    def replay_after_first_line(self) -> None:
        """Drop the current record's first line and read its other lines again."""
        replay = self.record[1:]
        self._pending.extendleft(reversed(replay))
        self.next_line = self.record_start + 1
        self.end_record()


_UNSEEN = object()


def _reorderer(layout: HeaderLayout) -> Callable[[list[str]], Sequence[str]]:
    """A row of the file (``layout.width`` fields) → its values in EXPECTED_COLUMNS order,
    an absent optional column reading as empty."""
    width = layout.width
    getter = itemgetter(*(width if i is None else i for i in layout.positions))

    def reorder(row: list[str]) -> Sequence[str]:
        row.append("")  # what an absent column reads
        return getter(row)

    return reorder


def _parse_date(value: str, cache: dict[str, date | None]) -> date | None:
    try:
        return cache[value]
    except KeyError:
        pass
    parsed: date | None = None
    try:
        if len(value) == 10 and value[2] == "/" and value[5] == "/":
            parsed = date(int(value[6:]), int(value[3:5]), int(value[:2]))
        elif len(value) == 10 and value[4] == "-" and value[7] == "-":
            parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if len(cache) < 100_000:
        cache[value] = parsed
    return parsed


def _parse_int(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return int(value.translate(_SPACES))
    except ValueError:
        return None


def _parse_nda(value: str) -> str:
    if len(value) == 11 and value.isascii() and value.isdigit():
        return value
    if not value:
        raise _Rejected("numéro de déclaration d'activité absent")
    compact = normalize(value)
    if len(compact) == 11 and compact.isascii() and compact.isdigit():
        return compact
    raise _Rejected(f'numéro de déclaration d\'activité illisible : "{value}"')


def _parse_previous_ndas(value: str, nda: str) -> tuple[str, ...]:
    if not value:
        return ()
    if len(value) == 11 and value.isascii() and value.isdigit():
        return () if value == nda else (value,)
    found: list[str] = []
    for token in value.translate(_PREVIOUS_NDA_SEPARATORS).split():
        if (
            len(token) == 11
            and token.isascii()
            and token.isdigit()
            and token != nda
            and token not in found
        ):
            found.append(token)
    return tuple(found)


def _parse_bool(value: str, column_index: int) -> bool:
    try:
        return _BOOLEANS[value]
    except KeyError:
        pass
    lowered = value.lower()
    if lowered in _BOOLEANS:
        return _BOOLEANS[lowered]
    column = EXPECTED_COLUMNS[column_index]
    raise _Rejected(
        f'valeur illisible dans la colonne {column} : "{value}" (attendu true ou false)'
    )


def _header_error(names: list[str], raw_line: str) -> str | None:
    """French reason why ``names`` is not a header of the public list, or None if it is."""
    try:
        header_layout(names, raw_line)
    except NotAPublicList as error:
        return str(error)
    return None


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"« {name} »" for name in names)


def header_layout(names: Sequence[str], raw_line: str = "") -> HeaderLayout:
    """The layout of a file from its header's names (trimmed, trailing empty name removed).

    Columns are read by their name: another order or added columns are accepted (the
    added ones are listed in ``ignored``); a file lacking one of REQUIRED_COLUMNS is not
    the public list as the portal needs it. Raises :class:`NotAPublicList` (French).
    """
    if names == list(EXPECTED_COLUMNS) or tuple(names) == EXPECTED_COLUMNS:
        return HeaderLayout(_IDENTITY, N_COLUMNS, (), ())
    start = (raw_line or (names[0] if names else "")).lstrip().lower()
    if start.startswith("<"):
        raise NotAPublicList(
            "Le fichier reçu est une page HTML (ou XML), pas la liste publique des organismes "
            "de formation au format CSV : le téléchargement a probablement échoué."
        )
    if len(names) <= 1:
        raise NotAPublicList(
            "Le fichier n'est pas la liste publique des organismes de formation : son en-tête "
            f"ne contient pas les {N_COLUMNS} colonnes attendues séparées par des points-virgules."
        )
    index_of: dict[str, int] = {}
    doubled: list[str] = []
    for index, name in enumerate(names):
        if name in index_of and name in _EXPECTED_SET and name not in doubled:
            doubled.append(name)
        index_of.setdefault(name, index)
    absent = [name for name in REQUIRED_COLUMNS if name not in index_of]
    if absent:
        if len(absent) == 1:
            which = f"colonne {_quoted(absent)} absente"
        elif len(absent) <= 3:
            which = f"colonnes {_quoted(absent)} absentes"
        else:
            which = f"{len(absent)} colonnes absentes, dont {_quoted(absent[:3])}"
        raise NotAPublicList(
            "L'en-tête ne correspond pas à la liste publique des organismes de formation : "
            f"{which} (le portail en a besoin)."
        )
    if doubled:
        raise NotAPublicList(
            "L'en-tête ne correspond pas à la liste publique des organismes de formation : "
            f"{_quoted(doubled)} en double, impossible de savoir laquelle lire."
        )
    positions = tuple(index_of.get(name) for name in EXPECTED_COLUMNS)
    ignored = tuple(name or "(sans nom)" for name in names if name not in _EXPECTED_SET)
    missing = tuple(name for name in EXPECTED_COLUMNS if name not in index_of)
    return HeaderLayout(positions, len(names), ignored, missing)


_EXPECTED_SET = frozenset(EXPECTED_COLUMNS)


def readable_nda(text: str) -> str | None:
    """The NDA a field still shows (quotes, spaces, dots and dashes aside), or None."""
    value = text.strip()
    if len(value) == 11 and value.isascii() and value.isdigit():
        return value
    compact = normalize(value.strip('"'))
    if len(compact) == 11 and compact.isascii() and compact.isdigit():
        return compact
    return None


class PublicListReader:
    """Read the public list from a binary stream, one :class:`ListEntry` at a time.

    The header is read and checked on construction (:class:`NotAPublicList` otherwise).
    Iterate once over the reader to get the entries; meanwhile and afterwards:

    * :attr:`rejected`: the :class:`RejectedLine` objects, in file order;
    * :attr:`notes`: the :class:`LineNote` objects of lines kept (a SIRET of another SIREN);
    * :attr:`repaired`: lines whose SIREN or SIRET was completed (a lost leading zero, a
      SIRET column holding only the NIC; see ``repair_list_identifiers``);
    * :attr:`rows_read`: data rows read (accepted + rejected; blank lines not counted);
    * :attr:`entries_read`: entries yielded;
    * :attr:`lines_read`: physical lines read, header included;
    * :attr:`layout`: where the columns are (read by name from the header: ``ignored``
      and ``missing`` say what differs from the DGEFP layout);
    * :attr:`cut_last_line`: after the iteration, the number of the last line when the
      file ends in the middle of it (no final line end, and that line rejected: a download
      cut short), else None.

    The caller's stream is never closed by the reader.
    """

    def __init__(
        self, stream: BinaryIO, *, encoding: str = "utf-8-sig", light: bool = False
    ) -> None:
        if isinstance(stream, io.TextIOBase):
            raise TypeError("PublicListReader needs a binary stream (open the file with 'rb')")
        self.rejected: list[RejectedLine] = []
        self.notes: list[LineNote] = []
        self.repaired = 0
        self.rows_read = 0
        self.entries_read = 0
        self.cut_last_line: int | None = None
        # newline="\n": a line ends with LF only (CRLF is one line end, csv removes the CR),
        # so line numbers match `wc -l` and a stray CR inside a field cannot split a record.
        self._text = io.TextIOWrapper(
            _KeepOpen(stream),  # type: ignore[arg-type]
            encoding=encoding,
            errors="replace",
            newline="\n",
        )
        self._text._CHUNK_SIZE = _CHUNK_SIZE  # type: ignore[attr-defined]
        self._trailing_separator = self._read_header()
        layout = self.layout
        self._nda_index: int = layout.positions[0]  # type: ignore[assignment]  (required)
        self._reorder = None if layout.canonical else _reorderer(layout)
        self._feed = _LineFeed(self._text)
        self._source = _LineSource(self._feed, first_line=2)
        self._dates: dict[str, date | None] = {}
        self._light = light
        self._entries = self._iter_entries()

    @property
    def lines_read(self) -> int:
        return self._source.next_line - 1

    def __iter__(self) -> Iterator[ListEntry]:  # ListRow objects when light=True
        return self._entries

    def __next__(self) -> ListEntry:
        return next(self._entries)

    def __enter__(self) -> PublicListReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading (the caller's stream stays open)."""
        self._entries.close()

    # -- header ---------------------------------------------------------------------------

    def _read_header(self) -> bool:
        """Check the header; return whether it ends with a separator (trailing ``;``)."""
        line = self._text.readline(_MAX_HEADER_CHARS)
        if not line.strip():
            following = self._text.read(512)
            if not following.strip():
                raise NotAPublicList(
                    "Le fichier est vide : ce n'est pas la liste publique des organismes "
                    "de formation."
                )
            # Something after a blank first line: say what it looks like.
            raise NotAPublicList(
                _header_error([following.strip()], following)
                or "Le fichier ne commence pas par l'en-tête de la liste publique."
            )
        if len(line) >= _MAX_HEADER_CHARS and not line.endswith("\n"):
            raise NotAPublicList(
                "Le fichier n'est pas la liste publique des organismes de formation : "
                "sa première ligne est bien trop longue pour être l'en-tête attendu."
            )
        try:
            raw_names = next(csv.reader([line], delimiter=";"), [])
        except csv.Error:
            raw_names = [line]
        names = [name.strip().lstrip("\ufeff").strip() for name in raw_names]
        trailing = len(names) > 1 and names[-1] == ""
        if trailing:
            names.pop()
        self.layout = header_layout(names, line)
        return trailing

    # -- rows -----------------------------------------------------------------------------

    def _reject(self, line_number: int, reason: str, nda: str | None = None) -> None:
        self.rejected.append(RejectedLine(line_number, reason, nda))

    def _nda_of_fields(self, fields: list[str]) -> str | None:
        """The NDA of a rejected row read as ``fields`` (in the file's order)."""
        index = self._nda_index
        return readable_nda(fields[index]) if len(fields) > index else None

    def _nda_of_line(self, line: str) -> str | None:
        """The NDA of a line that csv could not read: its field, when no quote comes
        before it (a quote there could move the separators)."""
        index = self._nda_index
        fields = line.split(";", index + 1)
        if len(fields) <= index or any('"' in value for value in fields[:index]):
            return None
        return readable_nda(fields[index].rstrip("\r\n"))

    def _mark_cut_last_line(self) -> None:
        """At the end of the file: the last line had no line end and was rejected."""
        last = self._source.next_line - 1
        if self._feed.unterminated and any(r.line_number == last for r in self.rejected[-3:]):
            self.cut_last_line = last

    def _iter_entries(self) -> Iterator[ListEntry]:
        """The entries, block by block: the fast path, and the careful one for odd records.

        The fast path reads each line of a block as one record. A line without ``"``, CR
        (but its line end) or an overlong field is one record whose fields are exactly
        those of ``str.split(";")``, as csv would read them. Any other line is read by csv
        alone, followed by an empty line: if csv consumed only the line (``line_num`` 1),
        the record holds on it and csv gave the same row (or error) as it would in the file.
        On a single line both paths read the same row, so the checks below are those of
        ``_careful`` with ``multiline`` false. A record that goes on past its line (a quoted
        line break, or a quote never closed) is left to ``_careful``, from its first line.
        A file whose columns are not the DGEFP layout has its rows put in that order first.
        """
        feed, source = self._feed, self._source
        careful_reader = csv.reader(source, delimiter=";")
        trailing = self._trailing_separator
        build = self._build_light if self._light else self._build
        width = self.layout.width
        reorder = self._reorder
        # Fields split apart at most: the rest of the line stays in one last piece.
        max_split = width + 1
        rejected = self.rejected
        field_limit = csv.field_size_limit()
        while True:
            lines, _ = feed.take()
            if not lines:
                self._mark_cut_last_line()
                return
            first = source.next_line  # physical number of lines[0]
            odd_bytes = "\ufffd" in "".join(lines)  # U+FFFD: undecodable bytes somewhere
            careful_from = None
            for index, line in enumerate(lines):
                start = first + index
                body = line.rstrip("\r\n")  # csv ends the record at the first CR or LF
                if '"' in body or "\r" in body or len(body) > field_limit:
                    probe = csv.reader((line, ""), delimiter=";")
                    try:
                        row = next(probe)
                    except csv.Error:
                        if probe.line_num != 1:
                            careful_from = index
                            break
                        # Met within this line's characters: what follows cannot change it.
                        self.rows_read += 1
                        rejected.append(RejectedLine(start, _CSV_ERROR, self._nda_of_line(line)))
                        continue
                    if probe.line_num != 1:  # the record goes on past this line
                        careful_from = index
                        break
                    fields = len(row)
                    last_field = row[-1] if row else ""
                else:
                    row = body.split(";", max_split)
                    if len(row) > max_split:  # row[-1]: the rest of the line, unsplit
                        rest = row[-1]
                        fields = max_split + 1 + rest.count(";")
                        last_field = rest[rest.rfind(";") + 1 :]
                    else:
                        fields = len(row)
                        last_field = row[-1]
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line: skipped silently
                self.rows_read += 1
                # The empty field after a trailing ";" is not a column.
                if trailing:
                    if last_field.strip() == "":
                        fields -= 1
                elif fields == width + 1 and last_field.strip() == "":
                    fields -= 1
                if fields != width:
                    rejected.append(
                        RejectedLine(
                            start, f"{fields} champs au lieu de {width}", self._nda_of_fields(row)
                        )
                    )
                    continue
                if odd_bytes and "\ufffd" in line:
                    rejected.append(RejectedLine(start, _BAD_ENCODING, self._nda_of_fields(row)))
                    continue
                if len(row) > width:
                    del row[width:]  # that trailing empty field
                if reorder is not None:
                    row = reorder(row)
                try:
                    entry = build(row, start, False)
                except _Rejected as exc:
                    rejected.append(RejectedLine(start, exc.reason, readable_nda(row[0])))
                    continue
                self.entries_read += 1
                yield entry
            if careful_from is None:
                source.next_line = first + len(lines)
                continue
            source.next_line = first + careful_from
            feed.give_back(lines[careful_from:])
            del lines
            if (yield from self._careful(careful_reader)):
                self._mark_cut_last_line()
                return

    def _careful(self, reader: Iterator[list[str]]) -> Generator[ListEntry, None, bool]:
        """Read records line by line through the _LineSource, from the current line, until
        one ends with no line left to read again; return True at the end of the file."""
        source = self._source
        trailing = self._trailing_separator
        build = self._build_light if self._light else self._build
        width = self.layout.width
        reorder = self._reorder
        first = True
        while first or source.replaying:
            first = False
            try:
                row = next(reader)
            except StopIteration:
                return True
            except _UnclosedQuote:
                self.rows_read += 1
                nda = self._nda_of_line(source.record[0]) if source.record else None
                self._reject(source.record_start, _UNCLOSED_QUOTE, nda)
                source.replay_after_first_line()
                continue
            except csv.Error:
                self.rows_read += 1
                nda = self._nda_of_line(source.record[0]) if source.record else None
                self._reject(source.record_start, _CSV_ERROR, nda)
                if len(source.record) > 1:
                    source.replay_after_first_line()
                else:
                    source.end_record()
                continue

            start = source.record_start
            multiline = len(source.record) > 1
            bad_encoding = source.bad_encoding
            if not multiline:
                source.end_record()
            # Blank line (csv gives [] or [" "]): skip silently.
            if not row or (len(row) == 1 and not row[0].strip()):
                if multiline:
                    source.end_record()
                continue
            self.rows_read += 1

            if trailing:
                if row[-1].strip() == "":
                    row.pop()
            elif len(row) == width + 1 and row[-1].strip() == "":
                row.pop()
            if len(row) != width:
                if multiline:
                    # Most likely a quote opened and never closed: keep the lines after it.
                    self._reject(start, _UNCLOSED_QUOTE, self._nda_of_fields(row))
                    source.replay_after_first_line()
                else:
                    self._reject(
                        start, f"{len(row)} champs au lieu de {width}", self._nda_of_fields(row)
                    )
                continue
            if multiline:
                source.end_record()
            if bad_encoding:
                self._reject(start, _BAD_ENCODING, self._nda_of_fields(row))
                continue
            if reorder is not None:
                row = reorder(row)
            try:
                entry = build(row, start, multiline)
            except _Rejected as exc:
                self._reject(start, exc.reason, readable_nda(row[0]))
                continue
            self.entries_read += 1
            yield entry
        return False

    def _identifiers(self, siren: str, siret: str, line_number: int) -> tuple[str, str]:
        """The line's SIREN and SIRET, repaired (see repair_list_identifiers); a SIRET of
        another SIREN is noted."""
        repaired_siren, repaired_siret, note = repair_list_identifiers(siren, siret)
        if repaired_siren is not siren or repaired_siret is not siret:
            self.repaired += 1
        if note is not None:
            self.notes.append(LineNote(line_number, note))
        return repaired_siren, repaired_siret

    def _build_light(self, row: list[str], line_number: int, multiline: bool) -> ListRow:
        if multiline:  # fold line breaks inside quoted values, as _build does
            nda, previous, denomination, siren, siret, _street, postal_code, city, region_code = (
                " ".join(v.split()) for v in row[:9]
            )
        else:
            nda, previous, denomination, siren, siret, _street, postal_code, city, region_code = (
                map(str.strip, row[:9])
            )
        if len(nda) != 11 or not nda.isdigit() or not nda.isascii():
            nda = _parse_nda(nda)
        # The common case (9 and 14 digits, the SIRET of the SIREN) without a call.
        if len(siren) != 9 or len(siret) != 14 or not siret.startswith(siren):
            siren, siret = self._identifiers(siren, siret, line_number)
        # The usual spellings are keys of _BOOLEANS as they are; otherwise trim and check.
        c_formation, c_bilans, c_vae, c_apprentissage = row[9:13]
        formation = _BOOLEANS.get(c_formation)
        if formation is None:
            formation = _parse_bool(c_formation.strip(), 9)
        bilans = _BOOLEANS.get(c_bilans)
        if bilans is None:
            bilans = _parse_bool(c_bilans.strip(), 10)
        vae = _BOOLEANS.get(c_vae)
        if vae is None:
            vae = _parse_bool(c_vae.strip(), 11)
        apprentissage = _BOOLEANS.get(c_apprentissage)
        if apprentissage is None:
            apprentissage = _parse_bool(c_apprentissage.strip(), 12)
        d_declaration, c_trainees, c_entrusted, c_trainers = (
            row[18].strip(),
            row[27].strip(),
            row[28].strip(),
            row[29].strip(),
        )
        declared = self._dates.get(d_declaration, _UNSEEN) if d_declaration else None
        if declared is _UNSEEN:
            declared = _parse_date(d_declaration, self._dates)
        return _new_list_row(
            (
                line_number,
                nda,
                _parse_previous_ndas(previous, nda) if previous else (),
                denomination,
                siren,
                siret,
                postal_code,
                city,
                region_code,
                formation,
                bilans,
                vae,
                apprentissage,
                declared,
                # Plain digits (nearly all counts) without a call; _parse_int for the rest.
                int(c_trainees) if c_trainees.isdigit() else _parse_int(c_trainees),
                int(c_entrusted) if c_entrusted.isdigit() else _parse_int(c_entrusted),
                int(c_trainers) if c_trainers.isdigit() else _parse_int(c_trainers),
            )
        )

    def _build(self, row: list[str], line_number: int, multiline: bool) -> ListEntry:
        if multiline:
            # A line break inside a quoted value: fold it (and any run of spaces) to one space.
            values = [" ".join(value.split()) for value in row]
        else:
            values = list(map(str.strip, row))
        (
            nda,
            previous,
            denomination,
            siren,
            siret,
            street,
            postal_code,
            city,
            region_code,
            c_formation,
            c_bilans,
            c_vae,
            c_apprentissage,
            foreign_denomination,
            foreign_street,
            foreign_postal_code,
            foreign_city,
            foreign_country,
            d_declaration,
            d_debut,
            d_fin,
            code1,
            libelle1,
            code2,
            libelle2,
            code3,
            libelle3,
            nb_stagiaires,
            nb_confies,
            effectif,
        ) = values
        nda = _parse_nda(nda)
        siren, siret = self._identifiers(siren, siret, line_number)
        dates = self._dates
        specialites: tuple[Specialite, ...] = ()
        if code1 or libelle1 or code2 or libelle2 or code3 or libelle3:
            specialites = tuple(
                Specialite(code, libelle)
                for code, libelle in ((code1, libelle1), (code2, libelle2), (code3, libelle3))
                if code or libelle
            )
        return ListEntry(
            nda=nda,
            previous_ndas=_parse_previous_ndas(previous, nda),
            denomination=denomination,
            siren=siren,
            siret=siret,
            street=street,
            postal_code=postal_code,
            city=city,
            region_code=region_code,
            actions_formation=_parse_bool(c_formation, 9),
            bilans_competences=_parse_bool(c_bilans, 10),
            vae=_parse_bool(c_vae, 11),
            apprentissage=_parse_bool(c_apprentissage, 12),
            foreign_denomination=foreign_denomination,
            foreign_street=foreign_street,
            foreign_postal_code=foreign_postal_code,
            foreign_city=foreign_city,
            foreign_country=foreign_country,
            date_derniere_declaration=_parse_date(d_declaration, dates) if d_declaration else None,
            debut_exercice=_parse_date(d_debut, dates) if d_debut else None,
            fin_exercice=_parse_date(d_fin, dates) if d_fin else None,
            specialites=specialites,
            nb_stagiaires=_parse_int(nb_stagiaires),
            nb_stagiaires_confies=_parse_int(nb_confies),
            effectif_formateurs=_parse_int(effectif),
            line_number=line_number,
        )


def parse(
    stream: BinaryIO, *, encoding: str = "utf-8-sig", light: bool = False
) -> PublicListReader:
    """Check the header of ``stream`` and return a reader iterating over its entries.

    Same as ``PublicListReader(stream)``; raises :class:`NotAPublicList` on a wrong header.
    """
    return PublicListReader(stream, encoding=encoding, light=light)
