"""Certification follow-up on the database: the OF's certificates and audits, their
deadlines, the comparison with the public list, and what funders see of the OF they follow.

Each service that writes takes the acting user, checks what it is given (French messages by
field), changes models, writes the audit log and leaves the commit to the route
(:func:`commit_with_files` deletes the file stored by a request whose commit fails).
Reading for lists is batched: a page of OF or of dossiers takes a fixed number of queries,
whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, formatting
from portal.access import dossiers_scope, is_funder_side, providers_scope
from portal.certification import rules
from portal.clock import utcnow
from portal.dossiers.rules import RuleError, parse_date, parse_decimal
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.models import (
    Category,
    Certificate,
    CertificationAudit,
    Certifier,
    Dossier,
    DossierStatus,
    Provider,
    Role,
    User,
)
from portal.models.certification import CERTIFICATION_AUDIT_KIND_LABELS, CertificationAuditKind
from portal.pagination import PageNumbers
from portal.public_list import lookup
from portal.public_list.importer import list_in_force
from portal.storage import Storage, storage_for
from portal.uploads import (
    CHOOSE_AGAIN,
    UploadLike,
    UploadRefused,
    discard_stored,
    max_upload_bytes,
    store_upload,
)
from portal.uploads import commit_or_discard as commit_with_files  # noqa: F401  (for callers)

PER_PAGE = 25
MAX_NOTES = 2000
MAX_SITES = 10_000
OTHER_CERTIFIER = "autre"

CATEGORY_LABELS: dict[Category, str] = {
    Category.ACTIONS_FORMATION: "Actions de formation",
    Category.BILANS_COMPETENCES: "Bilans de compétences",
    Category.VAE: "Validation des acquis de l'expérience (VAE)",
    Category.APPRENTISSAGE: "Actions de formation par apprentissage",
}


# --- Errors ---------------------------------------------------------------------------------------


# --- Certifiers, categories -----------------------------------------------------------------------


def certifiers() -> list[Certifier]:
    return list(
        db.session.scalars(
            select(Certifier).where(Certifier.is_active.is_(True)).order_by(Certifier.name)
        )
    )


def category_keys(values: Iterable[str]) -> list[Category]:
    """Known categories, in the order of the law (unknown values are dropped)."""
    chosen = set(values)
    return [c for c in Category if c.value in chosen]


def categories_text(keys: Iterable[str]) -> str:
    return ", ".join(CATEGORY_LABELS[c] for c in category_keys(keys))


# --- Recording a certificate ----------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateData:
    certifier_id: int | None
    certifier_name: str
    number: str
    categories: list[Category]
    start_date: date
    end_date: date


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _day(raw: Mapping[str, Any], name: str, errors: dict[str, list[str]]) -> date | None:
    try:
        return parse_date(raw.get(name))
    except RuleError as error:
        errors.setdefault(name, []).append(str(error))
        return None


def validate_certificate(raw: Mapping[str, Any]) -> CertificateData:
    """What the OF typed, checked; raises Refused with French messages by field.

    The certifier is one of the `Certifier` rows (`certifier` = its id) or typed
    (`certifier` = "autre" and `certifier_other`). The end date defaults to the start
    plus 3 years minus 1 day."""
    errors: dict[str, list[str]] = {}
    certifier_id: int | None = None
    certifier_name = ""
    chosen = _text(raw.get("certifier"))
    other = _text(raw.get("certifier_other"))[:200]
    if chosen and chosen != OTHER_CERTIFIER:
        row = (
            db.session.get(Certifier, int(chosen))
            if chosen.isdigit() and len(chosen) < 10
            else None
        )
        if row is None or not row.is_active:
            errors["certifier"] = ["Choisissez un organisme certificateur de la liste."]
        else:
            certifier_id, certifier_name = row.id, row.name
    elif other:
        certifier_name = other
    else:
        errors["certifier"] = [
            "Choisissez votre organisme certificateur, ou « Autre » et saisissez son nom."
        ]
        if chosen == OTHER_CERTIFIER:
            errors["certifier_other"] = ["Saisissez le nom de l'organisme certificateur."]
    number = _text(raw.get("number"))
    if len(number) > 100:
        errors["number"] = ["Le numéro du certificat a au plus 100 caractères."]
    categories = category_keys(raw.get("categories") or [])
    if not categories:
        errors["categories"] = ["Cochez au moins une catégorie d'action certifiée."]
    start = _day(raw, "start_date", errors)
    end: date | None = None
    if _text(raw.get("end_date")):
        end = _day(raw, "end_date", errors)
    elif start is not None:
        end = rules.default_end(start)
    if start is not None and end is not None and end <= start:
        errors.setdefault("end_date", []).append(
            "La fin de validité doit être postérieure au début."
        )
    if errors or start is None or end is None:
        raise Refused(errors)
    return CertificateData(certifier_id, certifier_name, number, categories, start, end)


def _state(certificate: Certificate) -> dict[str, Any]:
    return {
        "certifier": certificate.certifier_name,
        "number": certificate.number,
        "categories": certificate.categories,
        "start_date": certificate.start_date.isoformat(),
        "end_date": certificate.end_date.isoformat(),
        "document_id": certificate.document_id,
    }


def _provider_of(actor: User) -> Provider:
    if actor.role != Role.PROVIDER or actor.provider_id is None:
        raise NotAllowed
    provider = db.session.get(Provider, actor.provider_id)
    if provider is None:
        raise NotAllowed
    return provider


@dataclass(frozen=True)
class Saved:
    certificate: Certificate
    stored_keys: list[str]


def save_certificate(
    actor: User,
    raw: Mapping[str, Any],
    file: UploadLike | None,
    *,
    certificate: Certificate | None = None,
    expected_version: int | None = None,
    storage: Storage | None = None,
) -> Saved:
    """Record a certificate of the actor's OF (`certificate` None) or change one last seen
    at `expected_version`; the caller commits with :func:`commit_with_files`.

    Raises Refused (nothing written, no file left), Stale, NotAllowed."""
    provider = _provider_of(actor)
    if certificate is not None:
        if certificate.provider_id != provider.id:
            raise NotAllowed
        if expected_version is not None and certificate.version != expected_version:
            raise Stale
    data = validate_certificate(raw)
    storage = storage or storage_for(current_app)
    keys: list[str] = []
    stored = None
    if file is not None and getattr(file, "filename", None):
        try:
            stored = store_upload(storage, file, max_bytes=max_upload_bytes())
        except UploadRefused as error:
            label = error.filename or "fichier"
            raise Refused(
                {"file": [f"« {label} » : {error.message}", CHOOSE_AGAIN]},
                refused_files=[(label, error.message)],
            ) from None
        keys.append(stored.key)
    try:
        before = _state(certificate) if certificate is not None else None
        with db.session.no_autoflush:
            if certificate is None:
                certificate = Certificate(provider_id=provider.id, created_by_id=actor.id)
                db.session.add(certificate)
            else:
                certificate.updated_at = utcnow()
            certificate.certifier_id = data.certifier_id
            certificate.certifier_name = data.certifier_name
            certificate.number = data.number
            certificate.categories = ",".join(c.value for c in data.categories)
            certificate.start_date = data.start_date
            certificate.end_date = data.end_date
            if stored is not None:
                certificate.document = stored.as_document(actor.id)
        db.session.flush()
        after = _state(certificate)
        document = (
            {"sha256": stored.sha256, "size": stored.size, "name": stored.original_name}
            if stored is not None
            else None
        )
        if before is None:
            audit.record(
                "certificate.recorded",
                actor=actor,
                target=certificate,
                details={"after": after, "document": document},
            )
        else:
            changed = audit.changes(before, after)
            if changed:
                audit.record(
                    "certificate.updated",
                    actor=actor,
                    target=certificate,
                    details={**changed, "document": document},
                )
    except BaseException:
        discard_stored(storage, keys)
        raise
    return Saved(certificate, keys)


def record_refusal(actor: User, certificate: Certificate | None, refused: Refused) -> None:
    """Audit a refused file (typing slips are not recorded); kept when the refused change
    is rolled back."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "certificate.upload_refused",
        actor=actor,
        object_type="certificates",
        object_id=certificate.id if certificate is not None else None,
        details={"reasons": [reason for _, reason in refused.refused_files]},
    )


