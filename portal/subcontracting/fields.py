"""The fields of a subcontracting contract and of a CPF turnover, as typed: pure checks.

Like `portal.dossiers.rules` (whose parsers are reused: dates, amounts written the French
way, RNCP/RS codes), each check takes raw text and returns the clean value or a French
message; :func:`validate_contract` checks a whole contract and returns the clean
:class:`ContractData` or the messages by field. What needs the database (the public list,
the principal's own NDA) is the service's.

Amounts per year are typed one year a line, ``2025 : 12 000,50`` (``;``, ``=`` or a tab
also separate the year from the amount); the years lie within the contract's period and
the amounts add up to its price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from portal import formatting
from portal.dossiers.rules import (
    CATEGORY_LABELS,
    RuleError,
    parse_amount,
    parse_bool,
    parse_date,
    parse_rncp,
    parse_text,
)
from portal.identifiers import InvalidIdentifier, validate
from portal.models.subcontracting import CONTRACT_MENTIONS
from portal.subcontracting.rules import FIRST_CEILING_YEAR, ceiling_period

__all__ = [
    "BOOLEAN_FIELDS",
    "FIELD_LABELS",
    "MAX_ACTIONS",
    "ContractData",
    "format_yearly_amounts",
    "parse_as_of",
    "parse_categories",
    "parse_year",
    "parse_yearly_amounts",
    "validate_contract",
]

MAX_ACTIONS = 2000
MAX_NAME = 250

FIELD_LABELS: dict[str, str] = {
    "subcontractor_nda": "NDA du sous-traitant",
    "subcontractor_siret": "SIRET du sous-traitant",
    "subcontractor_name": "Dénomination du sous-traitant",
    "actions": "Actions concernées",
    "categories": "Catégories d'action concernées",
    "start_date": "Début du contrat",
    "end_date": "Fin du contrat",
    "is_cpf": "Action CPF (Mon Compte Formation / EDOF)",
    "certification_code": "Code RNCP ou RS de la certification",
    "whole_certification": (
        "Le sous-traitant réalise la totalité de l'action certifiante ou au moins un bloc de "
        "compétences"
    ),
    "price": "Prix du contrat (€)",
    "yearly_amounts": "Montants par année civile (facultatif)",
    "micro_entrepreneur": "Le sous-traitant relève du régime micro-social (micro-entrepreneur)",
    "micro_turnover": "Chiffre d'affaires du micro-entrepreneur (€)",
    "authorisation_declared": "Le certificateur a habilité le sous-traitant à former",
    "dereferenced": "Le sous-traitant est déréférencé de Mon Compte Formation",
    **{name: f"Le contrat mentionne {label}" for name, label in CONTRACT_MENTIONS},
}

BOOLEAN_FIELDS: tuple[str, ...] = (
    "is_cpf",
    "whole_certification",
    "micro_entrepreneur",
    "authorisation_declared",
    "dereferenced",
    *(name for name, _ in CONTRACT_MENTIONS),
)


@dataclass(frozen=True)
class ContractData:
    subcontractor_nda: str
    subcontractor_siret: str
    subcontractor_name: str | None  # None: to be taken from the public list
    actions: str
    categories: tuple[str, ...]
    start_date: date
    end_date: date
    is_cpf: bool
    certification_code: str | None
    whole_certification: bool
    price: Decimal
    yearly_amounts: dict[int, Decimal]
    mentions: dict[str, bool]
    micro_entrepreneur: bool
    micro_turnover: Decimal | None
    authorisation_declared: bool
    dereferenced: bool


def _identifier(value: Any, kind: str) -> str:
    try:
        return validate(str(value or ""), kind)  # type: ignore[arg-type]
    except InvalidIdentifier as error:
        raise RuleError(str(error)) from None


def parse_categories(values: Any) -> tuple[str, ...]:
    """Category keys ticked (a list, or a comma-separated text), in the order of the law."""
    if isinstance(values, str):
        values = values.split(",")
    chosen = {str(v).strip() for v in values or () if str(v).strip()}
    unknown = chosen - {str(c) for c in CATEGORY_LABELS}
    if unknown:
        raise RuleError(f"Catégorie inconnue : {', '.join(sorted(unknown))}.")
    if not chosen:
        raise RuleError("Cochez au moins une catégorie d'action.")
    return tuple(str(c) for c in CATEGORY_LABELS if str(c) in chosen)


def parse_year(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    if text.endswith(".0"):  # a number cell
        text = text[:-2]
    if not re.fullmatch(r"\d{4}", text):
        raise RuleError(f"Année « {text} » illisible : écrivez-la sur 4 chiffres (2025).")
    year = int(text)
    if not FIRST_CEILING_YEAR <= year <= 2099:
        raise RuleError(
            f"Année {year} hors du plafond CPF, qui s'applique de {FIRST_CEILING_YEAR} à 2099."
        )
    return year


def parse_as_of(value: Any, year: int) -> date | None:
    """The optional date a turnover is counted up to, within the ceiling period of `year`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    day = parse_date(value)
    period = ceiling_period(year)
    assert period is not None
    if not period[0] <= day <= period[1]:
        raise RuleError(
            f"La date d'arrêté doit tomber dans la période du plafond {year} (du "
            f"{formatting.date_fr(period[0])} au {formatting.date_fr(period[1])})."
        )
    return day


