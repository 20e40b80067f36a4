"""Subcontracting on the database: declaring contracts and their files, linking dossiers,
the CPF turnover (typed or imported), and gathering the facts that the pure rules of
`portal.subcontracting.rules` judge.

Each service takes the acting user, changes models, writes the audit log and leaves the
commit to the route (:func:`commit_with_files` deletes the files stored by a request whose
commit fails). Reading is batched: the facts of many contracts take one query per kind
(contracts, the list's history of their subcontractors, the contracts that may chain with
them, a few per level of a chain, and the turnovers), never one per contract.

For the service-fait checks: :func:`dossier_subcontract_compliance`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, clock, exports
from portal.access import is_funder_side, providers_scope, subcontracts_scope
from portal.clock import utcnow
from portal.dossiers.rules import RuleError, parse_amount
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.identifiers import Identifier
from portal.models import (
    CONTRACT_MENTIONS,
    CpfTurnover,
    Document,
    Dossier,
    ImportStatus,
    ListImport,
    ListVersion,
    Provider,
    Role,
    Subcontract,
    SubcontractYearAmount,
    User,
)
from portal.public_list import lookup
from portal.public_list.history import CATEGORY_KEYS
from portal.storage import Storage, storage_for
from portal.subcontracting import fields, rules
from portal.tabular import NotATable, csv_rows, decode_csv, fold_header, is_xlsx
from portal.uploads import (
    CHOOSE_AGAIN,
    StoredFile,
    UploadLike,
    UploadRefused,
    max_upload_bytes,
    store_upload,
)
from portal.uploads import commit_or_discard as commit_with_files  # noqa: F401  (for callers)
from portal.uploads import discard_stored as discard

logger = logging.getLogger(__name__)

CHUNK = 500
MAX_CHAIN_LEVELS = rules.MAX_CHAIN
MAX_TURNOVER_LINES = 200
MAX_TURNOVER_BYTES = 256 * 1024

#: The files of a contract: form field → (its relationship on the contract, what it is).
DOCUMENTS: dict[str, tuple[str, str]] = {
    "contract_file": ("contract_document", "contrat signé"),
    "authorisation_file": ("authorisation_document", "habilitation du certificateur"),
}
SAME_AS_PRINCIPAL = "Le sous-traitant ne peut pas être votre propre organisme (même NDA)."
NAME_NEEDED = (
    "Ce NDA ne figure pas dans la liste publique des organismes de formation : indiquez la "
    "dénomination du sous-traitant (le contrat sera signalé non conforme tant que son NDA "
    "n'y figure pas)."
)


# --- Errors ----------------------------------------------------------------------------


def settings() -> rules.Settings:
    config = current_app.config
    single = config.get("MICRO_ENTREPRENEUR_THRESHOLD")
    return rules.Settings(
        micro_threshold=Decimal(str(single)) if single not in (None, "") else None,
        warning_rate=Decimal(str(config.get("CPF_CEILING_WARNING", "0.70"))),
        micro_thresholds=rules.micro_thresholds(config.get("MICRO_ENTREPRENEUR_THRESHOLDS")),
    )


# --- Loading contracts -----------------------------------------------------------------------


def with_details(query: Select) -> Select:
    """A contracts query that also loads what the rules and the pages read."""
    return query.options(
        joinedload(Subcontract.principal),
        joinedload(Subcontract.contract_document),
        joinedload(Subcontract.authorisation_document),
        selectinload(Subcontract.yearly_amounts),
    )


def _load(query: Select) -> list[Subcontract]:
    return list(db.session.scalars(with_details(query)).unique())


def to_facts(row: Subcontract) -> rules.Contract:
    """A contract as the rules see it (its principal and documents loaded)."""
    return rules.Contract(
        id=row.id,
        principal_nda=row.principal.nda,
        principal_name=row.principal.name,
        subcontractor_nda=row.subcontractor_nda,
        subcontractor_name=row.subcontractor_name,
        start=row.start_date,
        end=row.end_date,
        categories=tuple(row.category_keys),
        is_cpf=row.is_cpf,
        certification_code=row.certification_code,
        whole_certification=row.whole_certification,
        price=row.price,
        yearly_amounts=row.amounts_by_year,
        signed_contract=row.contract_document.original_name if row.contract_document else None,
        mentions=row.mentions,
        micro_entrepreneur=row.micro_entrepreneur,
        micro_turnover=row.micro_turnover,
        authorisation_declared=row.authorisation_declared,
        authorisation_document=(
            row.authorisation_document.original_name if row.authorisation_document else None
        ),
        dereferenced=row.dereferenced,
    )


# --- Facts from the public list -------------------------------------------------------------


def history_since() -> date | None:
    """The date of the first list imported: the portal knows nothing before it."""
    return db.session.scalar(
        select(func.min(ListImport.as_of)).where(ListImport.status.in_(ImportStatus.IN_FORCE))
    )


def list_histories(ndas: Iterable[str]) -> dict[str, rules.ListHistory]:
    """The list's history of each NDA (one query per 500 NDAs, and one for the start)."""
    wanted = sorted(set(ndas))
    since = history_since()
    versions: dict[str, list[rules.ListPeriod]] = {nda: [] for nda in wanted}
    for start in range(0, len(wanted), CHUNK):
        rows = db.session.execute(
            select(
                ListVersion.nda,
                ListVersion.valid_from,
                ListVersion.valid_to,
                *(getattr(ListVersion, key) for key in CATEGORY_KEYS),
            ).where(ListVersion.nda.in_(wanted[start : start + CHUNK]))
        )
        for nda, valid_from, valid_to, *flags in rows:
            versions[nda].append(
                rules.ListPeriod(valid_from, valid_to, *(bool(flag) for flag in flags))
            )
    return {nda: rules.ListHistory(tuple(v), since) for nda, v in versions.items()}


