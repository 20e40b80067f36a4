"""What the control page puts side by side: the dossier's figures period by period, its
pieces, the findings of the automatic checks, the decisions, and the OF's Qualiopi status
on the dates that matter.

Periods are those of the payments (the invoices the calendar expects,
`portal.dossiers.pieces.slots_for`); each current piece goes to the period its own period
starts in, and pieces that start outside the agreed dates to a last row "hors période".
Planned hours and the agreed amount of a period are the dossier's, shared out in
proportion to the period's days: **estimates**, which the page says and which never raise
an anomaly by themselves (the checks compare the hours completed to date with the planned
total, and the hours billed with the hours completed, cumulatively). Durations are whole
minutes.

A handful of queries whatever the dossier's size: pieces, decisions, findings, the OF's
history in the public list, and the dates of the lists imported.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.dossiers.calendar import Period, Slot, SlotStatus
from portal.dossiers.pieces import slots_for
from portal.dossiers.rules import CATEGORY_LABELS
from portal.extensions import db
from portal.models import (
    SEVERITY_LABELS,
    Category,
    CheckFinding,
    Dossier,
    ImportStatus,
    InvoiceDecision,
    ListImport,
    Piece,
    PieceKind,
    Severity,
)
from portal.public_list import lookup
from portal.service_fait.checks import exceeds

CENT = Decimal("0.01")


@dataclass
class PeriodFigures:
    period: Period | None  # None: pieces outside the agreed dates
    planned_minutes: int | None = None  # estimate: pro rata of the days
    agreed_amount: Decimal | None = None  # pro rata of the days
    completed_minutes: int | None = None  # certificats de réalisation
    billed_minutes: int | None = None  # invoices
    attended_minutes: int | None = None  # attendance sheets
    half_days_planned: int | None = None
    half_days_signed: int | None = None
    invoiced: Decimal | None = None
    validated: Decimal | None = None  # active decisions on the invoices of the period
    undecided: int = 0  # invoices of the period without an active decision
    pieces: list[Piece] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)

    @property
    def missing(self) -> list[Slot]:
        return [s for s in self.slots if s.status == SlotStatus.MISSING]

    # The flags of the cells, by the comparisons the checks make (`checks.exceeds`).
    @property
    def invoiced_over_agreed(self) -> bool:
        return exceeds(self.invoiced, self.agreed_amount)

    @property
    def awaited(self) -> list[Slot]:
        """The expected pieces still to come that matter now: missing, or due."""
        return [s for s in self.slots if s.status in AWAITED]

    @property
    def settled(self) -> bool:
        """Nothing is awaited for the period (its calendar can be folded away)."""
        return not self.awaited

    @property
    def billed_over_completed(self) -> bool:
        """More billed than completed on this row's pieces (the check compares cumulatively
        and says which invoices)."""
        return exceeds(self.billed_minutes, self.completed_minutes)

    @property
    def completed_over_planned(self) -> bool:
        """More completed than planned: meaningful on the totals row only (a period's
        planned hours are an estimate)."""
        return exceeds(self.completed_minutes, self.planned_minutes)

    @property
    def label(self) -> str:
        if self.period is None:
            return "Hors de la période de l'accord"
        return self.period.label()


def _add(total: Decimal | int | None, value: Decimal | int | None) -> Decimal | int | None:
    if value is None:
        return total
    return value if total is None else total + value


def _share(amount: Decimal, days: int, all_days: int) -> Decimal:
    return (amount * days / all_days).quantize(CENT) if all_days else amount


def _share_minutes(minutes: int, days: int, all_days: int) -> int:
    return (minutes * days + all_days // 2) // all_days if all_days else minutes


def period_figures(
    dossier: Dossier,
    current: Sequence[Piece],
    decisions: dict[int, InvoiceDecision],
    today: date,
) -> tuple[list[PeriodFigures], PeriodFigures]:
    """The rows, period by period, and the totals row."""
    dossier_slots = slots_for(dossier, today)
    periods = sorted({s.expected.period for s in dossier_slots if s.expected.kind == "facture"})
    all_days = (dossier.end_date - dossier.start_date).days + 1
    rows = [
        PeriodFigures(
            period=p,
            planned_minutes=_share_minutes(
                dossier.planned_minutes, (p.end - p.start).days + 1, all_days
            ),
            agreed_amount=_share(dossier.agreed_amount, (p.end - p.start).days + 1, all_days),
        )
        for p in periods
    ]
    starts = [p.start for p in periods]
    outside = PeriodFigures(period=None)
    for slot in dossier_slots:
        index = bisect.bisect_right(starts, slot.expected.period.start) - 1
        if 0 <= index < len(rows):
            rows[index].slots.append(slot)
    for piece in current:
        index = bisect.bisect_right(starts, piece.period_start) - 1
        inside = 0 <= index < len(rows) and piece.period_start <= periods[index].end
        row = rows[index] if inside else outside
        row.pieces.append(piece)
        if piece.kind == PieceKind.INVOICE:
            row.billed_minutes = _add(row.billed_minutes, piece.minutes_billed)
            row.invoiced = _add(row.invoiced, piece.amount_incl_tax)
            decision = decisions.get(piece.id)
            if decision is None:
                row.undecided += 1
            else:
                row.validated = _add(row.validated, decision.amount_validated)
        elif piece.kind == PieceKind.COMPLETION_CERTIFICATE:
            row.completed_minutes = _add(row.completed_minutes, piece.minutes_completed)
        elif piece.kind == PieceKind.ATTENDANCE_SHEET:
            row.attended_minutes = _add(row.attended_minutes, piece.minutes_attended)
            row.half_days_planned = _add(row.half_days_planned, piece.half_days_planned)
            row.half_days_signed = _add(row.half_days_signed, piece.half_days_signed)
    if outside.pieces:
        rows.append(outside)
    totals = PeriodFigures(
        period=Period(dossier.start_date, dossier.end_date),
        planned_minutes=dossier.planned_minutes,
        agreed_amount=dossier.agreed_amount,
    )
    for row in rows:
        for name in (
            "completed_minutes",
            "billed_minutes",
            "attended_minutes",
            "half_days_planned",
            "half_days_signed",
            "invoiced",
            "validated",
        ):
            setattr(totals, name, _add(getattr(totals, name), getattr(row, name)))
        totals.undecided += row.undecided
    return rows, totals


# --- Pieces, findings, decisions ------------------------------------------------------------


def current_pieces(dossier: Dossier) -> list[Piece]:
    """The dossier's current pieces with their files, by period then kind."""
    order = {kind.value: index for index, kind in enumerate(PieceKind)}
    pieces = db.session.scalars(
        select(Piece)
        .where(Piece.dossier_id == dossier.id, Piece.superseded_at.is_(None))
        .options(joinedload(Piece.document))
    ).all()
    return sorted(pieces, key=lambda p: (p.period_start, order.get(p.kind, 9), p.id))


