"""The rules of a dossier's fields, shared by the form and the import: pure functions.

No database and no request here: each ``parse_*`` function takes a raw value (the text of
a form field or of a CSV cell, or an XLSX cell: ``int``, ``float``, ``date``…) and returns
the clean value, or raises :class:`RuleError` whose text is a French message for the user.
:func:`validate_dossier` applies them all, then the rules that tie fields together, and
returns the clean :class:`DossierData` or the messages of every field in error.

- **Reference** (the funder's own): 1 to 50 characters, letters, digits and ``- _ / .``,
  starting with a letter or a digit; kept as typed (its uniqueness per funder is checked
  by the service, against the database).
- **OF**: a SIRET (14 digits, checksum) or an NDA (11 digits), spaces and dots allowed; a
  SIREN alone is refused (it does not say which declaration or establishment).
- **RNCP / RS code** (optional): ``RNCP`` or ``RS`` followed by digits, in any case, with
  or without a space or a dash in between; normalised to ``RNCP12345`` / ``RS5678``.
- **Dates**: ``jj/mm/aaaa`` or ``aaaa-mm-jj`` (or a date cell), years 2000 to 2099; the
  end is on or after the start.
- **Durations** (planned hours here, the pieces' hours in :mod:`portal.dossiers.piece_rules`)
  are kept as whole **minutes** (13 h 30 is 810 minutes, 7 h 20 is 440: three certificats
  of 7 h 20 prove 22 h exactly). :func:`parse_duration` reads ``13h30``, ``13 h 30``,
  ``13 h 30 min``, ``13:30``, ``13,5``, ``13.5``, ``1 200`` or a number cell (hours), to the
  nearest minute (at most 2 decimals: ``7,33`` is 7 h 20), below 1,000,000 hours; the
  planned duration is more than 0.
- **Agreed amount** in euros: a decimal number ≥ 0 with at most 2 decimals, written the
  French way or not: ``1 234,50``, ``1234.50``, ``1.234,50``, ``1 234,50 €``; never a float
  (an XLSX number cell goes through its shortest decimal writing).
- **Category, scheme, modality, payment rhythm, status**: the stable key (``ptp``,
  ``presentiel``…) or the French label, in any case, with or without accents.
- **Payment rhythm and scheme**: a PTP is paid monthly (Transitions Pro), any other rhythm
  is refused for a PTP, and so is any category but an action de formation (Transitions Pro
  funds no bilan de compétences, VAE or apprenticeship as such); payment by instalments
  needs the number of instalments, 2 to :data:`MAX_INSTALMENTS` (ignored for the other
  rhythms).
- **Subcontracting**: yes/no (``oui``, ``non``, ``vrai``, ``faux``, ``1``, ``0``, ``x``; empty
  means no).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from portal import formatting
from portal.identifiers import Identifier, InvalidIdentifier, classify
from portal.models.dossiers import (
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    SCHEME_LABELS,
    Category,
    PaymentRhythm,
    Scheme,
)

__all__ = [
    "CATEGORY_LABELS",
    "FIELDS",
    "FIELD_LABELS",
    "MAX_INSTALMENTS",
    "DossierData",
    "RuleError",
    "parse_amount",
    "parse_bool",
    "parse_category",
    "parse_date",
    "parse_decimal",
    "parse_duration",
    "parse_hours",
    "parse_instalments",
    "parse_modality",
    "parse_provider",
    "parse_reference",
    "parse_rhythm",
    "parse_rncp",
    "parse_scheme",
    "parse_status",
    "parse_text",
    "rhythm_error",
    "validate_dossier",
]

REQUIRED = "Ce champ est obligatoire."
MAX_INSTALMENTS = 60
REFERENCE_MAX = 50
MAX_HOURS = Decimal("999999.99")
MAX_MINUTES = 59_999_999  # 999,999 h 59: an Integer column
MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)
CENT = Decimal("0.01")

#: The four categories of action (art. L.6313-1), keyed as in the public list.
CATEGORY_LABELS: dict[Category, str] = {
    Category.ACTIONS_FORMATION: "Action de formation",
    Category.BILANS_COMPETENCES: "Bilan de compétences",
    Category.VAE: "Validation des acquis de l'expérience (VAE)",
    Category.APPRENTISSAGE: "Action de formation par apprentissage",
}

#: Other spellings accepted in a file: the public list's labels, and the short names.
CATEGORY_ALIASES: dict[str, str] = {
    "Actions de formation": Category.ACTIONS_FORMATION.value,
    "Formation": Category.ACTIONS_FORMATION.value,
    "Bilans de compétences": Category.BILANS_COMPETENCES.value,
    "Validation des acquis de l'expérience": Category.VAE.value,
    "Actions de formation par apprentissage": Category.APPRENTISSAGE.value,
    "Apprentissage": Category.APPRENTISSAGE.value,
}

#: The fields of a dossier, in the order of the form and of the import file.
FIELDS: tuple[str, ...] = (
    "reference",
    "provider",
    "beneficiary_last_name",
    "beneficiary_first_name",
    "action_title",
    "category",
    "scheme",
    "rncp_code",
    "modality",
    "start_date",
    "end_date",
    "planned_hours",
    "agreed_amount",
    "payment_rhythm",
    "instalments",
    "subcontracted",
)

FIELD_LABELS: dict[str, str] = {
    "reference": "Référence du dossier",
    "provider": "Organisme de formation (SIRET ou NDA)",
    "beneficiary_last_name": "Nom du bénéficiaire",
    "beneficiary_first_name": "Prénom du bénéficiaire",
    "action_title": "Intitulé de l'action",
    "category": "Catégorie d'action",
    "scheme": "Dispositif",
    "rncp_code": "Code RNCP ou RS",
    "modality": "Modalité",
    "start_date": "Date de début",
    "end_date": "Date de fin",
    "planned_hours": "Durée prévue (heures)",
    "agreed_amount": "Montant accordé (€)",
    "payment_rhythm": "Rythme de paiement",
    "instalments": "Nombre d'échéances",
    "subcontracted": "Sous-traitance",
    "status": "Statut",
}


class RuleError(ValueError):
    """A value that breaks a rule; ``str(exc)`` is a French message for the user."""


@dataclass(frozen=True)
class DossierData:
    """The clean values of a dossier, as the model stores them."""

    reference: str
    provider: Identifier
    beneficiary_last_name: str
    beneficiary_first_name: str
    action_title: str
    category: str
    scheme: str
    rncp_code: str | None
    modality: str
    start_date: date
    end_date: date
    planned_minutes: int
    agreed_amount: Decimal
    payment_rhythm: str
    instalments: int | None
    subcontracted: bool
    status: str | None = None  # None: unchanged (creation: open)


# --- Helpers ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell or a field as stripped text ("" for None)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fold(text: str) -> str:
    """Lower case, no accents, one space between words, for matching keys and labels."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower().replace("’", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("_", " ").replace("-", " ").split())