def record_download(actor: User, certificate: Certificate) -> None:
    audit.record(
        "certificate.document_downloaded",
        actor=actor,
        target=certificate,
        funder_id=actor.funder_id,
        details={"document_id": certificate.document_id},
    )


def form_values(certificate: Certificate) -> dict[str, Any]:
    return {
        "certifier": str(certificate.certifier_id) if certificate.certifier_id else OTHER_CERTIFIER,
        "certifier_other": "" if certificate.certifier_id else certificate.certifier_name,
        "number": certificate.number,
        "categories": certificate.category_keys,
        "start_date": certificate.start_date.isoformat(),
        "end_date": certificate.end_date.isoformat(),
    }


# --- Audits ---------------------------------------------------------------------------------------


def add_audit(actor: User, certificate: Certificate, raw: Mapping[str, Any]) -> CertificationAudit:
    """Record the date of an audit of the certificate; raises Refused or NotAllowed."""
    provider = _provider_of(actor)
    if certificate.provider_id != provider.id:
        raise NotAllowed
    errors: dict[str, list[str]] = {}
    kind = _text(raw.get("kind"))
    if kind not in {k.value for k in CertificationAuditKind}:
        errors["kind"] = ["Choisissez le type d'audit."]
    day = _day(raw, "audit_date", errors)
    notes = str(raw.get("notes") or "").strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = [f"Les notes ont au plus {MAX_NOTES} caractères."]
    if errors or day is None:
        raise Refused(errors)
    row = CertificationAudit(
        certificate=certificate, kind=kind, audit_date=day, notes=notes, created_by_id=actor.id
    )
    db.session.add(row)
    audit.record(
        "certification_audit.recorded",
        actor=actor,
        target=row,
        details={
            "certificate_id": certificate.id,
            "kind": kind,
            "audit_date": day.isoformat(),
        },
    )
    return row


