"""The fields of each kind of piece and the rules they must meet: pure functions.

No database and no request here. :func:`check` takes the values of one piece as typed in
a form (text, in French or ISO writing) or as given by code (``date``, ``Decimal``, ``int``)
and returns them typed, with the French messages of every field in error. The parsing of
dates and numbers is the dossier's (:mod:`portal.dossiers.rules`), so that a date or an
amount is written the same way everywhere in the portal.

What a piece must meet (the rules of the field, "Service fait"):

- **Period covered** (every kind): start and end dates, the end on or after the start,
  inside the action's period (a piece outside it can meet no expected piece), starting no
  later than today (one proves what was done, or at least begun).
- **Amounts** in euros: ≥ 0, at most 2 decimals; an invoice's amount incl. tax is at
  least its amount excl. tax (equal when the training is exempt from VAT).
- **Hours**: typed in hours (``7h20``, ``7 h 20``, ``7:20``, ``7,5``, ``7.5``; see
  :func:`portal.dossiers.rules.parse_duration`), kept as whole minutes in the ``minutes_*``
  columns; ≥ 0; at most 24 hours a day of the period.
- **Half-days** (attendance sheet): whole numbers ≥ 0; signed ≤ planned ≤ 2 a day.
- **Certificat de réalisation**: its nature is one of the four categories of action; the
  duration completed is in hours, in months for apprenticeship; for distance (or blended)
  learning, the activities completed are described; the signature is not dated in the
  future nor before the period began.
- **Invoice**: a number (50 characters at most), a date not in the future.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from portal import formatting
from portal.dossiers.rules import (
    CATEGORY_LABELS,
    CENT,
    MAX_AMOUNT,
    REQUIRED,
    RuleError,
    parse_date,
    parse_duration,
)
from portal.dossiers.rules import _decimal as parse_decimal
from portal.models.dossiers import Category, Modality, PieceKind

MAX_MONTHS = Decimal("999.99")  # Numeric(5, 2)
MAX_HALF_DAYS = 10_000
MAX_LONG_TEXT = 5_000


class FieldType(StrEnum):
    DATE = "date"
    MONEY = "money"
    HOURS = "hours"
    MONTHS = "months"
    COUNT = "count"
    TEXT = "text"
    LONG_TEXT = "long_text"
    CATEGORY = "category"


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the form field (and the key of the raw values)
    label: str
    type: FieldType
    help: str = ""
    # Required whenever the field applies; fields required only in some cases say so in
    # the rules between fields (hours or months, by nature).
    required: bool = True
    max_length: int | None = None
    distance_only: bool = False  # applies to distance or blended learning only
    # The Piece column, when it is not `name` (hours typed, minutes kept).
    column: str = ""

    @property
    def attribute(self) -> str:
        """The Piece column the field is stored in (the key of `Checked.values`)."""
        return self.column or self.name


PERIOD_FIELDS = (
    FieldSpec("period_start", "Début de la période couverte", FieldType.DATE),
    FieldSpec("period_end", "Fin de la période couverte", FieldType.DATE),
)
HOURS_HELP = "En heures : 7, 7h30, 7:30 ou 7,5."
MONEY_HELP = "En euros : 1 250,50."

FIELDS: dict[PieceKind, tuple[FieldSpec, ...]] = {
    PieceKind.INVOICE: (
        *PERIOD_FIELDS,
        FieldSpec("invoice_number", "Numéro de facture", FieldType.TEXT, max_length=50),
        FieldSpec("invoice_date", "Date de la facture", FieldType.DATE),
        FieldSpec("amount_excl_tax", "Montant HT (€)", FieldType.MONEY, MONEY_HELP),
        FieldSpec(
            "amount_incl_tax",
            "Montant TTC (€)",
            FieldType.MONEY,
            "Égal au montant HT si la formation est exonérée de TVA.",
        ),
        FieldSpec(
            "hours_billed",
            "Heures facturées",
            FieldType.HOURS,
            HOURS_HELP,
            column="minutes_billed",
        ),
    ),
    PieceKind.COMPLETION_CERTIFICATE: (
        *PERIOD_FIELDS,
        FieldSpec("nature", "Nature de l'action", FieldType.CATEGORY),
        FieldSpec(
            "hours_completed",
            "Durée réalisée (heures)",
            FieldType.HOURS,
            HOURS_HELP + " Sauf pour l'apprentissage.",
            required=False,
            column="minutes_completed",
        ),
        FieldSpec(
            "months_completed",
            "Durée réalisée (mois)",
            FieldType.MONTHS,
            "Pour une action de formation par apprentissage seulement : en mois (3 ou 2,5).",
            required=False,
        ),
        FieldSpec(
            "distance_activities",
            "Activités réalisées à distance",
            FieldType.LONG_TEXT,
            "Les activités pédagogiques réalisées et leur durée estimée.",
            max_length=MAX_LONG_TEXT,
            distance_only=True,
        ),
        FieldSpec(
            "signatory",
            "Signataire",
            FieldType.TEXT,
            "Nom et qualité du représentant légal de l'organisme qui a signé.",
            max_length=200,
        ),
        FieldSpec("signed_on", "Date de signature", FieldType.DATE),
    ),
    PieceKind.ATTENDANCE_SHEET: (
        *PERIOD_FIELDS,
        FieldSpec("half_days_planned", "Demi-journées prévues", FieldType.COUNT),
        FieldSpec("half_days_signed", "Demi-journées signées", FieldType.COUNT),
        FieldSpec(
            "hours_attended",
            "Heures de présence",
            FieldType.HOURS,
            HOURS_HELP,
            column="minutes_attended",
        ),
    ),
    PieceKind.EXPENSE_STATEMENT: (
        *PERIOD_FIELDS,
        FieldSpec("amount", "Montant des dépenses (€)", FieldType.MONEY, MONEY_HELP),
    ),
}

FIELD_NAMES: frozenset[str] = frozenset(s.name for specs in FIELDS.values() for s in specs)
SPECS_BY_NAME: dict[str, FieldSpec] = {s.name: s for specs in FIELDS.values() for s in specs}
DISTANCE_MODALITIES = frozenset({Modality.DISTANCE.value, Modality.BLENDED.value})


@dataclass(frozen=True)
class Context:
    """What the rules need to know of the dossier, and the day."""

    action_start: date
    action_end: date
    modality: str
    today: date

    @property
    def distance(self) -> bool:
        return self.modality in DISTANCE_MODALITIES


def fields_for(kind: PieceKind | str, context: Context) -> tuple[FieldSpec, ...]:
    """The fields of a kind of piece that apply to this dossier, in the form's order."""
    return tuple(s for s in FIELDS[PieceKind(kind)] if context.distance or not s.distance_only)