@dataclass(frozen=True)
class ListEntry:
    """What the public list says of an NDA: the list in force, or its last version."""

    nda: str
    siren: str
    siret: str
    denomination: str
    categories: dict[str, bool]
    in_force: bool
    list_as_of: date | None


def list_entry(nda: str, on: date | None = None) -> ListEntry | None:
    on = on or clock.today()
    result = lookup.check(Identifier("nda", nda), on)
    match = next((m for m in result.matches if m.matched_on == "nda"), None)
    if match is not None:
        return ListEntry(
            nda=match.nda,
            siren=match.siren,
            siret=match.siret,
            denomination=match.denomination,
            categories=match.categories,
            in_force=True,
            list_as_of=result.list_as_of,
        )
    versions = lookup.history(nda)
    if not versions:
        return None
    last = versions[-1]
    return ListEntry(
        nda=last.nda,
        siren=last.siren,
        siret=last.siret,
        denomination=last.denomination,
        categories=last.categories,
        in_force=False,
        list_as_of=result.list_as_of,
    )


# --- Compliance of contracts ---------------------------------------------------------------


def _chain_pool(contracts: Sequence[Subcontract]) -> dict[int, Subcontract]:
    """The contracts, and every contract that may chain with them: those of their
    subcontractors as principals, and those whose subcontractor is their principal, level
    by level (one query a level)."""
    known = {c.id: c for c in contracts}
    down = {c.subcontractor_nda for c in contracts}
    up = {c.principal.nda for c in contracts}
    seen_down: set[str] = set()
    seen_up: set[str] = set()
    for _ in range(MAX_CHAIN_LEVELS):
        down -= seen_down
        up -= seen_up
        if not down and not up:
            break
        seen_down |= down
        seen_up |= up
        conditions = []
        if down:
            conditions.append(Provider.nda.in_(sorted(down)))
        if up:
            conditions.append(Subcontract.subcontractor_nda.in_(sorted(up)))
        found = _load(
            select(Subcontract)
            .join(Provider, Provider.id == Subcontract.principal_id)
            .where(or_(*conditions))
        )
        new = [c for c in found if c.id not in known]
        known.update((c.id, c) for c in new)
        down = {c.subcontractor_nda for c in new}
        up = {c.principal.nda for c in new}
    return known


def evaluate(contracts: Sequence[Subcontract]) -> dict[int, rules.ContractCompliance]:
    """The compliance of each contract, by id."""
    if not contracts:
        return {}
    pool = _chain_pool(contracts)
    facts = {contract_id: to_facts(row) for contract_id, row in pool.items()}
    histories = list_histories(c.subcontractor_nda for c in contracts)
    config = settings()
    return {
        c.id: rules.evaluate_contract(
            facts[c.id], histories[c.subcontractor_nda], facts.values(), config
        )
        for c in contracts
    }


def ceiling_years(contracts: Iterable[rules.Contract], turnovers: Iterable[int], today: date):
    """The years whose ceiling is worth showing: the current one, and the past ones (from
    2024) of CPF contracts or with a turnover; not the years to come, whose turnover
    nobody knows yet."""
    years = {today.year, *turnovers}
    for contract in contracts:
        if contract.is_cpf:
            years.update(range(contract.start.year, contract.end.year + 1))
    return sorted(y for y in years if rules.FIRST_CEILING_YEAR <= y <= today.year)


