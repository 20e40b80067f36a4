"""The expected-pieces calendar, table-driven (the rules of the field, "Service fait")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from portal.dossiers.calendar import (
    DUE_AFTER_DAYS,
    Period,
    SlotStatus,
    expected_pieces,
    first_missing_due,
    instalment_periods,
    month_periods,
    slots,
)
from portal.models.dossiers import PieceKind

D = date


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2026, 1, 5), D(2026, 1, 20), [(D(2026, 1, 5), D(2026, 1, 20))]),
        (
            D(2026, 1, 15),
            D(2026, 3, 10),
            [
                (D(2026, 1, 15), D(2026, 1, 31)),
                (D(2026, 2, 1), D(2026, 2, 28)),
                (D(2026, 3, 1), D(2026, 3, 10)),
            ],
        ),
        # A leap year's February, and a year boundary.
        (
            D(2027, 12, 1),
            D(2028, 2, 29),
            [
                (D(2027, 12, 1), D(2027, 12, 31)),
                (D(2028, 1, 1), D(2028, 1, 31)),
                (D(2028, 2, 1), D(2028, 2, 29)),
            ],
        ),
    ],
)
def test_month_periods(start, end, expected) -> None:
    assert [(p.start, p.end) for p in month_periods(start, end)] == expected


@pytest.mark.parametrize(
    ("start", "end", "count", "expected"),
    [
        (
            D(2026, 1, 1),
            D(2026, 1, 10),
            2,
            [(D(2026, 1, 1), D(2026, 1, 5)), (D(2026, 1, 6), D(2026, 1, 10))],
        ),
        (
            D(2026, 1, 1),
            D(2026, 1, 10),
            3,
            [
                (D(2026, 1, 1), D(2026, 1, 4)),
                (D(2026, 1, 5), D(2026, 1, 7)),
                (D(2026, 1, 8), D(2026, 1, 10)),
            ],
        ),
        (
            D(2026, 1, 1),
            D(2026, 1, 2),
            5,
            [(D(2026, 1, 1), D(2026, 1, 1)), (D(2026, 1, 2), D(2026, 1, 2))],
        ),
    ],
)
def test_instalment_periods(start, end, count, expected) -> None:
    assert [(p.start, p.end) for p in instalment_periods(start, end, count)] == expected


def test_a_ptp_expects_one_certificate_per_month_and_monthly_invoices() -> None:
    expected = expected_pieces("ptp", "mensuel", D(2026, 1, 15), D(2026, 4, 10))
    certificates = [e.period for e in expected if e.kind == PieceKind.COMPLETION_CERTIFICATE]
    invoices = [e.period for e in expected if e.kind == PieceKind.INVOICE]
    sheets = [e.period for e in expected if e.kind == PieceKind.ATTENDANCE_SHEET]
    months = [
        Period(D(2026, 1, 15), D(2026, 1, 31)),
        Period(D(2026, 2, 1), D(2026, 2, 28)),
        Period(D(2026, 3, 1), D(2026, 3, 31)),
        Period(D(2026, 4, 1), D(2026, 4, 10)),
    ]
    assert certificates == invoices == sheets == months
    assert DUE_AFTER_DAYS == 15
    assert expected[0].due == D(2026, 2, 15)  # January's pieces: due mid-February


def test_a_ptp_paid_on_completion_still_sends_a_certificate_every_month() -> None:
    expected = expected_pieces("ptp", "fin_de_formation", D(2026, 1, 1), D(2026, 3, 31))
    kinds = [e.kind for e in expected]
    assert kinds.count(PieceKind.COMPLETION_CERTIFICATE) == 3
    assert kinds.count(PieceKind.INVOICE) == 1


@pytest.mark.parametrize(
    ("scheme", "rhythm", "instalments", "invoices", "certificates"),
    [
        ("cpf", "fin_de_formation", None, 1, 1),
        ("plan", "echeances", 3, 3, 3),
        ("alternance", "mensuel", None, 3, 3),
        ("ptp", "mensuel", None, 3, 3),
    ],
)
def test_counts_by_scheme_and_rhythm(scheme, rhythm, instalments, invoices, certificates) -> None:
    expected = expected_pieces(scheme, rhythm, D(2026, 1, 1), D(2026, 3, 31), instalments)
    kinds = [e.kind for e in expected]
    assert kinds.count(PieceKind.INVOICE) == invoices
    assert kinds.count(PieceKind.COMPLETION_CERTIFICATE) == certificates


@dataclass
class P:
    id: int
    kind: str
    period_start: date
    period_end: date


def test_slots_say_what_is_received_missing_due_or_upcoming() -> None:
    expected = [
        e
        for e in expected_pieces("ptp", "mensuel", D(2026, 1, 1), D(2026, 4, 30))
        if e.kind == PieceKind.COMPLETION_CERTIFICATE
    ]
    pieces = [P(7, "certificat_realisation", D(2026, 1, 1), D(2026, 1, 31))]
    today = D(2026, 3, 20)
    result = slots(expected, pieces, today)
    assert [(s.expected.period.start.month, s.status, s.piece_ids) for s in result] == [
        (1, SlotStatus.RECEIVED, (7,)),
        (2, SlotStatus.MISSING, ()),  # due on 15 March
        (3, SlotStatus.EXPECTED, ()),
        (4, SlotStatus.UPCOMING, ()),
    ]
    assert first_missing_due(expected, pieces) == D(2026, 3, 15)


def test_a_piece_must_cover_the_period_and_be_of_the_right_kind() -> None:
    expected = expected_pieces("cpf", "fin_de_formation", D(2026, 1, 1), D(2026, 2, 28))
    half = [P(1, "certificat_realisation", D(2026, 1, 1), D(2026, 1, 31))]
    wrong_kind = [P(2, "facture", D(2026, 1, 1), D(2026, 2, 28))]
    certificate = next(e for e in expected if e.kind == PieceKind.COMPLETION_CERTIFICATE)
    assert slots([certificate], half, D(2026, 6, 1))[0].status == SlotStatus.MISSING
    assert slots([certificate], wrong_kind, D(2026, 6, 1))[0].status == SlotStatus.MISSING
    everything = [P(3, e.kind.value, e.period.start, e.period.end) for e in expected]
    assert first_missing_due(expected, everything) is None


# --- Several pieces that together cover a period (issue 14) -----------------------------------

MARCH_SHEET = next(
    e
    for e in expected_pieces("ptp", "mensuel", D(2026, 3, 1), D(2026, 3, 31))
    if e.kind == PieceKind.ATTENDANCE_SHEET
)


def sheet(id_: int, start: date, end: date) -> P:
    return P(id_, "feuille_emargement", start, end)


@pytest.mark.parametrize(
    ("pieces", "status", "gaps"),
    [
        # Weekly sheets, the month's ends included: received.
        (
            [
                sheet(1, D(2026, 3, 1), D(2026, 3, 8)),
                sheet(2, D(2026, 3, 9), D(2026, 3, 15)),
                sheet(3, D(2026, 3, 16), D(2026, 3, 22)),
                sheet(4, D(2026, 3, 23), D(2026, 3, 31)),
            ],
            SlotStatus.RECEIVED,
            "",
        ),
        # Fortnightly sheets given in any order, overlapping by a day: received.
        (
            [sheet(2, D(2026, 3, 15), D(2026, 3, 31)), sheet(1, D(2026, 3, 1), D(2026, 3, 15))],
            SlotStatus.RECEIVED,
            "",
        ),
        # A week missing inside the month: named with its dates.
        (
            [sheet(1, D(2026, 3, 1), D(2026, 3, 14)), sheet(2, D(2026, 3, 22), D(2026, 3, 31))],
            SlotStatus.MISSING,
            "non couvert du 15/03/2026 au 21/03/2026",
        ),
        # The last day missing (31 March), and the first (1 March).
        (
            [sheet(1, D(2026, 3, 1), D(2026, 3, 30))],
            SlotStatus.MISSING,
            "non couvert le 31/03/2026",
        ),
        (
            [sheet(1, D(2026, 3, 2), D(2026, 3, 31))],
            SlotStatus.MISSING,
            "non couvert le 01/03/2026",
        ),
        # One sheet over the month and beyond: received.
        ([sheet(1, D(2026, 2, 15), D(2026, 4, 15))], SlotStatus.RECEIVED, ""),
        # Nothing: missing, and no gap to name (the whole period is awaited).
        ([], SlotStatus.MISSING, ""),
    ],
)
def test_several_pieces_together_meet_a_period(pieces, status, gaps) -> None:
    (slot,) = slots([MARCH_SHEET], pieces, D(2026, 6, 1))
    assert slot.status == status
    assert slot.gaps_label == gaps
    # The reminders agree with the calendar.
    due = first_missing_due([MARCH_SHEET], pieces)
    assert (due is None) is (status == SlotStatus.RECEIVED)


def test_february_29_is_a_day_to_cover() -> None:
    (february,) = [
        e
        for e in expected_pieces("ptp", "mensuel", D(2028, 2, 1), D(2028, 2, 29))
        if e.kind == PieceKind.ATTENDANCE_SHEET
    ]
    up_to_28 = [sheet(1, D(2028, 2, 1), D(2028, 2, 28))]
    assert slots([february], up_to_28, D(2028, 6, 1))[0].status == SlotStatus.MISSING
    all_of_it = [*up_to_28, sheet(2, D(2028, 2, 29), D(2028, 2, 29))]
    assert slots([february], all_of_it, D(2028, 6, 1))[0].status == SlotStatus.RECEIVED
