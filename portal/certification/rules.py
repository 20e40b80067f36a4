"""Certificate deadlines and audit durations: pure functions, no database, no request.

From the rules of the field ("Qualiopi and the public list", "Audits"):

- A certificate lasts 3 years; one issued in 2020 (the first year of Qualiopi) was given 4.
  The surveillance audit takes place between the 14th and the
  22nd month of the cycle: read as months counted from the certificate's start date, the
  window opens on the first day of the 14th month (start + 13 months) and closes on the last
  day of the 22nd (start + 22 months − 1 day). A day missing from a month falls on its last.
- Renewal: plan it 8 months before the end; the renewal audit should take place at least 4
  months before the end.
- Audit durations (arrêté of 6 June 2019, art. 4): see :func:`audit_duration`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from portal import formatting
from portal.models.dossiers import Category

VALIDITY_YEARS = 3
#: Certificates issued in 2020 were given 4 years.
VALIDITY_YEARS_BY_ISSUE_YEAR = {2020: 4}
SURVEILLANCE_FIRST_MONTH = 14
SURVEILLANCE_LAST_MONTH = 22
RENEWAL_PLANNING_MONTHS = 8
RENEWAL_AUDIT_MONTHS = 4
#: Within this many days of a deadline, it is shown as coming.
SOON_DAYS = 60


def months_after(start: date, months: int) -> date:
    return start + relativedelta(months=months)


def validity_years(start: date) -> int:
    """3 years, 4 for a certificate issued in 2020."""
    return VALIDITY_YEARS_BY_ISSUE_YEAR.get(start.year, VALIDITY_YEARS)


def default_end(start: date) -> date:
    """The end of a certificate starting on `start` (its last valid day): 3 years, 4 for
    one issued in 2020."""
    return months_after(start, 12 * validity_years(start)) - timedelta(days=1)


@dataclass(frozen=True)
class Window:
    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        return self.opens <= day <= self.closes


def surveillance_window(start: date) -> Window:
    """From the first day of the 14th month to the last day of the 22nd."""
    return Window(
        months_after(start, SURVEILLANCE_FIRST_MONTH - 1),
        months_after(start, SURVEILLANCE_LAST_MONTH) - timedelta(days=1),
    )


def renewal_planning_date(end: date) -> date:
    """When to start planning the renewal: 8 months before the end."""
    return months_after(end, -RENEWAL_PLANNING_MONTHS)


def renewal_audit_latest(end: date) -> date:
    """The latest advisable date of the renewal audit: 4 months before the end."""
    return months_after(end, -RENEWAL_AUDIT_MONTHS)


class DeadlineState(enum.StrEnum):
    DONE = "fait"
    UPCOMING = "a_venir"
    SOON = "proche"
    OPEN = "en_cours"  # inside its window
    OVERDUE = "depasse"


DEADLINE_STATE_LABELS = {
    DeadlineState.DONE: "Fait",
    DeadlineState.UPCOMING: "À venir",
    DeadlineState.SOON: "Bientôt",
    DeadlineState.OPEN: "En cours",
    DeadlineState.OVERDUE: "Dépassé",
}


@dataclass(frozen=True)
class Deadline:
    key: str  # "surveillance", "renouvellement_preparation", "renouvellement_audit", "fin"
    label: str
    due: date  # the date the deadline is about (a window's close)
    opens: date | None  # a window's first day
    state: DeadlineState
    explanation: str

    @property
    def needs_attention(self) -> bool:
        """Overdue, or soon due: the page flags it."""
        return self.state in (DeadlineState.OVERDUE, DeadlineState.SOON)


def _state(today: date, due: date, opens: date | None, done: bool) -> DeadlineState:
    if done:
        return DeadlineState.DONE
    if today > due:
        return DeadlineState.OVERDUE
    if opens is not None and today >= opens:
        return DeadlineState.OPEN
    start = opens or due
    if (start - today).days <= SOON_DAYS:
        return DeadlineState.SOON
    return DeadlineState.UPCOMING


def _fr(day: date) -> str:
    return formatting.date_fr(day)


def deadlines(
    start: date,
    end: date,
    today: date,
    *,
    surveillance_audits: Iterable[date] = (),
    renewal_audits: Iterable[date] = (),
) -> list[Deadline]:
    """The deadlines of a certificate from `start` to `end`, as of `today`, given the dates
    of the audits recorded (a surveillance audit counts when inside its window; a renewal
    audit when before the end)."""
    window = surveillance_window(start)
    surveillance_done = [d for d in surveillance_audits if window.contains(d)]
    renewal_done = [d for d in renewal_audits if d <= end]
    planning = renewal_planning_date(end)
    latest = renewal_audit_latest(end)
    return [
        Deadline(
            "surveillance",
            "Audit de surveillance",
            window.closes,
            window.opens,
            _state(today, window.closes, window.opens, bool(surveillance_done)),
            (
                f"Entre le 14e et le 22e mois du cycle : du {_fr(window.opens)} au "
                f"{_fr(window.closes)}."
                + (f" Audit du {_fr(surveillance_done[0])}." if surveillance_done else "")
            ),
        ),
        Deadline(
            "renouvellement_preparation",
            "Préparer le renouvellement",
            latest,
            planning,
            _state(today, latest, planning, bool(renewal_done)),
            f"À planifier dès le {_fr(planning)}, 8 mois avant la fin du certificat.",
        ),
        Deadline(
            "renouvellement_audit",
            "Audit de renouvellement",
            latest,
            None,
            _state(today, latest, None, bool(renewal_done)),
            (
                f"Au plus tard le {_fr(latest)}, 4 mois avant la fin du certificat."
                + (f" Audit du {_fr(renewal_done[0])}." if renewal_done else "")
            ),
        ),
        Deadline(
            "fin",
            "Fin du certificat",
            end,
            None,
            _state(today, end, None, False),
            f"Le certificat est valable jusqu'au {_fr(end)}.",
        ),
    ]


def ends_before(end: date | None, training_end: date) -> bool:
    """A certificate that ends before the end of a dossier's training."""
    return end is not None and end < training_end


