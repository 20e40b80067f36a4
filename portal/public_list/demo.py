"""The demo's history of the public list: one list a week over three months, made from the
bundled demo list, with a few OF losing or gaining a category on given weeks, so that a
fresh install shows past dates, Qualiopi timelines and alerts.

`weekly_lists(text, today)` gives (date, CSV text) of each week, oldest first; the last
one, today's, is the demo list itself. The scenario (`CHANGES`) says, for an NDA, which
category it holds (or whether it is in the list at all) on which weeks; weeks count back
from today (12: twelve weeks ago).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

WEEKS = 12

#: The certification columns of the demo list, by the category keys of the public list.
COLUMNS = {
    "actionsDeFormation": "certifications.actionsDeFormation",
    "bilansDeCompetences": "certifications.bilansDeCompetences",
    "VAE": "certifications.VAE",
    "actionsDeFormationParApprentissage": "certifications.actionsDeFormationParApprentissage",
}
LISTED = "listed"

#: (NDA, category key or LISTED, value, oldest week, newest week): on the lists from
#: `oldest` weeks ago to `newest` weeks ago (both included), `key` is `value`; on the
#: others, it is what the demo list says.
CHANGES: tuple[tuple[str, str, bool, int, int], ...] = (
    # Formapro Occitanie gains apprenticeship ten weeks ago.
    ("76311234567", "actionsDeFormationParApprentissage", False, 12, 11),
    # Atelier des Compétences du Sud loses the VAE three weeks ago, gets it back last week.
    ("76340987654", "VAE", False, 3, 2),
    # Bilans & Parcours Toulouse loses the VAE six weeks ago.
    ("76310555123", "VAE", True, 12, 7),
    # Institut Méditerranée Formation leaves the list five weeks ago, is back two weeks ago.
    ("76341112223", LISTED, False, 5, 3),
    # Compétences Pyrénées is certified for training actions until nine weeks ago.
    ("76320000011", "actionsDeFormation", True, 12, 10),
)


def _value(nda: str, key: str, week: int, today_value: bool) -> bool:
    """The value of `key` for `nda` on the list of `week` weeks ago."""
    for changed, column, value, oldest, newest in CHANGES:
        if changed == nda and column == key and oldest >= week >= newest:
            return value
    return today_value


def weekly_lists(text: str, today: date) -> Iterator[tuple[date, str]]:
    """The demo list of each week, from `WEEKS` weeks ago to today (today's is `text`)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text.removeprefix(bom).splitlines()
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    names = [name.strip() for name in header.split(";")]
    places = {key: names.index(column) for key, column in COLUMNS.items()}
    for week in range(WEEKS, -1, -1):
        out = [header]
        for row in rows:
            cells = row.split(";")
            nda = cells[0]
            if not _value(nda, LISTED, week, True):
                continue
            for key, place in places.items():
                held = cells[place].strip().lower() == "true"
                cells[place] = "true" if _value(nda, key, week, held) else "false"
            out.append(";".join(cells))
        yield today - timedelta(weeks=week), bom + "\r\n".join(out) + "\r\n"
