"""Whether a subcontracting contract complies, and the 80 % CPF ceiling: pure functions.

No database and no request here: the services (`portal.subcontracting.services`) gather
the facts (the contract as :class:`Contract`, the public list's history of the
subcontractor's NDA as :class:`ListHistory`, the other contracts that make a chain, the
OF's CPF turnover) and these functions judge them. Every rule returns a :class:`Check`:
its outcome and, in French, the fact that made it pass or fail.

The rules (the rules of the field, "Subcontracting and the CPF ceiling"; décret n° 2023-1350, art.
R.6333-6-2; arrêté of 3 January 2024; guide de lecture Qualiopi V9):

``nda``
    The subcontractor's NDA is in the public list on every day of the contract (from the
    portal's history of the list). Applies to every subcontractor, micro-entrepreneurs too.
``certification``
    The subcontractor is certified Qualiopi for each category concerned on every day of
    the contract; a certification lost mid-contract fails from the list that dropped it.
    Exempt: a micro-entrepreneur (micro-social regime) whose turnover is at most the
    threshold of the year of that turnover (the contract's first year): a dated table,
    77,700 € for 2023–2025 (:data:`DEFAULT_MICRO_THRESHOLDS`); a later year takes the
    latest known threshold, said "à confirmer", until it is set (setting
    ``MICRO_ENTREPRENEUR_THRESHOLDS``). Outside the CPF the rule is a point of attention.
``authorisation`` (CPF)
    When the subcontractor delivers a whole certifying action (RNCP/RS) or at least a bloc
    de compétences: the certifier's authorisation to train is declared, with its document.
    Exempt as above.
``sub_subcontracting`` (CPF)
    A subcontractor may not subcontract: the contract fails when its subcontractor itself
    declares a contract for the same actions (overlapping periods, and the same RNCP/RS
    code, or a common category when either has no code), or when the principal is itself
    a subcontractor for the same actions; the chains are given.
``dereferenced``
    A subcontractor dereferenced from Mon Compte Formation may not take a CPF action.
``written_contract``
    The signed contract is deposited.
``checklist`` (CPF)
    The contract states every mandatory element (:data:`CONTRACT_MENTIONS`).
``ceiling``
    Per calendar year (for 2024: 1 April–31 December), the subcontracted CPF turnover is
    at most 80 % of the OF's CPF turnover through Mon Compte Formation / EDOF: a breach
    above 80 %, a warning from 70 % (setting ``CPF_CEILING_WARNING``), of the ratio to date
    or of its projection at the end of the period. A contract counts for its amount of the
    year when given, for the part of its days of that year that falls inside the period (a
    contract ended on 31 March 2024 counts for nothing in 2024), else for its price pro
    rata of its days within the period.

**CPF or not.** The rules of décret n° 2023-1350 (R.6333-6-2: certification and the
certifier's authorisation, no sub-subcontracting, not dereferenced, the contract's
mentions) bind CPF contracts. Outside the CPF the ordering OF answers for its
subcontractor through indicator 27: an NDA and a written contract are required, and the
subcontractor's certification is a point of attention (warning), never a bar to payment;
the CPF-only rules are "sans objet".

Periods never known to the portal (before the first list imported) cannot be checked: the
fact says from when the check holds. With no list at all, the outcome is "non
vérifiable", which is not compliant.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal import formatting
from portal.models.subcontracting import CONTRACT_MENTIONS
from portal.public_list.history import CATEGORY_LABELS, certification_intervals

__all__ = [
    "CEILING_RATE",
    "DEFAULT_MICRO_THRESHOLD",
    "DEFAULT_WARNING_RATE",
    "FIRST_CEILING_YEAR",
    "OUTCOME_LABELS",
    "RULE_LABELS",
    "Ceiling",
    "Check",
    "ComplianceResult",
    "Contract",
    "ContractCompliance",
    "ListHistory",
    "ListPeriod",
    "Outcome",
    "Settings",
    "Turnover",
    "ceiling_period",
    "chain_label",
    "chains",
    "contract_share",
    "evaluate_ceiling",
    "evaluate_contract",
    "first_gap",
    "micro_exemption",
    "micro_thresholds",
    "same_actions",
]

DEFAULT_MICRO_THRESHOLD = Decimal("77700")
#: The micro-social regime's turnover ceiling for services, by year of the turnover
#: (revised every three years; 2026–2028: to confirm, hence absent until set).
DEFAULT_MICRO_THRESHOLDS: Mapping[int, Decimal] = {
    2023: DEFAULT_MICRO_THRESHOLD,
    2024: DEFAULT_MICRO_THRESHOLD,
    2025: DEFAULT_MICRO_THRESHOLD,
}
DEFAULT_WARNING_RATE = Decimal("0.70")
CEILING_RATE = Decimal("0.80")  # arrêté of 3 January 2024
FIRST_CEILING_YEAR = 2024
CEILING_START_2024 = date(2024, 4, 1)
CENT = Decimal("0.01")
ONE_DAY = timedelta(days=1)


class Outcome(enum.StrEnum):
    PASS = "conforme"  # noqa: S105  (not a password)
    WARNING = "alerte"
    FAIL = "non_conforme"
    EXEMPT = "exempte"
    NOT_APPLICABLE = "sans_objet"
    UNKNOWN = "non_verifiable"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.PASS: "Conforme",
    Outcome.WARNING: "Alerte",
    Outcome.FAIL: "Non conforme",
    Outcome.EXEMPT: "Exempté",
    Outcome.NOT_APPLICABLE: "Sans objet",
    Outcome.UNKNOWN: "Non vérifiable",
}
PASSING = frozenset({Outcome.PASS, Outcome.WARNING, Outcome.EXEMPT, Outcome.NOT_APPLICABLE})

RULE_LABELS: dict[str, str] = {
    "nda": "NDA du sous-traitant dans la liste publique",
    "certification": "Certification Qualiopi du sous-traitant pour les catégories concernées",
    "authorisation": "Habilitation du certificateur à former",
    "sub_subcontracting": "Pas de sous-traitance en cascade",
    "dereferenced": "Sous-traitant non déréférencé de Mon Compte Formation",
    "written_contract": "Contrat écrit et signé",
    "checklist": "Mentions obligatoires du contrat",
    "ceiling": "Plafond de 80 % du chiffre d'affaires CPF",
}


def micro_thresholds(setting: str | Mapping[int, Decimal] | None) -> dict[int, Decimal]:
    """The dated table: the defaults, with the years a setting adds or changes
    (``"2026=83600,2027=83600"`` or a mapping)."""
    table = dict(DEFAULT_MICRO_THRESHOLDS)
    if not setting:
        return table
    if isinstance(setting, Mapping):
        table.update({int(y): Decimal(str(v)) for y, v in setting.items()})
        return table
    for item in str(setting).replace(";", ",").split(","):
        if item.strip():
            year, _, amount = item.partition("=")
            table[int(year)] = Decimal(amount.strip())
    return table


@dataclass(frozen=True)
class Settings:
    # One threshold for every year (an override; None: the dated table).
    micro_threshold: Decimal | None = None
    warning_rate: Decimal = DEFAULT_WARNING_RATE
    micro_thresholds: Mapping[int, Decimal] = field(
        default_factory=lambda: dict(DEFAULT_MICRO_THRESHOLDS)
    )

    def micro_threshold_for(self, year: int) -> tuple[Decimal, bool]:
        """The threshold for a turnover of `year`, and whether it is confirmed: a year
        not in the table takes the closest earlier year's, "à confirmer"."""
        if self.micro_threshold is not None:
            return self.micro_threshold, True
        if year in self.micro_thresholds:
            return self.micro_thresholds[year], True
        earlier = [y for y in self.micro_thresholds if y < year]
        known = max(earlier) if earlier else min(self.micro_thresholds, default=None)
        if known is None:
            return DEFAULT_MICRO_THRESHOLD, False
        return self.micro_thresholds[known], False

    def micro_thresholds_label(self) -> str:
        """« 77 700,00 € (2023 à 2025) ; années suivantes : à confirmer »."""
        if self.micro_threshold is not None:
            return f"{_money(self.micro_threshold)} (toutes années)"
        runs: list[tuple[int, int, Decimal]] = []
        for year in sorted(self.micro_thresholds):
            amount = self.micro_thresholds[year]
            if runs and runs[-1][1] == year - 1 and runs[-1][2] == amount:
                runs[-1] = (runs[-1][0], year, amount)
            else:
                runs.append((year, year, amount))
        parts = [
            f"{_money(amount)} ({first} à {last})"
            if first != last
            else f"{_money(amount)} ({first})"
            for first, last, amount in runs
        ]
        return " ; ".join([*parts, "années suivantes : à confirmer"])


