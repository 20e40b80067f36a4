"""Sampling plans: a funder admin draws a random sample of dossiers, or of OF, to control.

The draw itself (`draw`) is a pure function of the population (each unit with its risk
factors), the rate, the seed and the weights: the same inputs give the same selection, on
any machine. `run_draw` builds the population from the database, draws, and records
everything needed to reproduce it in a `SamplingDraw` (seed, parameters, the population as
it was, with its factors, and the selection); `reproduce` draws again from that record.

- Size: ``ceil(population × rate / 100)`` units (at least one as soon as the rate and the
  population are not zero), at most the population.
- Plain draw: a simple random sample without replacement (`random.Random(seed).sample`
  over the units sorted by id).
- Weighted draw (risk): weighted sampling without replacement (Efraimidis–Spirakis: each
  unit gets the key ``log(u) / weight`` with ``u`` uniform from the seeded generator, and
  the largest keys are drawn). A unit's weight is ``1 + Σ factor × its weight``: blocking
  anomalies and warnings (the checks' counts), past rejections of the OF (not conforming or
  partly conforming decisions of this funder), an OF new to the funder (its first dossier
  began within N months), a recent loss of certification (a Qualiopi alert for that OF
  within N days).
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import func, select

from portal import audit
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    DecisionOutcome,
    Dossier,
    DossierStatus,
    InvoiceDecision,
    Provider,
    QualiopiAlert,
    SamplingDraw,
    ServiceFaitControl,
    User,
)
from portal.service_fait.controls import control_for, refresh_state

UNIT_DOSSIER = "dossier"
UNIT_PROVIDER = "organisme"
UNIT_LABELS = {UNIT_DOSSIER: "Dossiers", UNIT_PROVIDER: "Organismes de formation"}
REJECTED = (DecisionOutcome.NOT_CONFORMING.value, DecisionOutcome.PARTLY_CONFORMING.value)
DEFAULT_NEW_PROVIDER_MONTHS = 12
DEFAULT_LOST_CERTIFICATION_DAYS = 90
MAX_SEED_LENGTH = 64


# --- The pure draw --------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A dossier or an OF that may be drawn, with its risk factors."""

    id: int
    blocking: int = 0
    warnings: int = 0
    rejections: int = 0
    new_provider: bool = False
    lost_certification: bool = False

    def as_row(self) -> list[int]:
        return [
            self.id,
            self.blocking,
            self.warnings,
            self.rejections,
            int(self.new_provider),
            int(self.lost_certification),
        ]

    @classmethod
    def from_row(cls, row: Sequence[int]) -> Unit:
        return cls(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))