def ceilings(
    provider_ids: Iterable[int],
    years: Mapping[int, Iterable[int]] | None = None,
    today: date | None = None,
) -> dict[int, list[rules.Ceiling]]:
    """The ceiling of each OF for each year (`years` by OF, or those of `ceiling_years`),
    oldest first: two queries whatever the number of OF."""
    ids = sorted(set(provider_ids))
    if not ids:
        return {}
    today = today or clock.today()
    turnovers: dict[int, dict[int, rules.Turnover]] = {i: {} for i in ids}
    for row in db.session.scalars(select(CpfTurnover).where(CpfTurnover.provider_id.in_(ids))):
        turnovers[row.provider_id][row.year] = rules.Turnover(row.year, row.amount, row.as_of)
    contracts: dict[int, list[rules.Contract]] = {i: [] for i in ids}
    for row in _load(
        select(Subcontract).where(Subcontract.principal_id.in_(ids), Subcontract.is_cpf)
    ):
        contracts[row.principal_id].append(to_facts(row))
    config = settings()
    out: dict[int, list[rules.Ceiling]] = {}
    for provider_id in ids:
        wanted = (
            sorted(set(years.get(provider_id, ())))
            if years is not None
            else ceiling_years(contracts[provider_id], turnovers[provider_id], today)
        )
        out[provider_id] = [
            rules.evaluate_ceiling(
                year, turnovers[provider_id].get(year), contracts[provider_id], config
            )
            for year in wanted
        ]
    return out


@dataclass(frozen=True)
class ContractView:
    """A contract with its compliance, for the pages."""

    row: Subcontract
    compliance: rules.ContractCompliance

    @property
    def compliant(self) -> bool:
        return self.compliance.compliant


@dataclass(frozen=True)
class Overview:
    """An OF's subcontracting: its contracts and its ceiling per year."""

    provider: Provider
    contracts: list[ContractView]
    ceilings: list[rules.Ceiling]

    @property
    def non_compliant(self) -> int:
        return sum(1 for view in self.contracts if not view.compliant)

    @property
    def ceilings_to_watch(self) -> list[rules.Ceiling]:
        watched = (rules.Outcome.WARNING, rules.Outcome.FAIL, rules.Outcome.UNKNOWN)
        return [c for c in self.ceilings if c.outcome in watched]

    @property
    def flagged(self) -> bool:
        return bool(self.non_compliant or self.ceilings_to_watch)


def overviews(
    providers: Sequence[Provider], today: date | None = None, viewer: User | None = None
) -> list[Overview]:
    """The subcontracting of several OF at once (the funder's list, an OF's page). For a
    funder `viewer`, only the contracts one of its dossiers needs are listed
    (`access.subcontracts_scope`); the ceiling, an aggregate figure, stays the OF's."""
    ids = [p.id for p in providers]
    if not ids:
        return []
    base = (
        subcontracts_scope(viewer)
        if viewer is not None and is_funder_side(viewer)
        else select(Subcontract)
    )
    rows = _load(
        base.where(Subcontract.principal_id.in_(ids)).order_by(
            Subcontract.start_date.desc(), Subcontract.id.desc()
        )
    )
    compliance = evaluate(rows)
    by_provider = ceilings(ids, today=today)
    return [
        Overview(
            provider,
            [ContractView(r, compliance[r.id]) for r in rows if r.principal_id == provider.id],
            by_provider[provider.id],
        )
        for provider in providers
    ]


def overview(provider: Provider, today: date | None = None, viewer: User | None = None) -> Overview:
    return overviews([provider], today, viewer)[0]


def funder_overviews(user: User, *, flagged_only: bool = True, q: str = "") -> list[Overview]:
    """The OF the user's funder follows that declared contracts or a CPF turnover, by name;
    with `flagged_only`, those with a non-compliant contract or a ceiling to watch
    (warning, breach, or not verifiable); with `q`, those whose name holds it or whose NDA,
    SIREN or SIRET it is."""
    query = providers_scope(user).where(
        or_(
            Provider.id.in_(select(Subcontract.principal_id)),
            Provider.id.in_(select(CpfTurnover.provider_id)),
        )
    )
    text = q.strip()
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        query = query.where(
            or_(
                Provider.name.icontains(text, autoescape=True),
                *(
                    (Provider.nda == digits, Provider.siren == digits, Provider.siret == digits)
                    if digits
                    else ()
                ),
            )
        )
    providers = list(db.session.scalars(query.order_by(Provider.name)))
    found = overviews(providers, viewer=user)
    return [o for o in found if o.flagged] if flagged_only else found


# --- For the service-fait checks ---------------------------------------------------------------


ComplianceResult = rules.ComplianceResult