@dataclass(frozen=True)
class Check:
    """The outcome of one rule and the fact it rests on (French)."""

    rule: str
    outcome: Outcome
    fact: str

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING

    @property
    def label(self) -> str:
        return RULE_LABELS[self.rule]

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]


# --- Facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """A subcontracting contract as the rules see it."""

    id: int | None
    principal_nda: str
    principal_name: str
    subcontractor_nda: str
    subcontractor_name: str
    start: date
    end: date
    categories: tuple[str, ...]
    is_cpf: bool = False
    certification_code: str | None = None  # None: the action is not certifying
    whole_certification: bool = False
    price: Decimal = Decimal(0)
    yearly_amounts: Mapping[int, Decimal] = field(default_factory=dict)
    signed_contract: str | None = None  # the file's name; None: no signed contract
    mentions: Mapping[str, bool] = field(default_factory=dict)
    micro_entrepreneur: bool = False
    micro_turnover: Decimal | None = None
    micro_turnover_year: int | None = None  # None: the contract's first year
    authorisation_declared: bool = False
    authorisation_document: str | None = None  # the file's name
    dereferenced: bool = False


@dataclass(frozen=True)
class ListPeriod:
    """What the public list said about an NDA from `valid_from` to `valid_to` (excluded;
    None while it holds): the shape of `ListVersion`, read by `certification_intervals`."""

    valid_from: date
    valid_to: date | None
    actions_formation: bool = False
    bilans_competences: bool = False
    vae: bool = False
    apprentissage: bool = False