def delete_audit(actor: User, row: CertificationAudit) -> None:
    provider = _provider_of(actor)
    if row.certificate.provider_id != provider.id:
        raise NotAllowed
    audit.record(
        "certification_audit.deleted",
        actor=actor,
        target=row,
        details={
            "certificate_id": row.certificate_id,
            "kind": row.kind,
            "audit_date": row.audit_date.isoformat(),
        },
    )
    db.session.delete(row)


def audit_kind_label(kind: str) -> str:
    try:
        return CERTIFICATION_AUDIT_KIND_LABELS[CertificationAuditKind(kind)]
    except ValueError:
        return kind


# --- Reading: current certificate, deadlines, the public list -------------------------------------


def certificates_of(provider_ids: Iterable[int]) -> dict[int, list[Certificate]]:
    """Every certificate of these OF with its audits, most recent first (two queries)."""
    ids = sorted(set(provider_ids))
    out: dict[int, list[Certificate]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.provider_id.in_(ids))
        .options(selectinload(Certificate.audits), joinedload(Certificate.document))
        .order_by(Certificate.start_date.desc(), Certificate.id.desc())
    )
    for row in rows:
        out[row.provider_id].append(row)
    return out


def current_of(certificates: Sequence[Certificate], today: date) -> Certificate | None:
    """The certificate valid today (the latest begun), else the one that ends last."""
    valid = [c for c in certificates if c.start_date <= today <= c.end_date]
    if valid:
        return max(valid, key=lambda c: (c.start_date, c.id))
    if not certificates:
        return None
    return max(certificates, key=lambda c: (c.end_date, c.id))