@dataclass
class Checked:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


#: The hours fields and the columns that keep them in minutes.
HOURS_COLUMNS: dict[str, str] = {
    spec.name: spec.attribute
    for specs in FIELDS.values()
    for spec in specs
    if spec.type == FieldType.HOURS
}


# --- One field at a time ---------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def parse_money(value: Any) -> Decimal:
    number = parse_decimal(value)
    if _places(number) > 2:
        raise RuleError("Au plus 2 décimales (les centimes).")
    if number < 0:
        raise RuleError("Un montant ne peut pas être négatif.")
    if number > MAX_AMOUNT:
        raise RuleError("Montant trop grand : vérifiez-le (en euros).")
    return number.quantize(CENT)


def parse_piece_hours(value: Any) -> int:
    """Hours as typed, kept as whole minutes (see `parse_duration`): 7h20 → 440."""
    return parse_duration(value)


def parse_months(value: Any) -> Decimal:
    number = parse_decimal(value)
    if _places(number) > 2:
        raise RuleError("Au plus 2 décimales (2,5 mois).")
    if number < 0:
        raise RuleError("Une durée ne peut pas être négative.")
    if number > MAX_MONTHS:
        raise RuleError("Durée trop grande : vérifiez-la (en mois).")
    return number.quantize(CENT)