@dataclass(frozen=True)
class ListHistory:
    """The portal's history of the public list for one NDA: its versions, and the date of
    the first list imported (None: no list ever imported), before which nothing is known."""

    versions: Sequence[ListPeriod]
    since: date | None


# --- Dates ---------------------------------------------------------------------------------


def _fr(day: date) -> str:
    return formatting.date_fr(day)


def _money(value: Decimal) -> str:
    return formatting.money(value)


def _percent(rate: Decimal) -> str:
    return formatting.percent(rate)


def _days(start: date, end: date) -> int:
    """Days from `start` to `end`, both included (0 when end < start)."""
    return max((end - start).days + 1, 0)


def first_gap(
    start: date, end: date, intervals: Iterable[tuple[date, date | None]]
) -> tuple[date, date] | None:
    """The first days of [start, end] (both included) that no interval covers, as
    (first, last) included; None when the intervals cover it all. An interval is
    [from, to) with `to` None while it holds."""
    cursor = start
    for begin, until in sorted(intervals, key=lambda i: i[0]):
        if cursor > end:
            return None
        if begin > cursor:
            return cursor, min(begin - ONE_DAY, end)
        if until is None:
            return None
        cursor = max(cursor, until)
    return (cursor, end) if cursor <= end else None


def _checked_window(contract: Contract, history: ListHistory) -> tuple[date, str] | None:
    """The first day that can be checked, and a note when it is after the contract's start;
    None when nothing can be checked."""
    if history.since is None or history.since > contract.end:
        return None
    if history.since > contract.start:
        return history.since, (
            f" (vérifié à partir du {_fr(history.since)}, date de la première liste publique "
            "importée : avant, le portail ne sait pas)"
        )
    return contract.start, ""


def _unknown(rule: str, history: ListHistory, what: str) -> Check:
    if history.since is None:
        fact = f"Aucune liste publique importée : {what} ne peut pas être vérifié(e)."
    else:
        fact = (
            f"Le contrat a pris fin avant la première liste publique importée "
            f"({_fr(history.since)}) : {what} ne peut pas être vérifié(e)."
        )
    return Check(rule, Outcome.UNKNOWN, fact)


# --- The rules of a contract -----------------------------------------------------------------