def category_mismatch(
    declared: Iterable[Category | str], listed: Iterable[Category | str]
) -> tuple[list[Category], list[Category]]:
    """(declared but not in the public list, in the public list but not declared)."""
    declared_set = {Category(c) for c in declared}
    listed_set = {Category(c) for c in listed}
    order = list(Category)
    return (
        [c for c in order if c in declared_set - listed_set],
        [c for c in order if c in listed_set - declared_set],
    )


# --- Audit durations ----------------------------------------------------------------------------


class TurnoverBand(enum.StrEnum):
    LOW = "moins_150k"
    MIDDLE = "150k_750k"
    HIGH = "750k_plus"


TURNOVER_BAND_LABELS = {
    TurnoverBand.LOW: "Moins de 150 000 €",
    TurnoverBand.MIDDLE: "De 150 000 € à moins de 750 000 €",
    TurnoverBand.HIGH: "750 000 € ou plus",
}


def turnover_band(turnover: Decimal | int | float) -> TurnoverBand:
    """The band of the last BPF's turnover."""
    value = Decimal(str(turnover))
    if value < 150_000:
        return TurnoverBand.LOW
    if value < 750_000:
        return TurnoverBand.MIDDLE
    return TurnoverBand.HIGH


class AuditKind(enum.StrEnum):
    INITIAL = "initial"  # initial or renewal: the same duration
    SURVEILLANCE = "surveillance"


AUDIT_KIND_LABELS = {
    AuditKind.INITIAL: "Audit initial ou de renouvellement",
    AuditKind.SURVEILLANCE: "Audit de surveillance",
}


@dataclass(frozen=True)
class Cell:
    """One figure of the duration table, in days, and whether our sources fix it."""

    days: Decimal
    confirmed: bool