def deadlines_of(certificate: Certificate, today: date) -> list[rules.Deadline]:
    audits = certificate.audits
    return rules.deadlines(
        certificate.start_date,
        certificate.end_date,
        today,
        surveillance_audits=[
            a.audit_date for a in audits if a.kind == CertificationAuditKind.SURVEILLANCE
        ],
        renewal_audits=[a.audit_date for a in audits if a.kind == CertificationAuditKind.RENEWAL],
    )


def next_deadline(deadlines: Sequence[rules.Deadline]) -> rules.Deadline | None:
    """The first deadline not done: an overdue one before the others, then by date."""
    pending = [d for d in deadlines if d.state is not rules.DeadlineState.DONE]
    if not pending:
        return None
    return min(pending, key=lambda d: (d.state is not rules.DeadlineState.OVERDUE, d.due))


@dataclass(frozen=True)
class CategoryCheck:
    """The certificate's categories compared with the public list in force."""

    list_as_of: date | None  # None: no list imported yet
    in_list: bool  # the NDA is in the list in force
    listed: list[Category]  # certified in the list
    declared_only: list[Category] = field(default_factory=list)
    listed_only: list[Category] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.list_as_of is not None

    @property
    def mismatch(self) -> bool:
        return self.known and (not self.in_list or bool(self.declared_only or self.listed_only))

    @property
    def message(self) -> str:
        if not self.known:
            return "Aucune liste publique importée : les catégories n'ont pas pu être comparées."
        as_of = formatting.date_fr(self.list_as_of)
        if not self.in_list:
            return (
                f"Écart : ce NDA ne figure pas dans la liste publique en vigueur (liste du "
                f"{as_of}) ; pour les financeurs, l'organisme n'y est pas certifié."
            )
        parts = []
        if self.declared_only:
            parts.append(
                "déclarées au certificat mais non certifiées dans la liste publique : "
                + ", ".join(CATEGORY_LABELS[c] for c in self.declared_only)
            )
        if self.listed_only:
            parts.append(
                "certifiées dans la liste publique mais absentes du certificat : "
                + ", ".join(CATEGORY_LABELS[c] for c in self.listed_only)
            )
        if parts:
            return f"Écart avec la liste publique du {as_of} : " + " ; ".join(parts) + "."
        return f"Catégories conformes à la liste publique du {as_of}."


def category_checks(
    certificates: Mapping[str, Certificate | None], today: date
) -> dict[str, CategoryCheck | None]:
    """For each NDA, its certificate's categories compared with the list in force today
    (None when the OF has no certificate). Two queries whatever the number of OF."""
    wanted = {nda: c for nda, c in certificates.items() if c is not None}
    out: dict[str, CategoryCheck | None] = {nda: None for nda in certificates}
    if not wanted:
        return out
    in_force = list_in_force(today)
    if in_force is None:
        return {
            nda: (CategoryCheck(None, False, []) if c is not None else None)
            for nda, c in certificates.items()
        }
    listed = lookup.in_force_categories(wanted, today)
    for nda, certificate in wanted.items():
        flags = listed.get(nda)
        listed_categories = [Category(k) for k, on in (flags or {}).items() if on]
        declared_only, listed_only = rules.category_mismatch(
            certificate.category_keys, listed_categories
        )
        out[nda] = CategoryCheck(
            in_force.as_of,
            flags is not None,
            [c for c in Category if c in listed_categories],
            declared_only if flags is not None else [],
            listed_only,
        )
    return out


@dataclass(frozen=True)
class ProviderStatus:
    """One OF: its certificates, the current one, its deadlines and the list's check."""

    provider: Provider
    certificates: list[Certificate]
    current: Certificate | None
    deadlines: list[rules.Deadline]
    next_deadline: rules.Deadline | None
    check: CategoryCheck | None