def micro_exemption(contract: Contract, settings: Settings) -> tuple[bool, str]:
    """Whether the subcontractor is exempt from Qualiopi and from the certifier's
    authorisation as a micro-entrepreneur under the threshold, and why (French)."""
    if not contract.micro_entrepreneur:
        return False, "Sous-traitant non déclaré au régime micro-social."
    if contract.micro_turnover is None:
        return False, (
            "Sous-traitant déclaré micro-entrepreneur sans son chiffre d'affaires : "
            "l'exemption ne peut pas être établie."
        )
    year = contract.micro_turnover_year or contract.start.year
    threshold, confirmed = settings.micro_threshold_for(year)
    to_confirm = "" if confirmed else f" (seuil {year} à confirmer)"
    if contract.micro_turnover <= threshold:
        return True, (
            f"Micro-entrepreneur (régime micro-social), chiffre d'affaires "
            f"{_money(contract.micro_turnover)}, au plus le seuil de {_money(threshold)}"
            f"{to_confirm} : exempté de Qualiopi et de l'habilitation du certificateur."
        )
    return False, (
        f"Micro-entrepreneur dont le chiffre d'affaires ({_money(contract.micro_turnover)}) "
        f"dépasse le seuil de {_money(threshold)}{to_confirm} : pas d'exemption."
    )


def check_nda(contract: Contract, history: ListHistory) -> Check:
    window = _checked_window(contract, history)
    if window is None:
        return _unknown("nda", history, "la présence du NDA dans la liste")
    start, note = window
    nda = contract.subcontractor_nda
    if not history.versions:
        return Check(
            "nda",
            Outcome.FAIL,
            f"Le NDA {nda} ne figure dans aucune liste publique importée depuis le "
            f"{_fr(history.since or start)} : un sous-traitant doit avoir un numéro de "
            "déclaration d'activité actif.",
        )
    gap = first_gap(start, contract.end, [(v.valid_from, v.valid_to) for v in history.versions])
    if gap is not None:
        return Check(
            "nda",
            Outcome.FAIL,
            f"Le NDA {nda} est absent de la liste publique du {_fr(gap[0])} au "
            f"{_fr(gap[1])}, pendant le contrat (du {_fr(contract.start)} au "
            f"{_fr(contract.end)}).",
        )
    return Check(
        "nda",
        Outcome.PASS,
        f"Le NDA {nda} figure dans la liste publique sur toute la période du contrat{note}.",
    )


def check_certification(
    contract: Contract, history: ListHistory, exemption: tuple[bool, str]
) -> Check:
    exempt, why = exemption
    if exempt:
        return Check("certification", Outcome.EXEMPT, why)
    window = _checked_window(contract, history)
    if window is None:
        return _unknown("certification", history, "la certification Qualiopi")
    start, note = window
    intervals = certification_intervals(history.versions)
    problems = []
    for category in contract.categories:
        label = CATEGORY_LABELS.get(category, category)
        spans = [(i.start, i.end) for i in intervals if i.category == category]
        gap = first_gap(start, contract.end, spans)
        if gap is None:
            continue
        if gap[0] > start:
            problems.append(
                f"certifié « {label} » jusqu'au {_fr(gap[0] - ONE_DAY)}, puis plus certifié "
                f"du {_fr(gap[0])} au {_fr(gap[1])} (certification perdue en cours de contrat)"
            )
        elif gap[1] < contract.end:
            problems.append(
                f"non certifié « {label} » du {_fr(gap[0])} au {_fr(gap[1])}, au début du contrat"
            )
        else:
            problems.append(f"non certifié « {label} » sur la période du contrat")
    if problems:
        return Check(
            "certification",
            Outcome.FAIL,
            f"Selon la liste publique, le sous-traitant est {' ; '.join(problems)}{note}. {why}",
        )
    labels = ", ".join(f"« {CATEGORY_LABELS.get(c, c)} »" for c in contract.categories)
    return Check(
        "certification",
        Outcome.PASS,
        f"Certifié Qualiopi pour {labels} sur toute la période du contrat, selon la liste "
        f"publique{note}.",
    )