def _required(value: Any) -> str:
    text = _text(value)
    if not text:
        raise RuleError(REQUIRED)
    return text


# --- One field at a time ---------------------------------------------------------------------

_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


def parse_reference(value: Any) -> str:
    text = _required(value)
    if len(text) > REFERENCE_MAX:
        raise RuleError(f"La référence compte au plus {REFERENCE_MAX} caractères.")
    if not _REFERENCE.match(text):
        raise RuleError(
            "La référence ne peut contenir que des lettres sans accent, des chiffres et les "
            "signes - _ / . (sans espace), et commence par une lettre ou un chiffre."
        )
    return text


def parse_text(value: Any, max_length: int) -> str:
    text = " ".join(_required(value).split())
    if len(text) > max_length:
        raise RuleError(f"Au plus {max_length} caractères.")
    return text


def parse_name(value: Any, max_length: int) -> str:
    """A person's name: on one line, without a tab or a control character."""
    raw = _required(value)
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in str(raw)):
        raise RuleError(
            "Ce nom doit tenir sur une ligne, sans retour à la ligne, tabulation ni caractère "
            "de contrôle."
        )
    return parse_text(raw, max_length)


def parse_provider(value: Any) -> Identifier:
    text = _required(value)
    try:
        ident = classify(text)
    except InvalidIdentifier as error:
        raise RuleError(str(error)) from error
    if ident.kind == "siren":
        raise RuleError(
            "Un SIREN ne suffit pas : indiquez le SIRET de l'établissement (14 chiffres) "
            "ou le numéro de déclaration d'activité (11 chiffres) de l'organisme."
        )
    return ident