def statuses(
    providers: Sequence[Provider], today: date, hidden: Iterable[int] = ()
) -> list[ProviderStatus]:
    """The certification status of several OF, in a fixed number of queries; the
    certificates of the OF in `hidden` are not shown (a funder without an open dossier
    with them)."""
    hidden = set(hidden)
    by_provider = certificates_of(p.id for p in providers)
    for provider_id in hidden:
        by_provider[provider_id] = []
    current = {p.id: current_of(by_provider[p.id], today) for p in providers}
    checks = category_checks({p.nda: current[p.id] for p in providers}, today)
    out = []
    for provider in providers:
        certificate = current[provider.id]
        deadlines = deadlines_of(certificate, today) if certificate is not None else []
        out.append(
            ProviderStatus(
                provider,
                by_provider[provider.id],
                certificate,
                deadlines,
                next_deadline(deadlines),
                checks.get(provider.nda),
            )
        )
    return out


def status_of(provider: Provider, today: date, viewer: User | None = None) -> ProviderStatus:
    hidden = _without_open_dossier(viewer, [provider.id]) if viewer is not None else set()
    return statuses([provider], today, hidden)[0]


def _without_open_dossier(viewer: User, provider_ids: Sequence[int]) -> set[int]:
    """For a funder, the OF among `provider_ids` it has no open dossier with: their
    certificate is not its business (`access.can_view_certificate`)."""
    if not is_funder_side(viewer) or not provider_ids:
        return set()
    open_with = set(
        db.session.scalars(
            select(Dossier.provider_id).where(
                Dossier.funder_id == viewer.funder_id,
                Dossier.status == DossierStatus.OPEN.value,
                Dossier.provider_id.in_(provider_ids),
            )
        )
    )
    return set(provider_ids) - open_with


# --- Funder side ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(PageNumbers):
    items: list[Any]
    total: int
    page: int
    per_page: int