_YEAR_LINE = re.compile(r"^\s*(\d{4})\s*[:;=\t]\s*(.+?)\s*$")


def parse_yearly_amounts(text: Any) -> dict[int, Decimal]:
    amounts: dict[int, Decimal] = {}
    for number, line in enumerate(str(text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _YEAR_LINE.match(line)
        if not match:
            raise RuleError(
                f"Ligne {number} illisible : écrivez une année par ligne, suivie de son "
                "montant (2025 : 12 000,50)."
            )
        year = int(match.group(1))
        if year in amounts:
            raise RuleError(f"L'année {year} figure deux fois.")
        try:
            amounts[year] = parse_amount(match.group(2))
        except RuleError as error:
            raise RuleError(f"Année {year} : {error}") from None
    return amounts


def format_yearly_amounts(amounts: Mapping[int, Decimal]) -> str:
    """The text the form shows for amounts per year (the reverse of the parser)."""
    return "\n".join(
        f"{year} : {f'{amount:.2f}'.replace('.', ',')}" for year, amount in sorted(amounts.items())
    )


def _collect(raw: Mapping[str, Any], errors: dict[str, list[str]], name: str, parse: Any) -> Any:
    try:
        return parse(raw.get(name))
    except RuleError as error:
        errors.setdefault(name, []).append(str(error))
        return None


def validate_contract(
    raw: Mapping[str, Any],
) -> tuple[ContractData | None, dict[str, list[str]]]:
    """Check every field of a contract typed in the form; the clean data and no errors, or
    None and the French messages by field."""
    errors: dict[str, list[str]] = {}
    nda = _collect(raw, errors, "subcontractor_nda", lambda v: _identifier(v, "nda"))
    siret = _collect(raw, errors, "subcontractor_siret", lambda v: _identifier(v, "siret"))
    name_text = " ".join(str(raw.get("subcontractor_name") or "").split())
    if len(name_text) > MAX_NAME:
        errors.setdefault("subcontractor_name", []).append(f"Au plus {MAX_NAME} caractères.")
    actions = _collect(raw, errors, "actions", lambda v: parse_text(v, MAX_ACTIONS))
    categories = _collect(raw, errors, "categories", parse_categories)
    start = _collect(raw, errors, "start_date", parse_date)
    end = _collect(raw, errors, "end_date", parse_date)
    if start is not None and end is not None and end < start:
        errors.setdefault("end_date", []).append(
            "La fin du contrat doit être égale ou postérieure à son début."
        )
    flags = {name: bool(_collect(raw, errors, name, parse_bool)) for name in BOOLEAN_FIELDS}
    code = _collect(raw, errors, "certification_code", parse_rncp)
    if flags["whole_certification"] and code is None and "certification_code" not in errors:
        errors.setdefault("certification_code", []).append(
            "Indiquez le code RNCP ou RS de la certification que le sous-traitant prépare en "
            "entier (ou dont il réalise un bloc de compétences)."
        )
    price = _collect(raw, errors, "price", parse_amount)
    yearly = _collect(raw, errors, "yearly_amounts", parse_yearly_amounts) or {}
    if yearly and start is not None and end is not None:
        outside = sorted(y for y in yearly if not start.year <= y <= end.year)
        if outside:
            errors.setdefault("yearly_amounts", []).append(
                ("Année" if len(outside) == 1 else "Années")
                + f" hors de la période du contrat : {', '.join(map(str, outside))}."
            )
        if price is not None and sum(yearly.values()) != price:
            total = f"{sum(yearly.values()):.2f}".replace(".", ",")
            errors.setdefault("yearly_amounts", []).append(
                f"Les montants par année totalisent {total} € : leur somme doit être égale au "
                "prix du contrat."
            )
    micro_turnover = None
    if flags["micro_entrepreneur"]:
        micro_turnover = _collect(raw, errors, "micro_turnover", parse_amount)
    if errors:
        return None, errors
    return (
        ContractData(
            subcontractor_nda=nda,
            subcontractor_siret=siret,
            subcontractor_name=name_text or None,
            actions=actions,
            categories=categories,
            start_date=start,
            end_date=end,
            is_cpf=flags["is_cpf"],
            certification_code=code,
            whole_certification=flags["whole_certification"],
            price=price,
            yearly_amounts=yearly,
            mentions={name: flags[name] for name, _ in CONTRACT_MENTIONS},
            micro_entrepreneur=flags["micro_entrepreneur"],
            micro_turnover=micro_turnover,
            authorisation_declared=flags["authorisation_declared"],
            dereferenced=flags["dereferenced"],
        ),
        {},
    )