def _choice(
    value: Any, labels: Mapping[Any, str], what: str, aliases: Mapping[str, str] | None = None
) -> str:
    text = _required(value)
    if text in labels:  # the key itself (the API, the forms' choices)
        return str(text)
    folded = _fold(text)
    for key, label in labels.items():
        if folded in (_fold(str(key)), _fold(label)):
            return str(key)
    for alias, key in (aliases or {}).items():
        if folded == _fold(alias):
            return key
    keys = ", ".join(str(key) for key in labels)
    raise RuleError(f"{what} « {text} » inconnu(e) : valeurs possibles {keys}.")


def parse_category(value: Any) -> str:
    return _choice(value, CATEGORY_LABELS, "Catégorie", CATEGORY_ALIASES)


def parse_scheme(value: Any) -> str:
    return _choice(value, SCHEME_LABELS, "Dispositif")


def parse_modality(value: Any) -> str:
    return _choice(value, MODALITY_LABELS, "Modalité")


def parse_rhythm(value: Any) -> str:
    return _choice(value, PAYMENT_RHYTHM_LABELS, "Rythme de paiement")


def parse_status(value: Any) -> str:
    return _choice(value, DOSSIER_STATUS_LABELS, "Statut")


_RNCP = re.compile(r"^(RNCP|RS)[\s-]?(\d{1,8})$")


def parse_rncp(value: Any) -> str | None:
    """An optional RNCP or RS code, normalised upper case without separator."""
    text = _text(value)
    if not text:
        return None
    match = _RNCP.match(text.upper())
    if not match:
        raise RuleError(
            f"Code « {text} » invalide : écrivez RNCP suivi de chiffres (RNCP34567) "
            "ou RS suivi de chiffres (RS5678)."
        )
    return match.group(1) + match.group(2)


DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = _required(value)
        for fmt in DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            raise RuleError(f"Date « {text} » illisible : écrivez-la jj/mm/aaaa (15/03/2026).")
    if not 2000 <= parsed.year <= 2099:
        raise RuleError(
            f"Date {formatting.date_fr(parsed)} hors des années 2000 à 2099 : vérifiez-la."
        )
    return parsed


