"""Which pieces a dossier expects, for which period, by when: pure rules.

- Invoices: one per payment. Monthly payment (the rule for a PTP): one per calendar month
  of training; payment on completion: one for the whole action; by instalments: one per
  instalment, the action's period cut into that many consecutive parts.
- Certificats de réalisation: for a PTP, one per calendar month of training (Transitions
  Pro asks for it every month); otherwise one per payment period.
- Attendance sheets: those of each payment period (monthly for a PTP).
- Expense statements are not expected by default: they come with some invoices.

An expected slot is met by the current pieces of its kind that **together** cover its period
(weekly or fortnightly attendance sheets, two certificats for one month): one piece or
several, in any order, overlapping or not; the days of the period that none covers are
its gaps, named with their dates. The calendar, the reminders (`first_missing_due`) and
the service-fait checks read coverage the same way. A slot is due DUE_AFTER_DAYS days
after its period ends (*to confirm* with each funder: a setting of this module, shown in
the OF's space).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from portal import formatting
from portal.models.dossiers import PaymentRhythm, PieceKind, Scheme

DUE_AFTER_DAYS = 15


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # included

    def covers(self, other: Period) -> bool:
        return self.start <= other.start and self.end >= other.end

    def label(self) -> str:
        return formatting.period(self.start, self.end)


def month_periods(start: date, end: date) -> list[Period]:
    """The calendar months of [start, end], clipped to it."""
    periods = []
    first = start
    while first <= end:
        last_day = calendar.monthrange(first.year, first.month)[1]
        month_end = date(first.year, first.month, last_day)
        periods.append(Period(first, min(month_end, end)))
        first = month_end + timedelta(days=1)
    return periods


def instalment_periods(start: date, end: date, count: int) -> list[Period]:
    """[start, end] cut into `count` consecutive parts as even as days allow."""
    days = (end - start).days + 1
    count = max(1, min(count, days))
    periods = []
    first = start
    for index in range(count):
        length = days // count + (1 if index < days % count else 0)
        last = first + timedelta(days=length - 1)
        periods.append(Period(first, last))
        first = last + timedelta(days=1)
    return periods


def payment_periods(
    rhythm: str, start: date, end: date, instalments: int | None = None
) -> list[Period]:
    if rhythm == PaymentRhythm.MONTHLY:
        return month_periods(start, end)
    if rhythm == PaymentRhythm.INSTALMENTS:
        return instalment_periods(start, end, instalments or 1)
    return [Period(start, end)]


@dataclass(frozen=True)
class Expected:
    kind: PieceKind
    period: Period

    @property
    def due(self) -> date:
        return self.period.end + timedelta(days=DUE_AFTER_DAYS)


def expected_pieces(
    scheme: str, rhythm: str, start: date, end: date, instalments: int | None = None
) -> list[Expected]:
    payments = payment_periods(rhythm, start, end, instalments)
    certificates = month_periods(start, end) if scheme == Scheme.PTP else payments
    expected = [Expected(PieceKind.INVOICE, p) for p in payments]
    expected += [Expected(PieceKind.COMPLETION_CERTIFICATE, p) for p in certificates]
    expected += [Expected(PieceKind.ATTENDANCE_SHEET, p) for p in payments]
    return sorted(expected, key=lambda e: (e.period, list(PieceKind).index(e.kind)))


class PieceLike(Protocol):
    id: int
    kind: str
    period_start: date
    period_end: date


class SlotStatus(StrEnum):
    RECEIVED = "recu"
    MISSING = "manquant"  # due date passed, nothing received
    EXPECTED = "attendu"  # period started, not yet due
    UPCOMING = "a_venir"  # period not started


SLOT_STATUS_LABELS = {
    SlotStatus.RECEIVED: "Reçu",
    SlotStatus.MISSING: "Manquant",
    SlotStatus.EXPECTED: "À envoyer",
    SlotStatus.UPCOMING: "À venir",
}


@dataclass(frozen=True)
class Slot:
    expected: Expected
    piece_ids: tuple[int, ...]  # the pieces of its kind within its period (all or part)
    status: SlotStatus
    gaps: tuple[Period, ...] = ()  # the days no piece covers, when some piece came

    @property
    def has_started(self) -> bool:
        """Its period has started: the piece may be sent."""
        return self.status != SlotStatus.UPCOMING

    @property
    def to_send(self) -> Period | None:
        """The period still to send: the first gap, the whole period, or None (received)."""
        if self.status == SlotStatus.RECEIVED:
            return None
        return self.gaps[0] if self.gaps else self.expected.period

    @property
    def gaps_label(self) -> str:
        """« non couvert du 15/03/2026 au 21/03/2026 » ("" when nothing or all came)."""
        if not self.gaps:
            return ""
        parts = [
            f"le {formatting.date_fr(g.start)}"
            if g.start == g.end
            else formatting.period(g.start, g.end)
            for g in self.gaps
        ]
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]
        return f"non couvert {text}"


def uncovered(period: Period, pieces: Iterable[PieceLike]) -> list[Period]:
    """The parts of `period` that no piece's period covers (pieces together), in order."""
    gaps = []
    day = period.start
    for start, end in sorted((p.period_start, p.period_end) for p in pieces):
        if end < day:
            continue
        if start > period.end:
            break
        if start > day:
            gaps.append(Period(day, start - timedelta(days=1)))
        day = max(day, end + timedelta(days=1))
        if day > period.end:
            break
    if day <= period.end:
        gaps.append(Period(day, period.end))
    return gaps


def coverage(item: Expected, pieces: Sequence[PieceLike]) -> tuple[tuple[int, ...], list[Period]]:
    """The pieces of the slot's kind that fall in its period, and what they leave uncovered."""
    within = [
        p
        for p in pieces
        if p.kind == item.kind
        and p.period_start <= item.period.end
        and p.period_end >= item.period.start
    ]
    return tuple(p.id for p in within), uncovered(item.period, within)


def slots(expected: Sequence[Expected], pieces: Iterable[PieceLike], today: date) -> list[Slot]:
    """Each expected piece with the current pieces that meet it, and its status today."""
    pieces = list(pieces)
    result = []
    for item in expected:
        meeting, gaps = coverage(item, pieces)
        if meeting and not gaps:
            status = SlotStatus.RECEIVED
        elif item.due < today:
            status = SlotStatus.MISSING
        elif item.period.start <= today:
            status = SlotStatus.EXPECTED
        else:
            status = SlotStatus.UPCOMING
        result.append(Slot(item, meeting, status, tuple(gaps) if meeting else ()))
    return result


def first_missing_due(expected: Sequence[Expected], pieces: Iterable[PieceLike]) -> date | None:
    """The earliest due date of an expected piece that no piece meets (None: none)."""
    pieces = list(pieces)
    dues = [item.due for item in expected if coverage(item, pieces)[1]]
    return min(dues, default=None)