def dossier_subcontract_compliance(dossier_ids: list[int]) -> dict[int, ComplianceResult | None]:
    """The subcontracting compliance of dossiers, for the service-fait checks (stable API).

    For each id given: None when the dossier is not linked to a subcontracting contract (or
    does not exist); otherwise a :class:`~portal.subcontracting.rules.ComplianceResult`:
    ``compliant`` (True/False), ``failures`` (the French facts of every failing check, each
    prefixed with the rule's name) and ``checks`` (every rule with its outcome and fact).
    The checks are those of the contract (`rules.evaluate_contract`) and, for a CPF
    contract, the OF's ceiling for each year (from 2024) of the dossier's period that the
    contract covers, up to the current one. A ceiling in warning is compliant; a breach, or
    a ceiling that cannot be verified (no CPF turnover), is not.

    Batched: a few queries whatever the number of dossiers; no access check (the caller
    has already checked that the user may see these dossiers).
    """
    result: dict[int, ComplianceResult | None] = dict.fromkeys(dossier_ids)
    wanted = sorted(set(dossier_ids))
    links: list[tuple[int, int, date, date]] = []
    for start in range(0, len(wanted), CHUNK):
        links.extend(
            db.session.execute(
                select(Dossier.id, Dossier.subcontract_id, Dossier.start_date, Dossier.end_date)
                .where(Dossier.id.in_(wanted[start : start + CHUNK]))
                .where(Dossier.subcontract_id.is_not(None))
            ).all()
        )
    if not links:
        return result
    contracts = {
        c.id: c
        for c in _load(
            select(Subcontract).where(Subcontract.id.in_(sorted({s for _, s, _, _ in links})))
        )
    }
    compliance = evaluate(list(contracts.values()))
    this_year = clock.today().year
    years: dict[int, set[int]] = {}
    needed: dict[int, list[int]] = {}
    for dossier_id, subcontract_id, start, end in links:
        contract = contracts[subcontract_id]
        wanted_years: list[int] = []
        if contract.is_cpf:
            first = max(start, contract.start_date).year
            last = min(end, contract.end_date).year
            wanted_years = [
                y for y in range(first, last + 1) if rules.FIRST_CEILING_YEAR <= y <= this_year
            ]
        needed[dossier_id] = wanted_years
        years.setdefault(contract.principal_id, set()).update(wanted_years)
    by_provider = ceilings(years.keys(), years)
    for dossier_id, subcontract_id, _start, _end in links:
        contract = contracts[subcontract_id]
        checks = list(compliance[subcontract_id].checks)
        checks.extend(
            c.check
            for c in by_provider.get(contract.principal_id, [])
            if c.year in needed[dossier_id]
        )
        result[dossier_id] = ComplianceResult.of(subcontract_id, checks, cpf=contract.is_cpf)
    return result


# --- Declaring and changing a contract -------------------------------------------------------

AUDITED: tuple[str, ...] = (
    "subcontractor_nda",
    "subcontractor_siret",
    "subcontractor_name",
    "actions",
    "categories",
    "start_date",
    "end_date",
    "is_cpf",
    "certification_code",
    "whole_certification",
    "price",
    "yearly_amounts",
    *(name for name, _ in CONTRACT_MENTIONS),
    "micro_entrepreneur",
    "micro_turnover",
    "authorisation_declared",
    "dereferenced",
    "contract_document_id",
    "authorisation_document_id",
)


def _state(contract: Subcontract) -> dict[str, Any]:
    state = {name: getattr(contract, name) for name in AUDITED if name != "yearly_amounts"}
    state["yearly_amounts"] = {str(y): str(a) for y, a in sorted(contract.amounts_by_year.items())}
    return state


def _require_provider(actor: User) -> Provider:
    if actor.role != Role.PROVIDER or actor.provider_id is None:
        raise NotAllowed
    provider = db.session.get(Provider, actor.provider_id)
    if provider is None:
        raise NotAllowed
    return provider


def _check(
    principal: Provider, raw: Mapping[str, Any]
) -> tuple[fields.ContractData, ListEntry | None]:
    data, errors = fields.validate_contract(raw)
    entry = None
    if data is not None:
        if data.subcontractor_nda == principal.nda:
            errors.setdefault("subcontractor_nda", []).append(SAME_AS_PRINCIPAL)
        entry = list_entry(data.subcontractor_nda)
        if entry is not None and data.subcontractor_siret[:9] != entry.siren:
            errors.setdefault("subcontractor_siret", []).append(
                f"Ce SIRET n'est pas celui d'un établissement de « {entry.denomination} », "
                f"l'organisme de ce NDA (SIREN {entry.siren}, SIRET déclarant {entry.siret})."
            )
        if entry is None and not data.subcontractor_name:
            errors.setdefault("subcontractor_name", []).append(NAME_NEEDED)
    if errors or data is None:
        raise Refused(errors)
    return data, entry


def _store(
    storage: Storage, files: Mapping[str, UploadLike | None], max_bytes: int
) -> dict[str, StoredFile]:
    """Store every file chosen, or none: on a refused file, the others are deleted again."""
    stored: dict[str, StoredFile] = {}
    errors: dict[str, list[str]] = {}
    refused: list[tuple[str, str]] = []
    try:
        for name, file in files.items():
            if file is None or not getattr(file, "filename", None):
                continue
            try:
                stored[name] = store_upload(storage, file, max_bytes=max_bytes)
            except UploadRefused as error:
                label = error.filename or "fichier"
                errors[name] = [f"« {label} » : {error.message}"]
                refused.append((label, error.message))
    except BaseException:
        discard(storage, [s.key for s in stored.values()])
        raise
    if refused:
        discard(storage, [s.key for s in stored.values()])
        for messages in errors.values():
            messages.append(CHOOSE_AGAIN)
        raise Refused(errors, refused_files=refused)
    return stored