def check_authorisation(contract: Contract, exemption: tuple[bool, str]) -> Check:
    code = contract.certification_code
    if code is None:
        return Check("authorisation", Outcome.NOT_APPLICABLE, "L'action n'est pas certifiante.")
    if not contract.whole_certification:
        return Check(
            "authorisation",
            Outcome.NOT_APPLICABLE,
            f"Le sous-traitant ne réalise ni la totalité de l'action certifiante {code} ni "
            "un bloc de compétences entier.",
        )
    exempt, why = exemption
    if exempt:
        return Check("authorisation", Outcome.EXEMPT, why)
    if contract.authorisation_declared and contract.authorisation_document:
        return Check(
            "authorisation",
            Outcome.PASS,
            f"Habilitation du certificateur à former sur {code} déclarée, document "
            f"« {contract.authorisation_document} » déposé.",
        )
    if contract.authorisation_declared:
        return Check(
            "authorisation",
            Outcome.FAIL,
            f"Habilitation du certificateur à former sur {code} déclarée, mais son document "
            "n'est pas déposé.",
        )
    return Check(
        "authorisation",
        Outcome.FAIL,
        f"Le sous-traitant réalise la totalité de l'action certifiante {code} ou un bloc de "
        "compétences : l'habilitation du certificateur à former n'est pas déclarée.",
    )


def check_dereferenced(contract: Contract) -> Check:
    if not contract.is_cpf:
        return Check("dereferenced", Outcome.NOT_APPLICABLE, "Action hors CPF.")
    if contract.dereferenced:
        return Check(
            "dereferenced",
            Outcome.FAIL,
            "Le sous-traitant est déréférencé de Mon Compte Formation : il ne peut pas "
            "réaliser une action CPF en sous-traitance.",
        )
    return Check(
        "dereferenced",
        Outcome.PASS,
        "Le sous-traitant n'est pas déréférencé de Mon Compte Formation (déclaration de "
        "l'organisme).",
    )


def check_written_contract(contract: Contract) -> Check:
    if contract.signed_contract:
        return Check(
            "written_contract",
            Outcome.PASS,
            f"Contrat signé déposé : « {contract.signed_contract} ».",
        )
    return Check(
        "written_contract",
        Outcome.FAIL,
        "Aucun contrat signé déposé : la sous-traitance doit faire l'objet d'un contrat écrit.",
    )


def check_checklist(contract: Contract) -> Check:
    missing = [label for name, label in CONTRACT_MENTIONS if not contract.mentions.get(name)]
    if missing:
        return Check(
            "checklist",
            Outcome.FAIL,
            f"Le contrat ne mentionne pas : {', '.join(missing)}.",
        )
    return Check(
        "checklist",
        Outcome.PASS,
        f"Le contrat mentionne les {len(CONTRACT_MENTIONS)} éléments obligatoires.",
    )


# --- Chains of subcontracting -------------------------------------------------------------------

MAX_CHAIN = 10


def same_actions(first: Contract, second: Contract) -> bool:
    """Two contracts are for the same actions when their periods overlap and they carry the
    same RNCP/RS code, or (when either has none) share a category."""
    if first.start > second.end or second.start > first.end:
        return False
    if first.certification_code and second.certification_code:
        return first.certification_code == second.certification_code
    return bool(set(first.categories) & set(second.categories))


def _walk(
    contract: Contract, others: Sequence[Contract], downstream: bool, seen: frozenset[int | None]
) -> list[tuple[Contract, ...]]:
    """The maximal paths of contracts from `contract` (excluded) downstream (its
    subcontractor's own contracts…) or upstream (the contracts of which its principal is the
    subcontractor…), for the same actions, without cycles."""
    if len(seen) > MAX_CHAIN:
        return []
    if downstream:
        nexts = [
            o
            for o in others
            if o.principal_nda == contract.subcontractor_nda
            and o.id not in seen
            and same_actions(contract, o)
        ]
    else:
        nexts = [
            o
            for o in others
            if o.subcontractor_nda == contract.principal_nda
            and o.id not in seen
            and same_actions(o, contract)
        ]
    paths: list[tuple[Contract, ...]] = []
    for other in sorted(nexts, key=lambda o: (o.start, o.id or 0)):
        tails = _walk(other, others, downstream, seen | {other.id}) or [()]
        paths.extend((other, *tail) for tail in tails)
    return paths