@dataclass(frozen=True)
class DurationTable:
    """The duration table, per turnover band:

    - ``base``: a provider with one category among actions de formation, bilans de
      compétences and VAE;
    - ``extra_category``: each further category among those three;
    - ``apprenticeship``: added when apprenticeship (4°) is in scope;
    - ``surveillance_base``: the surveillance audit of a provider with one category.

    Plus the sites: √(sites), rounded, × 0.5 day (initial/renewal); 0.6 × √(sites), rounded
    to the half day (surveillance, since 1 September 2023); and +0.5 day at surveillance for
    a new entrant (first year, or a new category).
    """

    base: dict[TurnoverBand, Cell]
    extra_category: dict[TurnoverBand, Cell]
    apprenticeship: dict[TurnoverBand, Cell]
    surveillance_base: dict[TurnoverBand, Cell]
    new_entrant: Cell = field(default_factory=lambda: Cell(Decimal("0.5"), True))


def _d(value: str, confirmed: bool) -> Cell:
    return Cell(Decimal(value), confirmed)


#: The figures fixed by the five worked examples of the audit-duration rules are confirmed;
#: the others are settings to confirm against art. 4 of the arrêté of 6 June 2019 (see
#: AUDIT_DURATIONS in the configuration to override them). Example 3 fixes only base +
#: apprenticeship = 2 days in the middle band: the split chosen follows the other bands.
DEFAULT_TABLE = DurationTable(
    base={
        TurnoverBand.LOW: _d("1", True),  # example 1
        TurnoverBand.MIDDLE: _d("1.5", False),
        TurnoverBand.HIGH: _d("2", True),  # example 5: 1.5 + 0.5 for the first category
    },
    extra_category={
        TurnoverBand.LOW: _d("0", True),  # example 2
        TurnoverBand.MIDDLE: _d("0.5", False),
        TurnoverBand.HIGH: _d("0.5", True),  # example 5
    },
    apprenticeship={
        TurnoverBand.LOW: _d("0.5", False),
        TurnoverBand.MIDDLE: _d("0.5", False),  # with base: 2 days, example 3
        TurnoverBand.HIGH: _d("1", True),  # example 4
    },
    surveillance_base={
        TurnoverBand.LOW: _d("0.5", False),
        TurnoverBand.MIDDLE: _d("1", False),
        TurnoverBand.HIGH: _d("1", False),
    },
)

HALF = Decimal("0.5")


def _round_half_up(value: float) -> int:
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def site_days(sites: int, kind: AuditKind) -> Decimal:
    """The days the sites (besides the central function) add."""
    if sites <= 0:
        return Decimal(0)
    if kind is AuditKind.SURVEILLANCE:
        halves = _round_half_up(0.6 * math.sqrt(sites) * 2)
        return HALF * halves
    return HALF * _round_half_up(math.sqrt(sites))


@dataclass(frozen=True)
class DurationLine:
    label: str
    days: Decimal
    confirmed: bool


@dataclass(frozen=True)
class Duration:
    days: Decimal
    lines: tuple[DurationLine, ...]

    @property
    def confirmed(self) -> bool:
        return all(line.confirmed for line in self.lines)


class DurationError(ValueError):
    """Input the calculator cannot use; the message is French."""