def _subcontractor_provider(nda: str) -> Provider | None:
    """The subcontractor's OF when the portal knows it (by NDA); the contract keeps the
    NDA, SIRET and name either way (the list's history is read by NDA)."""
    return db.session.scalar(select(Provider).where(Provider.nda == nda))


def _apply(
    actor: User,
    contract: Subcontract,
    data: fields.ContractData,
    entry: ListEntry | None,
    stored: Mapping[str, StoredFile],
) -> None:
    contract.subcontractor_nda = data.subcontractor_nda
    contract.subcontractor_siret = data.subcontractor_siret
    contract.subcontractor_name = entry.denomination if entry else str(data.subcontractor_name)
    contract.actions = data.actions
    contract.categories = ",".join(data.categories)
    contract.start_date = data.start_date
    contract.end_date = data.end_date
    contract.is_cpf = data.is_cpf
    contract.certification_code = data.certification_code
    contract.whole_certification = data.whole_certification
    contract.price = data.price
    for name, value in data.mentions.items():
        setattr(contract, name, value)
    contract.micro_entrepreneur = data.micro_entrepreneur
    contract.micro_turnover = data.micro_turnover
    contract.authorisation_declared = data.authorisation_declared
    contract.dereferenced = data.dereferenced
    if contract.amounts_by_year != data.yearly_amounts:
        contract.yearly_amounts = [
            SubcontractYearAmount(year=year, amount=amount)
            for year, amount in sorted(data.yearly_amounts.items())
        ]
    for name, file in stored.items():
        attribute, _label = DOCUMENTS[name]
        setattr(
            contract,
            attribute,
            file.as_document(actor.id),
        )


@dataclass(frozen=True)
class Saved:
    """A contract written (not committed yet) and the files stored for it."""

    contract: Subcontract
    stored_keys: list[str]


def save_contract(
    actor: User,
    raw: Mapping[str, Any],
    files: Mapping[str, UploadLike | None],
    *,
    contract: Subcontract | None = None,
    expected_version: int | None = None,
    storage: Storage | None = None,
    max_bytes: int | None = None,
) -> Saved:
    """Declare a contract (`contract` None) or change one on version `expected_version`;
    the caller commits with :func:`commit_with_files`.

    Raises Refused (nothing written, no file left) when a field or a file is
    refused, Stale when the contract changed meanwhile, NotAllowed off its OF.
    """
    principal = _require_provider(actor)
    if contract is not None:
        if contract.principal_id != principal.id:
            raise NotAllowed
        if expected_version is not None and contract.version != expected_version:
            raise Stale
    data, entry = _check(principal, raw)
    storage = storage or storage_for(current_app)
    stored = _store(storage, files, max_bytes or max_upload_bytes())
    keys = [s.key for s in stored.values()]
    try:
        before = _state(contract) if contract is not None else None
        subcontractor = _subcontractor_provider(data.subcontractor_nda)
        with db.session.no_autoflush:  # one flush, one new version
            if contract is None:
                contract = Subcontract(principal=principal, created_by_id=actor.id)
            else:
                contract.updated_at = utcnow()
            contract.subcontractor = subcontractor
            _apply(actor, contract, data, entry, stored)
            db.session.add(contract)
        db.session.flush()
        after = _state(contract)
        documents = {
            DOCUMENTS[name][1]: {"sha256": s.sha256, "size": s.size, "name": s.original_name}
            for name, s in stored.items()
        }
        if before is None:
            audit.record(
                "subcontract.declared",
                actor=actor,
                target=contract,
                details={"after": after, "documents": documents},
            )
        else:
            changed = audit.changes(before, after, AUDITED)
            if changed:
                audit.record(
                    "subcontract.updated",
                    actor=actor,
                    target=contract,
                    details={**changed, "documents": documents},
                )
    except BaseException:
        discard(storage, keys)
        raise
    return Saved(contract, keys)