def chains(contract: Contract, others: Iterable[Contract]) -> list[tuple[Contract, ...]]:
    """Every chain of subcontracting through `contract`, from the first principal to the
    last subcontractor, each at least two contracts long (none: no cascade). Contracts are
    told apart by their ids (a cycle A → B → A stops where it comes back)."""
    pool = [o for o in others if o is not contract and o.id != contract.id]
    seen = frozenset({contract.id})
    ups = [tuple(reversed(path)) for path in _walk(contract, pool, False, seen)] or [()]
    downs = _walk(contract, pool, True, seen) or [()]
    found: list[tuple[Contract, ...]] = []
    for up in ups:
        for down in downs:
            if {o.id for o in up} & {o.id for o in down}:  # a cycle: each way on its own
                candidates = [(*up, contract), (contract, *down)]
            else:
                candidates = [(*up, contract, *down)]
            found.extend(c for c in candidates if len(c) > 1 and c not in found)
    return found


def chain_label(chain: Sequence[Contract]) -> str:
    """« A → B → C »: the OF along a chain."""
    return " → ".join([chain[0].principal_name, *(c.subcontractor_name for c in chain)])


def check_sub_subcontracting(contract: Contract, found: Sequence[Sequence[Contract]]) -> Check:
    if not found:
        return Check(
            "sub_subcontracting",
            Outcome.PASS,
            "Aucun autre contrat déclaré ne fait du sous-traitant un donneur d'ordre, ni du "
            "donneur d'ordre un sous-traitant, pour ces actions.",
        )
    facts: list[str] = []
    for chain in found:
        index = next(i for i, c in enumerate(chain) if c is contract)
        for after in chain[index + 1 :]:
            fact = (
                f"{after.principal_name} sous-traite à son tour à {after.subcontractor_name} "
                f"pour ces actions (contrat du {_fr(after.start)} au {_fr(after.end)})"
            )
            if fact not in facts:
                facts.append(fact)
        for before in chain[:index]:
            fact = (
                f"{before.subcontractor_name} est lui-même sous-traitant de "
                f"{before.principal_name} pour ces actions (contrat du {_fr(before.start)} au "
                f"{_fr(before.end)})"
            )
            if fact not in facts:
                facts.append(fact)
    labels = " ; ".join(dict.fromkeys(chain_label(chain) for chain in found))
    return Check(
        "sub_subcontracting",
        Outcome.FAIL,
        f"Un sous-traitant ne peut pas sous-traiter : {' ; '.join(facts)}. Chaîne : {labels}.",
    )


@dataclass(frozen=True)
class ContractCompliance:
    contract: Contract
    checks: tuple[Check, ...]
    chains: tuple[tuple[Contract, ...], ...] = ()

    @property
    def compliant(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]


def evaluate_contract(
    contract: Contract,
    history: ListHistory,
    others: Iterable[Contract] = (),
    settings: Settings | None = None,
) -> ContractCompliance:
    """Every rule of a contract. `others` are the contracts that may chain with it (those
    of its subcontractor as a principal, and those of which its principal is the
    subcontractor, transitively)."""
    settings = settings or Settings()
    exemption = micro_exemption(contract, settings)
    found = chains(contract, others)
    if contract.is_cpf:
        checks = (
            check_nda(contract, history),
            check_certification(contract, history, exemption),
            check_authorisation(contract, exemption),
            check_sub_subcontracting(contract, found),
            check_dereferenced(contract),
            check_written_contract(contract),
            check_checklist(contract),
        )
    else:
        # A chain through a CPF contract is a CPF action subcontracted again.
        cpf_chains = [chain for chain in found if any(c.is_cpf for c in chain)]
        checks = (
            check_nda(contract, history),
            outside_cpf(check_certification(contract, history, exemption)),
            Check("authorisation", Outcome.NOT_APPLICABLE, OUTSIDE_CPF),
            check_sub_subcontracting(contract, cpf_chains)
            if cpf_chains
            else Check("sub_subcontracting", Outcome.NOT_APPLICABLE, OUTSIDE_CPF),
            check_dereferenced(contract),
            check_written_contract(contract),
            Check(
                "checklist",
                Outcome.NOT_APPLICABLE,
                "Action hors CPF : les mentions de l'article R.6333-6-2 ne s'imposent pas ; "
                "un contrat écrit lie le sous-traitant (indicateur 27).",
            ),
        )
    return ContractCompliance(contract, checks, tuple(tuple(chain) for chain in found))


OUTSIDE_CPF = "Action hors CPF : règle propre au CPF (décret n° 2023-1350)."