@dataclass(frozen=True)
class Weights:
    """What each risk factor adds to a unit's weight (1 without any)."""

    blocking: Decimal = Decimal("3")  # per blocking anomaly
    warning: Decimal = Decimal("1")  # per warning
    rejection: Decimal = Decimal("2")  # per past rejection of the OF
    new_provider: Decimal = Decimal("2")  # OF new to the funder
    lost_certification: Decimal = Decimal("5")  # OF that recently lost its certification

    def as_dict(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Weights:
        defaults = cls()
        return cls(
            **{
                name: Decimal(str(values.get(name, getattr(defaults, name))))
                for name in asdict(defaults)
            }
        )


WEIGHT_LABELS = {
    "blocking": "Par anomalie bloquante",
    "warning": "Par alerte",
    "rejection": "Par refus passé (décision non ou partiellement conforme) de l'organisme",
    "new_provider": "Organisme nouveau pour le financeur",
    "lost_certification": "Perte récente de la certification Qualiopi",
}


def risk_weight(unit: Unit, weights: Weights) -> Decimal:
    return (
        Decimal(1)
        + unit.blocking * weights.blocking
        + unit.warnings * weights.warning
        + unit.rejections * weights.rejection
        + (weights.new_provider if unit.new_provider else 0)
        + (weights.lost_certification if unit.lost_certification else 0)
    )


def sample_size(population: int, rate_percent: Decimal) -> int:
    """``ceil(population × rate / 100)``, between 0 and the population."""
    if population <= 0 or rate_percent <= 0:
        return 0
    exact = Decimal(population) * Decimal(rate_percent) / Decimal(100)
    return min(population, int(exact.to_integral_value(rounding=ROUND_CEILING)))


def _generator(seed: str) -> random.Random:
    # The seed string, hashed: the same on every platform and Python version.
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    return random.Random(number)  # noqa: S311  (a reproducible draw, not a secret)


def draw(
    units: Iterable[Unit],
    rate_percent: Decimal,
    seed: str,
    weights: Weights | None = None,
) -> list[int]:
    """The ids drawn, sorted: a pure function of its arguments (the order in which the
    units are given does not matter)."""
    population = sorted(units, key=lambda u: u.id)
    size = sample_size(len(population), rate_percent)
    if size == 0:
        return []
    rng = _generator(seed)
    if weights is None:
        return sorted(u.id for u in rng.sample(population, size))
    keyed = []
    for unit in population:
        weight = float(risk_weight(unit, weights))
        u = rng.random()
        key = -math.inf if u == 0.0 or weight <= 0 else math.log(u) / weight
        keyed.append((key, -unit.id, unit.id))
    keyed.sort(reverse=True)
    return sorted(unit_id for _, _, unit_id in keyed[:size])


def new_seed() -> str:
    return secrets.token_hex(8)


# --- The population, from the database ---------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    scheme: str | None = None
    start_from: date | None = None
    start_to: date | None = None
    open_only: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "start_from": self.start_from.isoformat() if self.start_from else None,
            "start_to": self.start_to.isoformat() if self.start_to else None,
            "open_only": self.open_only,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Filters:
        return cls(
            scheme=values.get("scheme") or None,
            start_from=date.fromisoformat(values["start_from"])
            if values.get("start_from")
            else None,
            start_to=date.fromisoformat(values["start_to"]) if values.get("start_to") else None,
            open_only=bool(values.get("open_only")),
        )


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _filtered(funder_id: int, filters: Filters):
    query = select(Dossier.id, Dossier.provider_id).where(Dossier.funder_id == funder_id)
    if filters.scheme:
        query = query.where(Dossier.scheme == filters.scheme)
    if filters.start_from:
        query = query.where(Dossier.start_date >= filters.start_from)
    if filters.start_to:
        query = query.where(Dossier.start_date <= filters.start_to)
    if filters.open_only:
        query = query.where(Dossier.status == DossierStatus.OPEN.value)
    return query


def population(
    funder_id: int,
    unit: str,
    filters: Filters,
    *,
    today: date,
    new_provider_months: int = DEFAULT_NEW_PROVIDER_MONTHS,
    lost_certification_days: int = DEFAULT_LOST_CERTIFICATION_DAYS,
) -> list[Unit]:
    """The funder's dossiers (or their OF) matching the filters, with their risk factors;
    five queries whatever the size."""
    base = _filtered(funder_id, filters).subquery()
    rows = db.session.execute(
        select(
            base.c.id,
            base.c.provider_id,
            func.coalesce(ServiceFaitControl.blocking_count, 0),
            func.coalesce(ServiceFaitControl.warning_count, 0),
        )
        .select_from(base)
        .outerjoin(ServiceFaitControl, ServiceFaitControl.dossier_id == base.c.id)
        .order_by(base.c.id)
    ).all()
    rejections = dict(
        db.session.execute(
            select(Dossier.provider_id, func.count(InvoiceDecision.id))
            .join(Dossier, Dossier.id == InvoiceDecision.dossier_id)
            .where(
                Dossier.funder_id == funder_id,
                InvoiceDecision.outcome.in_(REJECTED),
                InvoiceDecision.reopened_at.is_(None),
            )
            .group_by(Dossier.provider_id)
        ).all()
    )
    first_start = dict(
        db.session.execute(
            select(Dossier.provider_id, func.min(Dossier.start_date))
            .where(Dossier.funder_id == funder_id)
            .group_by(Dossier.provider_id)
        ).all()
    )
    since = _months_before(today, new_provider_months)
    new_providers = {pid for pid, first in first_start.items() if first and first >= since}
    alert_since = datetime.combine(
        today - timedelta(days=lost_certification_days), datetime.min.time()
    ).replace(tzinfo=utcnow().tzinfo)
    lost = set(
        db.session.scalars(
            select(QualiopiAlert.provider_id)
            .where(QualiopiAlert.funder_id == funder_id, QualiopiAlert.created_at >= alert_since)
            .distinct()
        )
    )
    if unit == UNIT_DOSSIER:
        return [
            Unit(
                id=dossier_id,
                blocking=int(blocking),
                warnings=int(warnings),
                rejections=int(rejections.get(provider_id, 0)),
                new_provider=provider_id in new_providers,
                lost_certification=provider_id in lost,
            )
            for dossier_id, provider_id, blocking, warnings in rows
        ]
    by_provider: dict[int, list[int]] = {}
    for _dossier_id, provider_id, blocking, warnings in rows:
        totals = by_provider.setdefault(provider_id, [0, 0])
        totals[0] += int(blocking)
        totals[1] += int(warnings)
    return [
        Unit(
            id=provider_id,
            blocking=totals[0],
            warnings=totals[1],
            rejections=int(rejections.get(provider_id, 0)),
            new_provider=provider_id in new_providers,
            lost_certification=provider_id in lost,
        )
        for provider_id, totals in sorted(by_provider.items())
    ]


# --- Recording and reproducing ----------------------------------------------------------------


@dataclass(frozen=True)
class DrawRequest:
    unit: str
    rate_percent: Decimal
    weighted: bool
    weights: Weights = field(default_factory=Weights)
    filters: Filters = field(default_factory=Filters)
    new_provider_months: int = DEFAULT_NEW_PROVIDER_MONTHS
    lost_certification_days: int = DEFAULT_LOST_CERTIFICATION_DAYS
    seed: str | None = None


class DrawRefused(ValueError):
    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {k: list(v) for k, v in errors.items()}
        super().__init__("; ".join(m for ms in self.errors.values() for m in ms))


def check_request(request: DrawRequest) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if request.unit not in UNIT_LABELS:
        errors["unit"] = ["Choisissez de tirer des dossiers ou des organismes."]
    if not (Decimal(0) < request.rate_percent <= Decimal(100)):
        errors["rate"] = ["Le taux est un pourcentage supérieur à 0 et au plus 100."]
    if any(value < 0 for value in asdict(request.weights).values()):
        errors["weights"] = ["Les poids sont des nombres positifs ou nuls."]
    if request.seed is not None and (
        not request.seed.strip() or len(request.seed) > MAX_SEED_LENGTH
    ):
        errors["seed"] = [f"La graine fait de 1 à {MAX_SEED_LENGTH} caractères."]
    if request.new_provider_months < 0 or request.lost_certification_days < 0:
        errors["windows"] = ["Les durées sont des nombres positifs ou nuls."]
    if (
        request.filters.start_from
        and request.filters.start_to
        and request.filters.start_from > request.filters.start_to
    ):
        errors["filters"] = ["La date « du » doit précéder la date « au »."]
    return errors


def run_draw(actor: User, request: DrawRequest, *, today: date) -> SamplingDraw:
    """Build the population, draw, record the draw (audited); commits."""
    errors = check_request(request)
    if errors:
        raise DrawRefused(errors)
    assert actor.funder_id is not None
    units = population(
        actor.funder_id,
        request.unit,
        request.filters,
        today=today,
        new_provider_months=request.new_provider_months,
        lost_certification_days=request.lost_certification_days,
    )
    seed = (request.seed or "").strip() or new_seed()
    weights = request.weights if request.weighted else None
    selected = draw(units, request.rate_percent, seed, weights)
    row = SamplingDraw(
        funder_id=actor.funder_id,
        drawn_by_id=actor.id,
        unit=request.unit,
        rate_percent=request.rate_percent,
        weighted=request.weighted,
        seed=seed,
        parameters={
            "reference_date": today.isoformat(),
            "filters": request.filters.as_dict(),
            "weights": request.weights.as_dict(),
            "new_provider_months": request.new_provider_months,
            "lost_certification_days": request.lost_certification_days,
            "sample_size": len(selected),
            "algorithm": "efraimidis-spirakis" if request.weighted else "simple",
            # The population as it was, with its factors: the draw can be reproduced from
            # this record alone, whatever happens to the dossiers afterwards.
            "population_columns": [
                "id",
                "blocking",
                "warnings",
                "rejections",
                "new_provider",
                "lost_certification",
            ],
            "population": [u.as_row() for u in units],
        },
        population_size=len(units),
        selected_ids=selected,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "service_fait.sampling_drawn",
        actor=actor,
        target=row,
        funder_id=actor.funder_id,
        details={
            "unit": request.unit,
            "rate_percent": str(request.rate_percent),
            "weighted": request.weighted,
            "seed": seed,
            "population_size": len(units),
            "selected_ids": selected,
        },
    )
    return row


def population_of(row: SamplingDraw) -> list[Unit]:
    return [Unit.from_row(values) for values in (row.parameters or {}).get("population", [])]


def reproduce(row: SamplingDraw) -> list[int]:
    """The selection drawn again from the record (seed, parameters, population)."""
    parameters = row.parameters or {}
    weights = Weights.from_dict(parameters.get("weights", {})) if row.weighted else None
    return draw(population_of(row), Decimal(row.rate_percent), row.seed, weights)


# --- Flagging the selection for control ---------------------------------------------------------


def dossiers_of(row: SamplingDraw) -> list[int]:
    """The dossiers a draw puts in control: those drawn, or, for OF, their dossiers of the
    draw's population (the same filters)."""
    if row.unit == UNIT_DOSSIER:
        return list(row.selected_ids)
    filters = Filters.from_dict((row.parameters or {}).get("filters", {}))
    query = _filtered(row.funder_id, filters).where(Dossier.provider_id.in_(row.selected_ids))
    return [dossier_id for dossier_id, _ in db.session.execute(query.order_by(Dossier.id))]


def apply_draw(actor: User, row: SamplingDraw, *, assignee: User | None) -> list[int]:
    """Put the draw's dossiers in the controllers' queue (their control created, to
    control unless already decided), assigned to `assignee` when given; commits."""
    dossier_ids = dossiers_of(row)
    dossiers = list(
        db.session.scalars(
            select(Dossier).where(Dossier.id.in_(dossier_ids), Dossier.funder_id == row.funder_id)
        )
    )
    for dossier in dossiers:
        control = control_for(dossier)
        if assignee is not None:
            control.assigned_to_id = assignee.id
        refresh_state(control)
    audit.record(
        "service_fait.sampling_applied",
        actor=actor,
        target=row,
        funder_id=row.funder_id,
        details={
            "dossier_ids": [d.id for d in dossiers],
            "assigned_to_id": assignee.id if assignee else None,
        },
    )
    return [d.id for d in dossiers]


@dataclass(frozen=True)
class SelectedRow:
    unit: Unit
    weight: Decimal
    label: str
    link_dossier_id: int | None
    provider_name: str
    control_status: str | None
    assignee: str | None


def selection_rows(row: SamplingDraw) -> list[SelectedRow]:
    """The selected units with their factors, weight and current control (three queries)."""
    weights = Weights.from_dict((row.parameters or {}).get("weights", {}))
    units = {u.id: u for u in population_of(row)}
    selected = [units.get(i, Unit(i)) for i in row.selected_ids]
    result = []
    if row.unit == UNIT_DOSSIER:
        found = {
            d.id: (d, p, c)
            for d, p, c in db.session.execute(
                select(Dossier, Provider, ServiceFaitControl)
                .join(Provider, Provider.id == Dossier.provider_id)
                .outerjoin(ServiceFaitControl, ServiceFaitControl.dossier_id == Dossier.id)
                .where(Dossier.id.in_(row.selected_ids), Dossier.funder_id == row.funder_id)
            )
        }
        assignees = _names({c.assigned_to_id for _, _, c in found.values() if c})
        for unit in selected:
            dossier, provider, control = found.get(unit.id, (None, None, None))
            result.append(
                SelectedRow(
                    unit=unit,
                    weight=risk_weight(unit, weights),
                    label=f"Dossier {dossier.reference}" if dossier else f"Dossier n° {unit.id}",
                    link_dossier_id=dossier.id if dossier else None,
                    provider_name=provider.name if provider else "",
                    control_status=control.status if control else None,
                    assignee=assignees.get(control.assigned_to_id) if control else None,
                )
            )
        return result
    providers = {
        p.id: p
        for p in db.session.scalars(select(Provider).where(Provider.id.in_(row.selected_ids)))
    }
    for unit in selected:
        provider = providers.get(unit.id)
        name = provider.name if provider else f"Organisme n° {unit.id}"
        result.append(
            SelectedRow(
                unit=unit,
                weight=risk_weight(unit, weights),
                label=f"{name} (NDA {provider.nda})" if provider else name,
                link_dossier_id=None,
                provider_name=name,
                control_status=None,
                assignee=None,
            )
        )
    return result


def _names(user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())