def record_refusal(actor: User, contract: Subcontract | None, refused: Refused) -> None:
    """Audit refused files (field errors are typing slips, not recorded); kept when the
    refused change is rolled back."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "subcontract.upload_refused",
        actor=actor,
        object_type="subcontracts",
        object_id=contract.id if contract is not None else None,
        details={"reasons": [reason for _, reason in refused.refused_files]},
    )


def record_download(actor: User, contract: Subcontract, document: Document) -> None:
    audit.record(
        "subcontract.document_downloaded",
        actor=actor,
        target=contract,
        funder_id=actor.funder_id,
        details={"document_id": document.id, "name": document.original_name},
    )


def form_values(contract: Subcontract) -> dict[str, Any]:
    """A contract's values as its edit form shows them."""
    values: dict[str, Any] = {
        "subcontractor_nda": contract.subcontractor_nda,
        "subcontractor_siret": contract.subcontractor_siret,
        "subcontractor_name": contract.subcontractor_name,
        "actions": contract.actions,
        "categories": contract.category_keys,
        "start_date": contract.start_date.isoformat(),
        "end_date": contract.end_date.isoformat(),
        "is_cpf": contract.is_cpf,
        "certification_code": contract.certification_code or "",
        "whole_certification": contract.whole_certification,
        "price": f"{contract.price:.2f}".replace(".", ","),
        "yearly_amounts": fields.format_yearly_amounts(contract.amounts_by_year),
        "micro_entrepreneur": contract.micro_entrepreneur,
        "micro_turnover": (
            f"{contract.micro_turnover:.2f}".replace(".", ",")
            if contract.micro_turnover is not None
            else ""
        ),
        "authorisation_declared": contract.authorisation_declared,
        "dereferenced": contract.dereferenced,
    }
    values.update(contract.mentions)
    return values


# --- Dossiers covered by a contract ------------------------------------------------------------


def link_candidates(contract: Subcontract) -> list[Dossier]:
    """The principal's subcontracted dossiers (every funder) whose period overlaps the
    contract's, and those already linked to it."""
    return list(
        db.session.scalars(
            select(Dossier)
            .options(joinedload(Dossier.funder))
            .where(Dossier.provider_id == contract.principal_id)
            .where(
                or_(
                    Dossier.subcontract_id == contract.id,
                    (Dossier.subcontracted.is_(True))
                    & (Dossier.start_date <= contract.end_date)
                    & (Dossier.end_date >= contract.start_date),
                )
            )
            .order_by(Dossier.start_date, Dossier.reference)
        )
    )


def linked_dossiers(contract: Subcontract, user: User) -> list[Dossier]:
    """The dossiers linked to a contract that `user` may see (a funder: its own)."""
    query = (
        select(Dossier)
        .options(joinedload(Dossier.funder))
        .where(Dossier.subcontract_id == contract.id)
        .order_by(Dossier.start_date, Dossier.reference)
    )
    if is_funder_side(user):
        query = query.where(Dossier.funder_id == user.funder_id)
    return list(db.session.scalars(query))


def set_linked_dossiers(
    actor: User, contract: Subcontract, dossier_ids: Iterable[int]
) -> tuple[list[Dossier], list[Dossier]]:
    """Link the chosen dossiers among `link_candidates` to the contract and unlink the
    others; returns (linked, unlinked). Plain UPDATEs: a funder's open edit form of the
    dossier does not become stale. Each change is audited in the dossier's history."""
    _require_provider(actor)
    if contract.principal_id != actor.provider_id:
        raise NotAllowed
    chosen = set(dossier_ids)
    linked: list[Dossier] = []
    unlinked: list[Dossier] = []
    for dossier in link_candidates(contract):
        if dossier.id in chosen and dossier.subcontract_id != contract.id:
            linked.append(dossier)
        elif dossier.id not in chosen and dossier.subcontract_id == contract.id:
            unlinked.append(dossier)
    for dossiers, value, action in (
        (linked, contract.id, "dossier.subcontract_linked"),
        (unlinked, None, "dossier.subcontract_unlinked"),
    ):
        if not dossiers:
            continue
        db.session.execute(
            update(Dossier)
            .where(Dossier.id.in_([d.id for d in dossiers]))
            .values(subcontract_id=value)
            .execution_options(synchronize_session="fetch")
        )
        for dossier in dossiers:
            audit.record(
                action,
                actor=actor,
                object_type="dossiers",
                object_id=dossier.id,
                funder_id=dossier.funder_id,
                details={"dossier_id": dossier.id, "subcontract_id": contract.id},
            )
    return linked, unlinked


# --- CPF turnover ------------------------------------------------------------------------------


def turnovers_of(provider_id: int) -> list[CpfTurnover]:
    return list(
        db.session.scalars(
            select(CpfTurnover)
            .where(CpfTurnover.provider_id == provider_id)
            .order_by(CpfTurnover.year.desc())
        )
    )


def _save_turnover(
    actor: User, provider_id: int, year: int, amount: Decimal, as_of: date | None, source: str
) -> tuple[CpfTurnover, dict[str, Any] | None]:
    row = db.session.scalar(
        select(CpfTurnover).where(CpfTurnover.provider_id == provider_id, CpfTurnover.year == year)
    )
    before = None
    if row is None:
        row = CpfTurnover(provider_id=provider_id, year=year)
        db.session.add(row)
    else:
        before = {"amount": str(row.amount), "as_of": row.as_of}
    row.amount = amount
    row.as_of = as_of
    row.source = source
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    return row, before