def outside_cpf(check: Check) -> Check:
    """Outside the CPF no text makes the subcontractor's certification a condition: the
    ordering OF answers for it (indicator 27). A failure becomes a point of attention."""
    if check.outcome not in (Outcome.FAIL, Outcome.UNKNOWN):
        return check
    return Check(
        check.rule,
        Outcome.WARNING,
        f"{check.fact} Action hors CPF : point d'attention pour l'organisme donneur d'ordre, "
        "qui reste responsable de son sous-traitant (indicateur 27) ; ne bloque pas le "
        "paiement.",
    )


# --- The CPF ceiling -------------------------------------------------------------------------


def ceiling_period(year: int) -> tuple[date, date] | None:
    """The period of the ceiling in a calendar year: 1 April–31 December for 2024, the
    whole year afterwards; None before 2024 (no ceiling)."""
    if year < FIRST_CEILING_YEAR:
        return None
    start = CEILING_START_2024 if year == FIRST_CEILING_YEAR else date(year, 1, 1)
    return start, date(year, 12, 31)


def contract_share(contract: Contract, year: int, until: date | None = None) -> Decimal:
    """The part of a contract counted in `year`'s ceiling period, up to `until` (included;
    None: the whole period): its amount for the year when given, spread over its days in
    the period, otherwise its price pro rata of its days. Not rounded."""
    period = ceiling_period(year)
    if period is None:
        return Decimal(0)
    start, end = period
    window_end = min(end, until) if until is not None else end
    if window_end < start:
        return Decimal(0)
    in_period = (max(contract.start, start), min(contract.end, end))
    counted = (in_period[0], min(in_period[1], window_end))
    if contract.yearly_amounts:
        # The amount of a year is spread over the contract's days of that calendar year;
        # only those inside the period count (ended 31 March 2024: nothing in 2024).
        amount = contract.yearly_amounts.get(year, Decimal(0))
        in_year = (max(contract.start, date(year, 1, 1)), min(contract.end, date(year, 12, 31)))
        span = _days(*in_year)
        if not span:  # an amount for a year the contract does not run: the period's days
            return amount * _days(start, window_end) / _days(start, end)
        return amount * _days(*counted) / span
    total = _days(contract.start, contract.end)
    return contract.price * _days(*counted) / total if total else Decimal(0)


@dataclass(frozen=True)
class Turnover:
    """The OF's CPF turnover of a year, counted up to `as_of` (None: the whole period)."""

    year: int
    amount: Decimal
    as_of: date | None = None


@dataclass(frozen=True)
class Ceiling:
    """The ceiling of one OF for one year."""

    year: int
    period: tuple[date, date] | None
    turnover: Turnover | None
    counted_until: date | None  # the end of the period counted for the ratio
    subcontracted: Decimal  # CPF subcontracted up to `counted_until`
    subcontracted_year: Decimal  # over the whole period (contracts as declared)
    ratio: Decimal | None
    projection: Decimal | None
    outcome: Outcome
    fact: str
    shares: tuple[tuple[int | None, Decimal], ...] = ()  # (contract id, share of the year)

    @property
    def check(self) -> Check:
        return Check("ceiling", self.outcome, self.fact)

    @property
    def ratio_label(self) -> str:
        return _percent(self.ratio) if self.ratio is not None else "—"

    @property
    def projection_label(self) -> str:
        return _percent(self.projection) if self.projection is not None else "—"


def _period_label(year: int, period: tuple[date, date]) -> str:
    if period[0].month == 1 and period[0].day == 1:
        return f"l'année {year}"
    return f"{year} (du {_fr(period[0])} au {_fr(period[1])})"