@dataclass(frozen=True)
class FindingGroup:
    severity: str
    label: str
    findings: list[CheckFinding]


def findings_by_severity(dossier: Dossier) -> list[FindingGroup]:
    """The findings of the last run of the checks, grouped by severity, blocking first."""
    findings = db.session.scalars(
        select(CheckFinding)
        .where(CheckFinding.dossier_id == dossier.id)
        .order_by(CheckFinding.severity_rank, CheckFinding.code, CheckFinding.id)
    ).all()
    groups = []
    for severity in Severity:
        found = [f for f in findings if f.severity == severity.value]
        if found:
            groups.append(FindingGroup(severity.value, SEVERITY_LABELS[severity], found))
    return groups


# --- Qualiopi on the dates that matter -------------------------------------------------------


@dataclass(frozen=True)
class QualiopiOnDate:
    on: date
    reasons: tuple[str, ...]  # why this date matters ("début de l'action"…)
    list_as_of: date | None  # the list in force then (None: no list imported was)
    found: bool  # the OF is in that list
    certified: bool  # for the dossier's category
    categories: tuple[str, ...]  # labels of the categories it was certified for


def qualiopi_dates(dossier: Dossier, invoices: Sequence[Piece]) -> list[tuple[date, str]]:
    """The start of the action, and the first and last day of each invoiced period."""
    dates = [(dossier.start_date, "début de l'action")]
    for invoice in invoices:
        number = f" n° {invoice.invoice_number}" if invoice.invoice_number else ""
        dates.append((invoice.period_start, f"début de la période de la facture{number}"))
        dates.append((invoice.period_end, f"fin de la période de la facture{number}"))
    return dates