def save_turnover(actor: User, raw: Mapping[str, Any]) -> CpfTurnover:
    """Record (or correct) the actor's OF's CPF turnover of a year, from typed values
    (``year``, ``amount``, ``as_of``); Refused-like errors by field."""
    provider = _require_provider(actor)
    errors: dict[str, list[str]] = {}
    year = amount = as_of = None
    try:
        year = fields.parse_year(raw.get("year"))
    except RuleError as error:
        errors["year"] = [str(error)]
    try:
        amount = parse_amount(raw.get("amount"))
    except RuleError as error:
        errors["amount"] = [str(error)]
    if year is not None:
        try:
            as_of = fields.parse_as_of(raw.get("as_of"), year)
        except RuleError as error:
            errors["as_of"] = [str(error)]
    if errors or year is None or amount is None:
        raise Refused(errors)
    row, before = _save_turnover(actor, provider.id, year, amount, as_of, "saisie")
    audit.record(
        "cpf_turnover.saved",
        actor=actor,
        target=row,
        details={
            "year": year,
            "before": before,
            "after": {"amount": str(amount), "as_of": as_of},
        },
    )
    return row


TURNOVER_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("annee", "year", True),
    ("chiffre_affaires_cpf", "amount", True),
    ("arrete_au", "as_of", False),
)
_TURNOVER_HEADERS = {
    "annee": "year",
    "annee_civile": "year",
    "chiffre_affaires_cpf": "amount",
    "chiffre_d_affaires_cpf": "amount",
    "ca_cpf": "amount",
    "montant": "amount",
    "arrete_au": "as_of",
    "date_d_arrete": "as_of",
}
TURNOVER_ACCEPTED = (
    "déposez un fichier CSV (séparateur « ; »), avec les colonnes annee, chiffre_affaires_cpf "
    "et, si besoin, arrete_au"
)


@dataclass(frozen=True)
class LineError:
    line: int
    column: str
    message: str