def evaluate_ceiling(
    year: int,
    turnover: Turnover | None,
    contracts: Iterable[Contract],
    settings: Settings | None = None,
) -> Ceiling:
    """The 80 % ceiling of an OF for `year`, from its CPF turnover and its contracts (the
    non-CPF ones are left out). The ratio is that of the subcontracted CPF turnover up to
    the turnover's date to that turnover; the projection extrapolates the turnover to the
    end of the period, against the contracts of the whole period."""
    settings = settings or Settings()
    period = ceiling_period(year)
    if period is None:
        return Ceiling(
            year=year,
            period=None,
            turnover=turnover,
            counted_until=None,
            subcontracted=Decimal(0),
            subcontracted_year=Decimal(0),
            ratio=None,
            projection=None,
            outcome=Outcome.NOT_APPLICABLE,
            fact="Le plafond de sous-traitance CPF s'applique à compter du 1er avril 2024.",
        )
    start, end = period
    cpf = [c for c in contracts if c.is_cpf]
    until = end
    if turnover is not None and turnover.as_of is not None:
        until = min(max(turnover.as_of, start), end)
    shares = tuple((c.id, contract_share(c, year)) for c in cpf)
    year_total = sum((share for _, share in shares), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    to_date = sum((contract_share(c, year, until) for c in cpf), Decimal(0)).quantize(
        CENT, ROUND_HALF_UP
    )
    what = _period_label(year, period)

    def result(
        outcome: Outcome,
        fact: str,
        ratio: Decimal | None = None,
        projection: Decimal | None = None,
    ) -> Ceiling:
        return Ceiling(
            year=year,
            period=period,
            turnover=turnover,
            counted_until=until,
            subcontracted=to_date,
            subcontracted_year=year_total,
            ratio=ratio,
            projection=projection,
            outcome=outcome,
            fact=fact,
            shares=shares,
        )

    if year_total == 0:
        return result(
            Outcome.PASS,
            f"Aucune sous-traitance CPF déclarée pour {what}.",
            Decimal(0) if turnover and turnover.amount else None,
            Decimal(0) if turnover and turnover.amount else None,
        )
    if turnover is None:
        return result(
            Outcome.UNKNOWN,
            f"Chiffre d'affaires CPF de {what} non renseigné : le plafond ne peut pas être "
            f"vérifié (sous-traitance CPF déclarée : {_money(year_total)}).",
        )
    if turnover.amount == 0:
        return result(
            Outcome.FAIL,
            f"Chiffre d'affaires CPF de {what} nul : toute sous-traitance CPF "
            f"({_money(year_total)}) dépasse le plafond de {_percent(CEILING_RATE)}.",
        )
    ratio = to_date / turnover.amount
    projection = ratio
    counted = f"chiffre d'affaires CPF de {_money(turnover.amount)}"
    if until < end:
        elapsed = _days(start, until)
        projected_turnover = turnover.amount * _days(start, end) / elapsed
        projection = year_total / projected_turnover
        counted += f" arrêté au {_fr(until)}"
    fact = (
        f"Sous-traitance CPF de {what} : {_money(to_date)} pour un {counted}, soit "
        f"{_percent(ratio)}"
    )
    if until < end:
        fact += f" ; projection en fin de période : {_percent(projection)}"
    limits = (
        f"plafond {_percent(CEILING_RATE)}, alerte à partir de {_percent(settings.warning_rate)}"
    )
    if ratio > CEILING_RATE:
        return result(Outcome.FAIL, f"{fact}. Plafond dépassé ({limits}).", ratio, projection)
    if projection > CEILING_RATE:
        return result(
            Outcome.WARNING,
            f"{fact}. Le plafond serait dépassé en fin de période à ce rythme ({limits}).",
            ratio,
            projection,
        )
    if max(ratio, projection) >= settings.warning_rate:
        return result(Outcome.WARNING, f"{fact}. Proche du plafond ({limits}).", ratio, projection)
    return result(Outcome.PASS, f"{fact} ({limits}).", ratio, projection)


# --- What the service-fait checks read ---------------------------------------------------------


@dataclass(frozen=True)
class ComplianceResult:
    """The subcontracting compliance of a dossier linked to a contract: `compliant`, and
    the facts (French) of each failing check, the contract's and the ceiling's."""

    subcontract_id: int
    compliant: bool
    failures: tuple[str, ...]
    checks: tuple[Check, ...]
    # A CPF contract: its failures bar the payment; outside the CPF they are points of
    # attention (and the certification a warning, not a failure).
    cpf: bool = True
    attention: tuple[str, ...] = ()  # the facts of the checks in warning

    @classmethod
    def of(
        cls, subcontract_id: int, checks: Iterable[Check], *, cpf: bool = True
    ) -> ComplianceResult:
        checks = tuple(checks)
        failing = tuple(f"{c.label} : {c.fact}" for c in checks if not c.passed)
        warned = tuple(f"{c.label} : {c.fact}" for c in checks if c.outcome == Outcome.WARNING)
        return cls(subcontract_id, not failing, failing, checks, cpf, warned)
