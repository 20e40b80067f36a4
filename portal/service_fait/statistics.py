"""Statistics of the decisions, for the funder and per OF: dossiers controlled, amounts
validated and rejected, reasons, delays.

Counted on the active decisions (a reopened decision no longer counts; the one taken
after it does), optionally of a period of decision dates (Paris days). "Rejected" is
what was invoiced and not validated. The delay of a decision is the time from the upload
of its invoice to the decision, in days.

Three queries whatever the number of OF: the sums per OF (grouped in the database), the
reasons per OF (grouped), and the delays (two dates per decision, the median computed
here: SQLite has no percentile function).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from portal import clock
from portal.extensions import db
from portal.models import (
    DecisionOutcome,
    Dossier,
    InvoiceDecision,
    Piece,
    Provider,
    User,
)

ZERO = Decimal("0.00")


@dataclass
class Figures:
    dossiers: int = 0  # dossiers with at least one decision
    decisions: int = 0
    conforming: int = 0
    partly: int = 0
    not_conforming: int = 0
    invoiced: Decimal = ZERO  # on the decided invoices
    validated: Decimal = ZERO
    reasons: dict[str, int] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)  # days, upload → decision

    @property
    def rejected(self) -> Decimal:
        return self.invoiced - self.validated

    @property
    def rejected_rate(self) -> float | None:
        return float(self.rejected / self.invoiced) if self.invoiced else None

    @property
    def delay_mean(self) -> float | None:
        return statistics.fmean(self.delays) if self.delays else None

    @property
    def delay_median(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    def add(self, other: Figures) -> None:
        self.dossiers += other.dossiers
        self.decisions += other.decisions
        self.conforming += other.conforming
        self.partly += other.partly
        self.not_conforming += other.not_conforming
        self.invoiced += other.invoiced
        self.validated += other.validated
        for code, count in other.reasons.items():
            self.reasons[code] = self.reasons.get(code, 0) + count
        self.delays.extend(other.delays)


@dataclass
class ProviderFigures(Figures):
    provider_id: int = 0
    name: str = ""
    nda: str = ""


@dataclass(frozen=True)
class Report:
    funder: Figures
    providers: list[ProviderFigures]
    start: date | None
    end: date | None


def _bounds(start: date | None, end: date | None) -> list[Any]:
    """Conditions on the decision date, for Paris days [start, end]."""
    conditions = []
    if start is not None:
        conditions.append(InvoiceDecision.decided_at >= clock.start_of_day(start))
    if end is not None:
        conditions.append(InvoiceDecision.decided_at < clock.end_of_day(end))
    return conditions


def _days(uploaded: datetime | None, decided: datetime | None) -> float | None:
    if uploaded is None or decided is None:
        return None
    return max(0.0, (decided - uploaded).total_seconds() / 86400)


def _count(outcome: DecisionOutcome) -> Any:
    return func.sum(case((InvoiceDecision.outcome == outcome.value, 1), else_=0))


def report(actor: User, start: date | None = None, end: date | None = None) -> Report:
    """The funder's figures and each OF's, ordered by OF name."""
    where = [
        Dossier.funder_id == actor.funder_id,
        InvoiceDecision.reopened_at.is_(None),
        *_bounds(start, end),
    ]
    base = (
        select()
        .select_from(InvoiceDecision)
        .join(Dossier, Dossier.id == InvoiceDecision.dossier_id)
    )
    by_provider: dict[int, ProviderFigures] = {}
    for row in db.session.execute(
        base.add_columns(
            Dossier.provider_id,
            Provider.name,
            Provider.nda,
            func.count(func.distinct(InvoiceDecision.dossier_id)),
            func.count(InvoiceDecision.id),
            _count(DecisionOutcome.CONFORMING),
            _count(DecisionOutcome.PARTLY_CONFORMING),
            _count(DecisionOutcome.NOT_CONFORMING),
            func.coalesce(func.sum(InvoiceDecision.amount_invoiced), 0),
            func.coalesce(func.sum(InvoiceDecision.amount_validated), 0),
        )
        .join(Provider, Provider.id == Dossier.provider_id)
        .where(*where)
        .group_by(Dossier.provider_id, Provider.name, Provider.nda)
    ):
        (provider_id, name, nda, dossiers, count, ok, partly, ko, invoiced, validated) = row
        by_provider[provider_id] = ProviderFigures(
            provider_id=provider_id,
            name=name,
            nda=nda,
            dossiers=dossiers,
            decisions=count,
            conforming=int(ok or 0),
            partly=int(partly or 0),
            not_conforming=int(ko or 0),
            invoiced=_money(invoiced),
            validated=_money(validated),
        )
    for provider_id, code, count in db.session.execute(
        base.add_columns(Dossier.provider_id, InvoiceDecision.reason_code, func.count())
        .where(*where, InvoiceDecision.reason_code.is_not(None))
        .group_by(Dossier.provider_id, InvoiceDecision.reason_code)
    ):
        if provider_id in by_provider:
            by_provider[provider_id].reasons[code] = count
    for provider_id, uploaded, decided in db.session.execute(
        base.add_columns(Dossier.provider_id, Piece.created_at, InvoiceDecision.decided_at)
        .join(Piece, Piece.id == InvoiceDecision.invoice_id)
        .where(*where)
    ):
        days = _days(uploaded, decided)
        if days is not None and provider_id in by_provider:
            by_provider[provider_id].delays.append(days)
    providers = sorted(by_provider.values(), key=lambda p: (p.name.lower(), p.provider_id))
    return Report(_total(providers), providers, start, end)


def _total(providers: Iterable[ProviderFigures]) -> Figures:
    total = Figures()
    for figures in providers:
        total.add(figures)
    return total


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