def _clamp(page: int, total: int, per_page: int) -> int:
    last = max(1, -(-total // per_page))
    return min(max(1, page), last)


def provider_statuses(actor: User, today: date, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the OF the actor's funder follows, with their certification status."""
    scope = providers_scope(actor).subquery()
    total = db.session.scalar(select(func.count()).select_from(scope)) or 0
    page = _clamp(page, total, per_page)
    providers = list(
        db.session.scalars(
            providers_scope(actor)
            .order_by(Provider.name, Provider.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    hidden = _without_open_dossier(actor, [p.id for p in providers])
    return Page(statuses(providers, today, hidden), total, page, per_page)


@dataclass(frozen=True)
class DossierAtRisk:
    dossier: Dossier
    certificate_end: date | None  # None: no certificate recorded

    @property
    def message(self) -> str:
        if self.certificate_end is None:
            return "Aucun certificat enregistré par l'organisme."
        return (
            f"Le certificat finit le {formatting.date_fr(self.certificate_end)}, avant la fin "
            f"de la formation ({formatting.date_fr(self.dossier.end_date)})."
        )


def dossiers_at_risk(
    actor: User,
    page: int = 1,
    per_page: int = PER_PAGE,
    provider_id: int | None = None,
) -> Page:
    """The actor's open dossiers whose OF's certificate (the one that ends last) ends before
    the end of the training, or whose OF recorded no certificate: soonest problem first.
    Three queries whatever the page."""
    last_end = (
        select(Certificate.provider_id, func.max(Certificate.end_date).label("end_date"))
        .group_by(Certificate.provider_id)
        .subquery()
    )
    conditions = [
        Dossier.status == DossierStatus.OPEN.value,
        (last_end.c.end_date.is_(None)) | (last_end.c.end_date < Dossier.end_date),
    ]
    if provider_id is not None:
        conditions.append(Dossier.provider_id == provider_id)
    base = (
        dossiers_scope(actor)
        .outerjoin(last_end, last_end.c.provider_id == Dossier.provider_id)
        .where(*conditions)
    )
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = _clamp(page, total, per_page)
    rows = db.session.execute(
        base.add_columns(last_end.c.end_date)
        .options(joinedload(Dossier.provider))
        .order_by(
            last_end.c.end_date.is_not(None),
            last_end.c.end_date,
            Dossier.end_date,
            Dossier.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([DossierAtRisk(d, end) for d, end in rows], total, page, per_page)


# --- The calculator -------------------------------------------------------------------------------


def duration_table() -> rules.DurationTable:
    """The duration table, with the cells the setting ``AUDIT_DURATIONS`` overrides."""
    return rules.table_with_overrides(current_app.config.get("AUDIT_DURATIONS"))


@dataclass(frozen=True)
class CalculatorInput:
    band: rules.TurnoverBand | None
    turnover: Decimal | None
    categories: list[Category]
    sites: int
    kind: rules.AuditKind
    new_entrant: bool


def read_calculator(raw: Mapping[str, Any]) -> tuple[CalculatorInput, dict[str, list[str]]]:
    """The calculator's inputs and French messages by field. A turnover typed gives the
    band (it wins over a band chosen); nothing typed is no error (an empty form)."""
    errors: dict[str, list[str]] = {}
    turnover: Decimal | None = None
    band: rules.TurnoverBand | None = None
    text = _text(raw.get("turnover"))
    if text:
        try:
            turnover = parse_decimal(text)
            if turnover < 0:
                raise RuleError("Le chiffre d'affaires ne peut être négatif.")
        except RuleError as error:
            errors["turnover"] = [str(error)]
            turnover = None
        else:
            band = rules.turnover_band(turnover)
    if band is None and _text(raw.get("band")):
        try:
            band = rules.TurnoverBand(_text(raw.get("band")))
        except ValueError:
            errors["band"] = ["Choisissez une tranche de chiffre d'affaires."]
    sites = 0
    sites_text = _text(raw.get("sites"))
    if sites_text:
        if not sites_text.isdigit() or int(sites_text) > MAX_SITES:
            errors["sites"] = ["Le nombre de sites est un nombre entier positif ou nul."]
        else:
            sites = int(sites_text)
    try:
        kind = rules.AuditKind(_text(raw.get("kind")) or rules.AuditKind.INITIAL.value)
    except ValueError:
        kind = rules.AuditKind.INITIAL
        errors["kind"] = ["Choisissez le type d'audit."]
    new_entrant = raw.get("new_entrant") is True or _text(raw.get("new_entrant")).lower() in {
        "y",
        "on",
        "1",
        "oui",
    }
    return (
        CalculatorInput(
            band, turnover, category_keys(raw.get("categories") or []), sites, kind, new_entrant
        ),
        errors,
    )


def calculate(entry: CalculatorInput) -> tuple[rules.Duration | None, dict[str, list[str]]]:
    """The duration when the inputs suffice, else the French messages saying what lacks."""
    missing: dict[str, list[str]] = {}
    if entry.band is None:
        missing["band"] = ["Indiquez le chiffre d'affaires ou choisissez sa tranche."]
    if not entry.categories:
        missing["categories"] = ["Cochez au moins une catégorie d'action certifiée."]
    if missing or entry.band is None:
        return None, missing
    try:
        duration = rules.audit_duration(
            entry.band,
            entry.categories,
            entry.sites,
            entry.kind,
            new_entrant=entry.new_entrant,
            table=duration_table(),
        )
    except rules.DurationError as error:
        return None, {"categories": [str(error)]}
    return duration, {}


def fr_days(days: Decimal) -> str:
    """1.5 → "1,5 jour", 3 → "3 jours"."""
    text = f"{days.normalize():f}".replace(".", ",")
    return f"{text} jour" + ("s" if days >= 2 else "")