def audit_duration(
    band: TurnoverBand,
    categories: Iterable[Category | str],
    sites: int,
    kind: AuditKind = AuditKind.INITIAL,
    *,
    new_entrant: bool = False,
    table: DurationTable = DEFAULT_TABLE,
) -> Duration:
    """The reference duration of an audit, in days (counted in half-days), with each line
    of the computation and whether the figure it uses is confirmed."""
    chosen = {Category(c) for c in categories}
    if not chosen:
        raise DurationError("Choisissez au moins une catégorie d'action certifiée.")
    if sites < 0:
        raise DurationError("Le nombre de sites ne peut être négatif.")
    others = [c for c in Category if c in chosen and c is not Category.APPRENTISSAGE]
    lines: list[DurationLine] = []
    if kind is AuditKind.SURVEILLANCE:
        cell = table.surveillance_base[band]
        lines.append(DurationLine("Base de l'audit de surveillance", cell.days, cell.confirmed))
    else:
        cell = table.base[band]
        lines.append(DurationLine("Base (une catégorie)", cell.days, cell.confirmed))
        if len(others) > 1:
            extra = table.extra_category[band]
            lines.append(
                DurationLine(
                    formatting.plural(len(others) - 1, "catégorie", "catégories") + " en plus",
                    extra.days * (len(others) - 1),
                    extra.confirmed,
                )
            )
        if Category.APPRENTISSAGE in chosen and others:
            cell = table.apprenticeship[band]
            lines.append(DurationLine("Apprentissage", cell.days, cell.confirmed))
    if sites:
        formula = (
            "0,6 × √sites, arrondi à la demi-journée"
            if kind is AuditKind.SURVEILLANCE
            else "√sites arrondi × 0,5 jour"
        )
        label = formatting.plural(sites, "site", "sites") + f" en plus ({formula})"
        lines.append(DurationLine(label, site_days(sites, kind), True))
    if kind is AuditKind.SURVEILLANCE and new_entrant:
        lines.append(
            DurationLine("Nouvel entrant", table.new_entrant.days, table.new_entrant.confirmed)
        )
    total = sum((line.days for line in lines), Decimal(0))
    return Duration(total, tuple(lines))


# --- Overrides of the duration table (added for the calculator) ------------------------------

_TABLE_ROWS = ("base", "extra_category", "apprenticeship", "surveillance_base")


def _override_cell(value: object, where: str) -> Cell:
    """A cell from a setting: a number of days ("1.5", 1.5) stays *to confirm*; a mapping
    ``{"days": "1.5", "confirmed": True}`` says whether the figure is confirmed."""
    confirmed = False
    if isinstance(value, dict):
        confirmed = bool(value.get("confirmed", False))
        value = value.get("days")
    try:
        days = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"AUDIT_DURATIONS[{where}] : « {value} » n'est pas un nombre.") from None
    if not days.is_finite() or days < 0 or (days * 2) != (days * 2).to_integral_value():
        raise ValueError(f"AUDIT_DURATIONS[{where}] : {value} n'est pas en demi-journées.")
    return Cell(days, confirmed)


def table_with_overrides(
    overrides: dict[str, object] | None, base: DurationTable = DEFAULT_TABLE
) -> DurationTable:
    """`base` with the cells a setting (the app config key ``AUDIT_DURATIONS``) overrides:
    ``{"base": {"150k_750k": "1.5"}, "new_entrant": {"days": "0.5", "confirmed": True}}``.
    Rows: base, extra_category, apprenticeship, surveillance_base (by turnover band value)
    and new_entrant. An unknown row or band raises ValueError."""
    if not overrides:
        return base
    unknown = set(overrides) - {*_TABLE_ROWS, "new_entrant"}
    if unknown:
        raise ValueError(f"AUDIT_DURATIONS : ligne(s) inconnue(s) {sorted(unknown)}.")
    rows: dict[str, dict[TurnoverBand, Cell]] = {}
    for name in _TABLE_ROWS:
        cells = dict(getattr(base, name))
        given = overrides.get(name) or {}
        if not isinstance(given, dict):
            raise ValueError(f"AUDIT_DURATIONS[{name}] : une valeur par tranche attendue.")
        for band_key, value in given.items():
            try:
                band = TurnoverBand(band_key)
            except ValueError:
                raise ValueError(
                    f"AUDIT_DURATIONS[{name}] : tranche inconnue « {band_key} »."
                ) from None
            cells[band] = _override_cell(value, f"{name}][{band_key}")
        rows[name] = cells
    new_entrant = base.new_entrant
    if "new_entrant" in overrides:
        new_entrant = _override_cell(overrides["new_entrant"], "new_entrant")
    return DurationTable(new_entrant=new_entrant, **rows)