def parse_count(value: Any) -> int:
    if isinstance(value, bool):
        raise RuleError("Indiquez un nombre entier.")
    if isinstance(value, int):
        number = value
    else:
        text = "".join(str(value).split())
        if not re.fullmatch(r"-?\d{1,9}", text):
            raise RuleError(f"« {str(value).strip()} » : indiquez un nombre entier (0, 1, 2…).")
        number = int(text)
    if number < 0:
        raise RuleError("Un nombre de demi-journées ne peut pas être négatif.")
    if number > MAX_HALF_DAYS:
        raise RuleError("Nombre trop grand : vérifiez-le.")
    return number


def parse_piece_text(value: Any, max_length: int | None) -> str:
    text = " ".join(str(value).split())
    if max_length is not None and len(text) > max_length:
        raise RuleError(f"Au plus {max_length} caractères ({len(text)} saisis).")
    return text


def parse_long_text(value: Any, max_length: int | None) -> str:
    text = str(value).replace("\r\n", "\n").strip()
    if max_length is not None and len(text) > max_length:
        raise RuleError(f"Au plus {max_length} caractères ({len(text)} saisis).")
    return text


def parse_nature(value: Any) -> str:
    text = str(value).strip()
    if text not in {c.value for c in Category}:
        raise RuleError("Choisissez l'une des quatre catégories d'action.")
    return text


def parse_field(spec: FieldSpec, value: Any) -> Any:
    """The typed value of one non-empty field; `RuleError` (French) if unreadable."""
    match spec.type:
        case FieldType.DATE:
            return parse_date(value)
        case FieldType.MONEY:
            return parse_money(value)
        case FieldType.HOURS:
            return parse_piece_hours(value)
        case FieldType.MONTHS:
            return parse_months(value)
        case FieldType.COUNT:
            return parse_count(value)
        case FieldType.TEXT:
            return parse_piece_text(value, spec.max_length)
        case FieldType.LONG_TEXT:
            return parse_long_text(value, spec.max_length)
        case FieldType.CATEGORY:
            return parse_nature(value)
    raise AssertionError(spec.type)  # pragma: no cover


# --- The whole piece ----------------------------------------------------------------------------


def _days(start: date, end: date) -> int:
    return (end - start).days + 1


def check(kind: PieceKind | str, raw: Mapping[str, Any], context: Context) -> Checked:
    """Every rule on the fields of a piece of `kind`; values of fields that do not apply to
    it (another kind's, distance activities for on-site training) are ignored."""
    result = Checked()
    specs = fields_for(kind, context)
    for spec in specs:
        value = raw.get(spec.name)
        if _is_empty(value):
            result.values[spec.attribute] = None
            if spec.required:
                result.add(spec.name, _required_message(spec))
            continue
        try:
            result.values[spec.attribute] = parse_field(spec, value)
        except RuleError as error:
            result.values[spec.attribute] = None
            result.add(spec.name, str(error))
    _check_period(result, context)
    _check_together(PieceKind(kind), result, context)
    return result


def _required_message(spec: FieldSpec) -> str:
    if spec.name == "distance_activities":
        return (
            "Pour une formation à distance, décrivez les activités réalisées et leur durée estimée."
        )
    return REQUIRED


def _check_period(result: Checked, context: Context) -> None:
    start, end = result.values.get("period_start"), result.values.get("period_end")
    action = formatting.period(context.action_start, context.action_end)
    if start is not None:
        if start < context.action_start or start > context.action_end:
            result.add(
                "period_start", f"La période doit être comprise dans celle de l'action ({action})."
            )
        elif start > context.today:
            result.add("period_start", "La période ne peut pas commencer après aujourd'hui.")
    if end is not None:
        if start is not None and end < start:
            result.add("period_end", "La fin de la période ne peut pas précéder son début.")
        elif end < context.action_start or end > context.action_end:
            result.add(
                "period_end", f"La période doit être comprise dans celle de l'action ({action})."
            )


def _period_days(result: Checked) -> int | None:
    """The number of days of the period, when it is readable and in order."""
    start, end = result.values.get("period_start"), result.values.get("period_end")
    if start is None or end is None or end < start:
        return None
    return _days(start, end)