_SPACES = " \u00a0\u202f\u2009'"
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def parse_decimal(value: Any) -> Decimal:
    """A decimal number typed the French way or not, or a number cell; never via a float
    (a float cell is read through its shortest decimal writing, which is what was typed)."""
    if isinstance(value, bool):
        raise RuleError(f"« {value} » n'est pas un nombre.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    text = _required(value)
    compact = text.removesuffix("€").removesuffix("EUR").strip()
    compact = "".join(ch for ch in compact if ch not in _SPACES)
    if "," in compact and "." in compact:
        decimal_mark = "," if compact.rfind(",") > compact.rfind(".") else "."
        whole, _, fraction = compact.rpartition(decimal_mark)
        if not _GROUPED.match(whole):
            raise RuleError(f"« {text} » n'est pas un nombre lisible : écrivez 1234,50.")
        compact = whole.replace(",", "").replace(".", "") + "." + fraction
    else:
        compact = compact.replace(",", ".")
    if not re.fullmatch(r"-?\d+(?:\.\d*)?|-?\.\d+", compact):
        raise RuleError(f"« {text} » n'est pas un nombre lisible : écrivez 1234,50.")
    try:
        return Decimal(compact)
    except InvalidOperation:  # pragma: no cover - the pattern above prevents it
        raise RuleError(f"« {text} » n'est pas un nombre lisible.") from None


_decimal = parse_decimal  # the name piece_rules imported first


def _decimals(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


_HOURS_MINUTES = re.compile(
    r"^(\d{1,3}(?:[ \u00a0\u202f]\d{3})*|\d+)\s*(?:h|:)\s*(?:(\d{1,2})\s*(?:min|mn|m)?)?$",
    re.IGNORECASE,
)
_HOURS_SUFFIX = re.compile(r"\s*(?:h|heures?)$", re.IGNORECASE)
DURATION_HELP = "écrivez par exemple 13h30, 13:30 ou 13,5 (en heures)"


def parse_duration(value: Any, *, positive: bool = False) -> int:
    """A duration in hours as typed (``13h30``, ``13 h 30``, ``13:30``, ``13,5``, ``13.5``,
    ``14 h``) or a number of hours given by a cell or by code, as whole minutes (≥ 0; to
    the nearest minute; more than 0 when `positive`). `RuleError` (French, saying what to
    type) when unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RuleError(REQUIRED)
    typed = str(value).strip()
    if isinstance(value, str):
        text = value.strip()
        if match := _HOURS_MINUTES.match(text):
            hours = int("".join(ch for ch in match.group(1) if ch.isdigit()))
            minutes = int(match.group(2) or 0)
            if minutes >= 60:
                raise RuleError(f"« {text} » : les minutes vont de 0 à 59 ; {DURATION_HELP}.")
            return _bounded(hours * 60 + minutes, positive)
        value = _HOURS_SUFFIX.sub("", text)
    try:
        number = parse_decimal(value)
    except RuleError:
        raise RuleError(f"« {typed} » n'est pas une durée lisible : {DURATION_HELP}.") from None
    if _decimals(number) > 2:
        raise RuleError(f"Au plus 2 décimales (7,25 heures) : {DURATION_HELP}.")
    if number < 0 and not positive:
        raise RuleError("Une durée ne peut pas être négative.")
    if number > MAX_HOURS:
        raise RuleError("Durée trop grande : vérifiez-la (en heures).")
    return _bounded(int((number * 60).to_integral_value(ROUND_HALF_UP)), positive)


def _bounded(minutes: int, positive: bool) -> int:
    if positive and minutes <= 0:
        raise RuleError("La durée prévue doit être supérieure à 0 heure.")
    if minutes > MAX_MINUTES:
        raise RuleError("Durée trop grande : vérifiez-la (en heures).")
    return minutes


def parse_hours(value: Any) -> int:
    """The planned duration of a dossier, in minutes (more than 0)."""
    return parse_duration(value, positive=True)


def parse_amount(value: Any) -> Decimal:
    number = parse_decimal(value)
    if _decimals(number) > 2:
        raise RuleError("Montant : au plus 2 décimales (les centimes).")
    if number < 0:
        raise RuleError("Le montant accordé ne peut pas être négatif.")
    if number > MAX_AMOUNT:
        raise RuleError("Montant trop grand : vérifiez-le (en euros).")
    return number.quantize(CENT)


def parse_instalments(value: Any) -> int | None:
    """The number of instalments, or None when not given (checked with the rhythm)."""
    if value is None or _text(value) == "":
        return None
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise RuleError("Le nombre d'échéances est un nombre entier.")
    return int(number)


_TRUE = {"oui", "o", "vrai", "true", "1", "x", "yes", "y", "on"}
_FALSE = {"non", "n", "faux", "false", "0", "no", "off", ""}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    folded = _fold(_text(value))
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise RuleError(f"« {_text(value)} » : répondez oui ou non.")


# --- Rules between fields --------------------------------------------------------------------


def scheme_category_error(scheme: str, category: str) -> str | None:
    """A PTP (Transitions Pro) funds an action de formation only (art. L.6323-17-1): not a
    bilan de compétences, a VAE or an apprenticeship as such."""
    if scheme == Scheme.PTP and category != Category.ACTIONS_FORMATION:
        label = CATEGORY_LABELS.get(Category(category), category)
        return (
            f"Un projet de transition professionnelle (PTP) finance une action de formation, "
            f"pas « {label} » : choisissez « Action de formation » ou un autre dispositif."
        )
    return None


def rhythm_error(scheme: str, rhythm: str) -> str | None:
    """The message when the payment rhythm does not suit the scheme (None: it does)."""
    if scheme == Scheme.PTP and rhythm != PaymentRhythm.MONTHLY:
        return (
            "Un projet de transition professionnelle (PTP) est payé mensuellement : "
            "choisissez le rythme « Mensuel »."
        )
    return None


def instalments_error(rhythm: str, instalments: int | None) -> str | None:
    if rhythm != PaymentRhythm.INSTALMENTS:
        return None
    if instalments is None:
        return "Indiquez le nombre d'échéances (au moins 2) pour un paiement par échéances."
    if not 2 <= instalments <= MAX_INSTALMENTS:
        return f"Le nombre d'échéances va de 2 à {MAX_INSTALMENTS}."
    return None


# --- The whole dossier -----------------------------------------------------------------------

_PARSERS = {
    "reference": parse_reference,
    "provider": parse_provider,
    "beneficiary_last_name": lambda v: parse_name(v, 100),
    "beneficiary_first_name": lambda v: parse_name(v, 100),
    "action_title": lambda v: parse_text(v, 300),
    "category": parse_category,
    "scheme": parse_scheme,
    "rncp_code": parse_rncp,
    "modality": parse_modality,
    "start_date": parse_date,
    "end_date": parse_date,
    "planned_hours": parse_hours,
    "agreed_amount": parse_amount,
    "payment_rhythm": parse_rhythm,
    "instalments": parse_instalments,
    "subcontracted": parse_bool,
    "status": parse_status,
}


def validate_dossier(
    raw: Mapping[str, Any],
) -> tuple[DossierData | None, dict[str, list[str]]]:
    """Every rule on `raw` (keys of :data:`FIELDS`, and ``status`` when given).

    Returns the clean data and no errors, or None and the French messages by field.
    """
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    fields = (*FIELDS, "status") if "status" in raw else FIELDS
    for name in fields:
        try:
            clean[name] = _PARSERS[name](raw.get(name))
        except RuleError as error:
            errors.setdefault(name, []).append(str(error))
    start, end = clean.get("start_date"), clean.get("end_date")
    if start is not None and end is not None and end < start:
        errors.setdefault("end_date", []).append(
            "La date de fin doit être égale ou postérieure à la date de début."
        )
    scheme, rhythm = clean.get("scheme"), clean.get("payment_rhythm")
    category = clean.get("category")
    if scheme is not None and category is not None:
        message = scheme_category_error(scheme, category)
        if message:
            errors.setdefault("category", []).append(message)
    if scheme is not None and rhythm is not None:
        message = rhythm_error(scheme, rhythm)
        if message:
            errors.setdefault("payment_rhythm", []).append(message)
    if rhythm is not None and "instalments" in clean:
        message = instalments_error(rhythm, clean["instalments"])
        if message:
            errors.setdefault("instalments", []).append(message)
        if rhythm != PaymentRhythm.INSTALMENTS:
            clean["instalments"] = None
    if errors:
        return None, errors
    clean.setdefault("status", None)
    clean["planned_minutes"] = clean.pop("planned_hours")
    return DossierData(**clean), {}