@dataclass
class TurnoverReport:
    lines: int = 0
    saved: list[CpfTurnover] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_turnover_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The lines of a CSV of CPF turnovers: (line number, values by field). Raises
    Refused (French) when the whole file cannot be read."""
    if len(data) > MAX_TURNOVER_BYTES:
        raise Refused("Le fichier est trop volumineux pour des chiffres annuels.")
    if not data.strip():
        raise Refused(f"Le fichier est vide : {TURNOVER_ACCEPTED}.")
    if is_xlsx(data):
        raise Refused(
            "Le fichier est un classeur XLSX : enregistrez-le au format CSV (séparateur "
            "point-virgule), puis déposez-le de nouveau."
        )
    try:
        text = decode_csv(data, accepted=TURNOVER_ACCEPTED)
    except NotATable as refusal:
        raise Refused(str(refusal)) from None
    header: list[str | None] | None = None
    lines: list[tuple[int, dict[str, str]]] = []
    for number, cells in _non_blank(csv_rows(text)):
        if header is None:
            header = [_TURNOVER_HEADERS.get(fold_header(cell)) for cell in cells]
            missing = [h for h, name, needed in TURNOVER_COLUMNS if needed and name not in header]
            if missing:
                raise Refused(
                    "Colonnes obligatoires absentes de la première ligne : "
                    f"{', '.join(missing)} ({TURNOVER_ACCEPTED})."
                )
            continue
        values = {
            name: cells[index] if index < len(cells) else ""
            for index, name in enumerate(header)
            if name is not None
        }
        lines.append((number, values))
        if len(lines) > MAX_TURNOVER_LINES:
            raise Refused(
                f"Le fichier compte plus de {MAX_TURNOVER_LINES} lignes : une ligne par année."
            )
    if not lines:
        raise Refused(
            "Le fichier ne contient aucune année : ajoutez une ligne par année sous la ligne "
            "des noms de colonnes."
        )
    return lines


def _non_blank(rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    return ((n, cells) for n, cells in rows if any(cell for cell in cells))


def import_turnovers(actor: User, data: bytes, *, filename: str = "") -> TurnoverReport:
    """Record every year of the file, or none: if any line has an error, nothing is saved
    and the report lists the errors by line and column (Refused when the
    file itself cannot be read)."""
    provider = _require_provider(actor)
    lines = read_turnover_csv(data)
    report = TurnoverReport(lines=len(lines))
    header_of = {name: header for header, name, _ in TURNOVER_COLUMNS}
    clean: list[tuple[int, int, Decimal, date | None]] = []
    seen: dict[int, int] = {}
    for number, values in lines:
        errors: list[tuple[str, str]] = []
        year = amount = as_of = None
        try:
            year = fields.parse_year(values.get("year"))
        except RuleError as error:
            errors.append(("year", str(error)))
        try:
            amount = parse_amount(values.get("amount"))
        except RuleError as error:
            errors.append(("amount", str(error)))
        if year is not None:
            try:
                as_of = fields.parse_as_of(values.get("as_of"), year)
            except RuleError as error:
                errors.append(("as_of", str(error)))
            if year in seen:
                errors.append(("year", f"Année {year} déjà donnée ligne {seen[year]}."))
            else:
                seen[year] = number
        report.errors.extend(
            LineError(number, header_of[name], message) for name, message in errors
        )
        if not errors and year is not None and amount is not None:
            clean.append((number, year, amount, as_of))
    if report.errors:
        return report
    for _number, year, amount, as_of in clean:
        row, before = _save_turnover(actor, provider.id, year, amount, as_of, "import")
        report.saved.append(row)
        audit.record(
            "cpf_turnover.saved",
            actor=actor,
            target=row,
            details={
                "year": year,
                "before": before,
                "after": {"amount": str(amount), "as_of": as_of},
                "import": filename or "fichier",
            },
        )
    return report


TURNOVER_TEMPLATE = exports.to_csv(
    [header for header, _, _ in TURNOVER_COLUMNS],
    [(2025, Decimal("185000.00"), None), (2026, Decimal("92400.00"), date(2026, 6, 30))],
)


# --- Exports -----------------------------------------------------------------------------------

CONTRACT_COLUMNS: tuple[str, ...] = (
    "id_contrat",
    "donneur_ordre_nda",
    "donneur_ordre_denomination",
    "sous_traitant_nda",
    "sous_traitant_siret",
    "sous_traitant_denomination",
    "actions",
    "categories",
    "date_debut",
    "date_fin",
    "cpf",
    "code_rncp_rs",
    "action_certifiante_entiere_ou_bloc",
    "prix",
    "montants_par_annee",
    "contrat_signe",
    "mentions_manquantes",
    "micro_entrepreneur",
    "ca_micro_entrepreneur",
    "habilitation_declaree",
    "habilitation_document",
    "dereference_mcf",
    "conforme",
    "non_conformites",
)
CEILING_COLUMNS: tuple[str, ...] = (
    "donneur_ordre_nda",
    "donneur_ordre_denomination",
    "annee",
    "periode_debut",
    "periode_fin",
    "ca_cpf",
    "ca_arrete_au",
    "sous_traitance_cpf_a_date",
    "sous_traitance_cpf_periode",
    "taux_pourcent",
    "projection_pourcent",
    "niveau",
    "constat",
)


def _percent(rate: Decimal | None) -> Decimal | None:
    return (rate * 100).quantize(Decimal("0.01")) if rate is not None else None


def scoped_overviews(user: User) -> list[Overview]:
    """The subcontracting the user may see: their OF's, or every OF their funder follows
    that declared contracts or a turnover."""
    if user.role == Role.PROVIDER:
        provider = db.session.get(Provider, user.provider_id)
        return [overview(provider)] if provider is not None else []
    return funder_overviews(user, flagged_only=False)


def contract_rows(user: User) -> Iterator[tuple[Any, ...]]:
    """The rows of the contracts export (:data:`CONTRACT_COLUMNS`), in the user's scope."""
    rows = _load(subcontracts_scope(user).order_by(Subcontract.principal_id, Subcontract.id))
    compliance = evaluate(rows)
    for row in rows:
        result = compliance[row.id]
        yield (
            row.id,
            row.principal.nda,
            row.principal.name,
            row.subcontractor_nda,
            row.subcontractor_siret,
            row.subcontractor_name,
            row.actions,
            ", ".join(row.category_keys),
            row.start_date,
            row.end_date,
            row.is_cpf,
            row.certification_code,
            row.whole_certification,
            row.price,
            fields.format_yearly_amounts(row.amounts_by_year).replace("\n", " ; "),
            row.contract_document.original_name if row.contract_document else None,
            ", ".join(label for name, label in CONTRACT_MENTIONS if not row.mentions[name]),
            row.micro_entrepreneur,
            row.micro_turnover,
            row.authorisation_declared,
            row.authorisation_document.original_name if row.authorisation_document else None,
            row.dereferenced,
            result.compliant,
            " | ".join(f"{c.label} : {c.fact}" for c in result.failures),
        )


def ceiling_rows(user: User) -> Iterator[tuple[Any, ...]]:
    """The rows of the ceilings export (:data:`CEILING_COLUMNS`), in the user's scope."""
    for found in scoped_overviews(user):
        for ceiling in found.ceilings:
            turnover = ceiling.turnover
            yield (
                found.provider.nda,
                found.provider.name,
                ceiling.year,
                ceiling.period[0] if ceiling.period else None,
                ceiling.period[1] if ceiling.period else None,
                turnover.amount if turnover else None,
                turnover.as_of if turnover else None,
                ceiling.subcontracted,
                ceiling.subcontracted_year,
                _percent(ceiling.ratio),
                _percent(ceiling.projection),
                str(ceiling.outcome),
                ceiling.fact,
            )