def _check_hours_per_day(result: Checked, name: str) -> None:
    """`name` is the form field; its value is in minutes under its column."""
    column = HOURS_COLUMNS[name]
    minutes, days = result.values.get(column), _period_days(result)
    if minutes is not None and days is not None and minutes > 24 * 60 * days:
        result.add(
            name,
            f"{formatting.minutes(minutes)} sur une période de "
            f"{formatting.plural(days, 'jour', 'jours')} : c'est plus de 24 heures par jour, "
            "vérifiez la durée ou la période.",
        )


def _check_together(kind: PieceKind, result: Checked, context: Context) -> None:
    values = result.values
    if kind == PieceKind.INVOICE:
        invoice_date = values.get("invoice_date")
        if invoice_date is not None and invoice_date > context.today:
            result.add("invoice_date", "La date de la facture ne peut pas être dans le futur.")
        excl, incl = values.get("amount_excl_tax"), values.get("amount_incl_tax")
        if excl is not None and incl is not None and incl < excl:
            result.add(
                "amount_incl_tax", "Le montant TTC ne peut pas être inférieur au montant HT."
            )
        _check_hours_per_day(result, "hours_billed")
    elif kind == PieceKind.COMPLETION_CERTIFICATE:
        nature = values.get("nature")
        if nature == Category.APPRENTISSAGE:
            if values.get("months_completed") is None and "months_completed" not in result.errors:
                result.add(
                    "months_completed",
                    "Pour une action par apprentissage, indiquez la durée réalisée en mois.",
                )
        elif nature is not None:
            if values.get("minutes_completed") is None and "hours_completed" not in result.errors:
                result.add("hours_completed", "Indiquez la durée réalisée en heures.")
            if values.get("months_completed") is not None:
                result.add(
                    "months_completed",
                    "La durée en mois ne vaut que pour l'apprentissage : indiquez les heures.",
                )
        _check_hours_per_day(result, "hours_completed")
        signed_on, start = values.get("signed_on"), values.get("period_start")
        if signed_on is not None:
            if signed_on > context.today:
                result.add("signed_on", "La date de signature ne peut pas être dans le futur.")
            elif start is not None and signed_on < start:
                result.add(
                    "signed_on", "La date de signature ne peut pas précéder le début de la période."
                )
    elif kind == PieceKind.ATTENDANCE_SHEET:
        planned, signed = values.get("half_days_planned"), values.get("half_days_signed")
        days = _period_days(result)
        if planned is not None and days is not None and planned > 2 * days:
            result.add(
                "half_days_planned",
                f"Une période de {formatting.plural(days, 'jour', 'jours')} compte au plus "
                f"{2 * days} demi-journées.",
            )
        if planned is not None and signed is not None and signed > planned:
            result.add(
                "half_days_signed",
                "Le nombre de demi-journées signées ne peut pas dépasser celui des "
                "demi-journées prévues.",
            )
        _check_hours_per_day(result, "hours_attended")


# --- Writing values back ---------------------------------------------------------------------


def _fr(number: Decimal) -> str:
    """1234.5 → « 1 234,5 »."""
    return formatting.decimal(number)


# The pieces' figures, written as every page writes them.
format_money = formatting.money
format_hours = formatting.minutes  # the pieces' durations are kept in minutes


def format_value(spec: FieldSpec, value: Any) -> str:
    """A stored value as a French reader expects it."""
    if value is None or value == "":
        return "—"
    match spec.type:
        case FieldType.DATE:
            return formatting.date_fr(value)
        case FieldType.MONEY:
            return format_money(value)
        case FieldType.HOURS:
            return format_hours(value)
        case FieldType.MONTHS:
            return f"{_fr(value)}\u00a0mois"
        case FieldType.CATEGORY:
            return CATEGORY_LABELS.get(Category(value), value)
    return str(value)


def input_value(spec: FieldSpec, value: Any) -> str:
    """A stored value as a form field shows it (ISO dates for date inputs)."""
    if value is None:
        return ""
    if spec.type == FieldType.DATE:
        return value.isoformat()
    if spec.type == FieldType.HOURS:
        whole, rest = divmod(int(value), 60)  # 440 → « 7h20 », read back as typed
        return f"{whole}h{rest:02d}" if rest else str(whole)
    if isinstance(value, Decimal):
        return _fr(value).replace("\u202f", "")
    return str(value)