def qualiopi_status(dossier: Dossier, invoices: Sequence[Piece]) -> list[QualiopiOnDate]:
    """What the public list in force on each date said of the OF (from the history kept
    of successive lists): two queries."""
    by_date: dict[date, list[str]] = {}
    for on, why in qualiopi_dates(dossier, invoices):
        by_date.setdefault(on, []).append(why)
    versions = lookup.history(dossier.provider.nda)
    list_dates = sorted(
        db.session.scalars(
            select(ListImport.as_of).where(ListImport.status.in_(ImportStatus.IN_FORCE)).distinct()
        )
    )
    result = []
    for on in sorted(by_date):
        index = bisect.bisect_right(list_dates, on) - 1
        as_of = list_dates[index] if index >= 0 else None
        version = None
        if as_of is not None:
            version = next(
                (
                    v
                    for v in versions
                    if v.valid_from <= on and (v.valid_to is None or v.valid_to > on)
                ),
                None,
            )
        categories = version.categories if version is not None else {}
        result.append(
            QualiopiOnDate(
                on=on,
                reasons=tuple(by_date[on]),
                list_as_of=as_of,
                found=version is not None,
                certified=bool(categories.get(dossier.category)),
                categories=tuple(
                    CATEGORY_LABELS.get(Category(key), key)
                    for key, certified in categories.items()
                    if certified
                ),
            )
        )
    return result


# --- The summary at the top of the control page ---------------------------------------------

#: Expected pieces that matter now: due and not received, or to send for a period begun.
AWAITED = (SlotStatus.MISSING, SlotStatus.EXPECTED)


@dataclass(frozen=True)
class ControlSummary:
    """What a controller needs before scrolling: the figures with their flags, the blocking
    anomalies, what is awaited (pieces, answers, decisions)."""

    totals: PeriodFigures
    blocking: list[CheckFinding]
    warnings: int  # findings of the other severities
    awaited: list[Slot]  # expected pieces missing or to send, in calendar order
    open_requests: int  # requests for documents waiting for the OF
    undecided: int  # current invoices without an active decision

    @property
    def missing(self) -> int:
        return sum(1 for s in self.awaited if s.status == SlotStatus.MISSING)

    @property
    def nothing_awaited(self) -> bool:
        return not (self.awaited or self.open_requests or self.undecided)


def control_summary(
    rows: Sequence[PeriodFigures],
    totals: PeriodFigures,
    groups: Sequence[FindingGroup],
    open_requests: int,
) -> ControlSummary:
    blocking = [f for g in groups if g.severity == Severity.BLOCKING.value for f in g.findings]
    others = sum(len(g.findings) for g in groups if g.severity != Severity.BLOCKING.value)
    awaited = [slot for row in rows for slot in row.awaited]
    return ControlSummary(totals, blocking, others, awaited, open_requests, totals.undecided)


@dataclass(frozen=True)
class FoldedCalendar:
    """The periods of the figures table shown by default (begun, or with something awaited
    or received) and those folded away (not begun, nothing received: the future of a long
    PTP), unless the whole calendar is asked for."""

    shown: list[PeriodFigures]
    folded: list[PeriodFigures]

    @property
    def folded_period(self) -> Period | None:
        periods = [row.period for row in self.folded if row.period is not None]
        return Period(periods[0].start, periods[-1].end) if periods else None


def fold_calendar(rows: Sequence[PeriodFigures], today: date, *, full: bool) -> FoldedCalendar:
    if full:
        return FoldedCalendar(list(rows), [])
    shown, folded = [], []
    for row in rows:
        future = row.period is not None and row.period.start > today and not row.pieces
        (folded if future and row.settled else shown).append(row)
    return FoldedCalendar(shown, folded)


@dataclass(frozen=True)
class QualiopiVerdict:
    """One sentence on the Qualiopi table, for its folded summary."""

    text: str
    worrying: bool  # not certified (or unknown) on some date


def qualiopi_verdict(items: Sequence[QualiopiOnDate]) -> QualiopiVerdict:
    unknown = sum(1 for i in items if i.list_as_of is None)
    refused = sum(1 for i in items if i.list_as_of is not None and not i.certified)
    count = len(items)
    if refused:
        return QualiopiVerdict(
            f"Non certifié pour la catégorie à {refused} date{'s' if refused > 1 else ''} "
            f"sur {count}",
            True,
        )
    if unknown:
        return QualiopiVerdict(
            f"Inconnu à {unknown} date{'s' if unknown > 1 else ''} sur {count} : aucune "
            "liste importée n'était alors en vigueur",
            True,
        )
    return QualiopiVerdict(f"Certifié pour la catégorie aux {count} dates utiles", False)
