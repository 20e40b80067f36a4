"""The 360° page of an OF for a funder: everything the funder knows about one OF, in short
sections (a count and a few rows), each leading to its full list filtered on the OF.

`overview(user, provider, today)` reads, for a funder's staff (`user`), the OF's identity
and its Qualiopi status in the public list (public: every funder sees it), and, inside the
user's funder only (the lists' own scopes of portal.access): its dossiers, the service-fait
controls and decisions of those dossiers, the requests for documents, the quality controls
and open non-conformities, the subcontracts a dossier of the funder needs, the certificate
and its deadlines (while the funder has an open dossier with the OF) and the signalements.

Each section is one or two queries whatever the OF's data (counts grouped in one SELECT,
then the few rows shown, their relations loaded with them): the page's queries are bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload, lazyload

from portal import clock
from portal.access import (
    can_view_certificate,
    dossiers_scope,
    quality_controls_scope,
    signalements_scope,
    subcontracts_scope,
)
from portal.certification import services as certification
from portal.certification.rules import DEADLINE_STATE_LABELS
from portal.extensions import db
from portal.models import (
    DOSSIER_STATUS_LABELS,
    QUALITY_CONTROL_STATUS_LABELS,
    SIGNALEMENT_STATE_LABELS,
    Dossier,
    DossierStatus,
    FunderProvider,
    InvoiceDecision,
    ListVersion,
    Provider,
    QualiopiAlert,
    QualityControl,
    QualityControlStatus,
    QualityFinding,
    Signalement,
    SignalementState,
    Subcontract,
    User,
)
from portal.models.service_fait import (
    CONTROL_STATUS_LABELS,
    DECISION_OUTCOME_LABELS,
    REQUEST_STATUS_LABELS,
    ControlStatus,
    DecisionOutcome,
    DocumentRequest,
    RequestStatus,
    ServiceFaitControl,
)
from portal.public_list.history import certification_intervals
from portal.quality.corrective import OPEN_STATUSES as NC_OPEN_STATUSES
from portal.quality.rules import NONCONFORMITIES


def local_date(moment: datetime | None) -> date | None:
    """The Paris day of a stored (UTC) moment."""
    return clock.local(moment).date() if moment is not None else None


#: The rows shown in each section; the section's link leads to the whole list.
ROWS = 5


@dataclass(frozen=True)
class Row:
    """One line of a section: what it is, its state (in words), and what it links to."""

    title: str
    detail: str
    state: str
    day: date | None = None
    target_id: int | None = None
    warn: bool = False
    amounts: tuple[Decimal, Decimal] | None = None  # (validated, invoiced)
    categories: tuple[str, ...] = ()  # keys of the public list's categories


@dataclass
class Section:
    count: int = 0
    rows: list[Row] = field(default_factory=list)
    figures: list[tuple[str, int]] = field(default_factory=list)  # (label, count)

    @property
    def more(self) -> bool:
        return self.count > len(self.rows)


@dataclass
class Overview:
    provider: Provider
    label: str  # the funder's own label of the OF, if it gave one
    followed_since: date | None
    current: ListVersion | None  # its entry in the public list, as last known
    in_force: bool
    certified: bool
    intervals: list[Any]
    alerts: Section
    dossiers: Section
    controls: Section
    decisions: Section
    requests: Section
    quality: Section
    nonconformities: Section
    subcontracts: Section
    certificate: Any | None  # certification.ProviderStatus, when the funder may see it
    certificate_hidden: bool
    signalements: Section
    deadline_labels: dict[str, str] = field(
        default_factory=lambda: {k.value: v for k, v in DEADLINE_STATE_LABELS.items()}
    )


def _count_by(query: Any, column: Any) -> dict[str, int]:
    """How many rows of `query` (a select of the section's rows) hold each value of `column`."""
    return dict(
        db.session.execute(
            query.with_only_columns(column, func.count()).group_by(column).order_by(None)
        ).all()
    )


def _figures(labels: dict[Any, str], counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(text, counts.get(key.value, 0)) for key, text in labels.items()]


def _dossier_label(dossier: Dossier) -> str:
    name = f"{dossier.beneficiary_first_name or ''} {dossier.beneficiary_last_name or ''}"
    return " · ".join(part for part in (name.strip(), dossier.action_title or "") if part)


def _dossiers(user: User, provider: Provider, today: date) -> Section:
    scope = dossiers_scope(user).where(Dossier.provider_id == provider.id)
    counts = _count_by(scope, Dossier.status)
    rows = db.session.scalars(
        scope.order_by(Dossier.start_date.desc(), Dossier.id.desc()).limit(ROWS)
    ).all()
    return Section(
        count=sum(counts.values()),
        figures=_figures(DOSSIER_STATUS_LABELS, counts),
        rows=[
            Row(
                d.reference,
                _dossier_label(d),
                DOSSIER_STATUS_LABELS[DossierStatus(d.status)],
                d.start_date,
                d.id,
            )
            for d in rows
        ],
    )


def _controls(user: User, provider: Provider) -> Section:
    """The service-fait controls of the OF's dossiers of the funder, by state."""
    dossier_ids = (
        dossiers_scope(user).where(Dossier.provider_id == provider.id).with_only_columns(Dossier.id)
    )
    counts = _count_by(
        select(ServiceFaitControl).where(
            ServiceFaitControl.funder_id == user.funder_id,
            ServiceFaitControl.dossier_id.in_(dossier_ids),
        ),
        ServiceFaitControl.status,
    )
    rows = db.session.scalars(
        select(ServiceFaitControl)
        .options(joinedload(ServiceFaitControl.dossier))
        .where(
            ServiceFaitControl.funder_id == user.funder_id,
            ServiceFaitControl.dossier_id.in_(dossier_ids),
            ServiceFaitControl.status != ControlStatus.DECIDED.value,
        )
        .order_by(ServiceFaitControl.blocking_count.desc(), ServiceFaitControl.id)
        .limit(ROWS)
    ).all()
    return Section(
        count=sum(counts.values()),
        figures=_figures(CONTROL_STATUS_LABELS, counts),
        rows=[
            Row(
                c.dossier.reference,
                _blocking_text(c.blocking_count),
                CONTROL_STATUS_LABELS[ControlStatus(c.status)],
                None,
                c.dossier_id,
                warn=c.blocking_count > 0,
            )
            for c in rows
        ],
    )


def _blocking_text(count: int) -> str:
    if count == 0:
        return "aucune anomalie bloquante"
    return f"{count} anomalie{'s' if count > 1 else ''} bloquante{'s' if count > 1 else ''}"


def _decisions(user: User, provider: Provider) -> Section:
    """The decisions in force on the OF's invoices (the latest first)."""
    base = (
        select(InvoiceDecision)
        .join(Dossier, Dossier.id == InvoiceDecision.dossier_id)
        .where(
            Dossier.funder_id == user.funder_id,
            Dossier.provider_id == provider.id,
            InvoiceDecision.reopened_at.is_(None),
        )
    )
    counts = _count_by(base, InvoiceDecision.outcome)
    rows = db.session.execute(
        base.add_columns(Dossier.reference)
        .order_by(InvoiceDecision.decided_at.desc(), InvoiceDecision.id.desc())
        .limit(ROWS)
    ).all()
    return Section(
        count=sum(counts.values()),
        figures=_figures(DECISION_OUTCOME_LABELS, counts),
        rows=[
            Row(
                reference,
                "",
                DECISION_OUTCOME_LABELS[DecisionOutcome(decision.outcome)],
                local_date(decision.decided_at),
                decision.dossier_id,
                warn=decision.outcome != DecisionOutcome.CONFORMING.value,
                amounts=(decision.amount_validated, decision.amount_invoiced),
            )
            for decision, reference in rows
        ],
    )


def _requests(user: User, provider: Provider, today: date) -> Section:
    base = (
        select(DocumentRequest)
        .join(Dossier, Dossier.id == DocumentRequest.dossier_id)
        .where(
            DocumentRequest.funder_id == user.funder_id,
            Dossier.funder_id == user.funder_id,
            Dossier.provider_id == provider.id,
        )
    )
    late = and_(
        DocumentRequest.status == RequestStatus.OPEN.value, DocumentRequest.due_date < today
    )
    total, waiting, answered, overdue = db.session.execute(
        base.with_only_columns(
            func.count(DocumentRequest.id),
            func.count(case((DocumentRequest.status == RequestStatus.OPEN.value, 1))),
            func.count(case((DocumentRequest.status == RequestStatus.ANSWERED.value, 1))),
            func.count(case((late, 1))),
        ).order_by(None)
    ).one()
    rows = db.session.execute(
        base.add_columns(Dossier.reference)
        .where(DocumentRequest.status != RequestStatus.CLOSED.value)
        .order_by(DocumentRequest.due_date, DocumentRequest.id)
        .limit(ROWS)
    ).all()
    return Section(
        count=total,
        figures=[
            (REQUEST_STATUS_LABELS[RequestStatus.OPEN], waiting),
            (REQUEST_STATUS_LABELS[RequestStatus.ANSWERED], answered),
            ("Date limite dépassée", overdue),
        ],
        rows=[
            Row(
                reference,
                "",
                REQUEST_STATUS_LABELS[RequestStatus(r.status)],
                r.due_date,
                r.id,
                warn=r.status == RequestStatus.OPEN.value and r.due_date < today,
            )
            for r, reference in rows
        ],
    )


def _quality(user: User, provider: Provider) -> Section:
    scope = quality_controls_scope(user).where(QualityControl.provider_id == provider.id)
    counts = _count_by(scope, QualityControl.status)
    rows = db.session.scalars(
        scope.order_by(QualityControl.control_date.desc(), QualityControl.id.desc()).limit(ROWS)
    ).all()
    return Section(
        count=sum(counts.values()),
        figures=_figures(QUALITY_CONTROL_STATUS_LABELS, counts),
        rows=[
            Row(
                "Contrôle qualité",
                c.scope_actions[:80],
                QUALITY_CONTROL_STATUS_LABELS[QualityControlStatus(c.status)],
                c.control_date,
                c.id,
            )
            for c in rows
        ],
    )


def _nonconformities(user: User, provider: Provider, today: date) -> Section:
    """The NC not lifted of the controls the user sees of the OF (report issued)."""
    controls = (
        quality_controls_scope(user)
        .where(
            QualityControl.provider_id == provider.id,
            QualityControl.status == QualityControlStatus.REPORTED.value,
        )
        .with_only_columns(QualityControl.id)
    )
    base = select(QualityFinding).where(
        QualityFinding.control_id.in_(controls),
        QualityFinding.finding.in_([f.value for f in NONCONFORMITIES]),
        QualityFinding.nc_status.in_(NC_OPEN_STATUSES),
    )
    late = and_(QualityFinding.deadline.is_not(None), QualityFinding.deadline < today)
    total, overdue = db.session.execute(
        base.with_only_columns(func.count(QualityFinding.id), func.count(case((late, 1)))).order_by(
            None
        )
    ).one()
    return Section(count=total, figures=[("Échéance dépassée", overdue)])


def _subcontracts(user: User, provider: Provider) -> Section:
    scope = subcontracts_scope(user).where(Subcontract.principal_id == provider.id)
    total = db.session.scalar(scope.with_only_columns(func.count(Subcontract.id)).order_by(None))
    rows = db.session.scalars(
        scope.order_by(Subcontract.end_date.desc(), Subcontract.id.desc()).limit(ROWS)
    ).all()
    return Section(
        count=total or 0,
        rows=[
            Row(
                s.subcontractor_name,
                f"NDA {s.subcontractor_nda}",
                "CPF" if s.is_cpf else "Hors CPF",
                s.end_date,
                s.id,
            )
            for s in rows
        ],
    )


def _signalements(user: User, provider: Provider) -> Section:
    scope = signalements_scope(user).where(Signalement.provider_id == provider.id)
    counts = _count_by(scope, Signalement.state)
    rows = db.session.scalars(
        scope.options(lazyload("*"))  # its indicators and evidence are not shown here
        .order_by(Signalement.updated_at.desc(), Signalement.id.desc())
        .limit(ROWS)
    ).all()
    return Section(
        count=sum(counts.values()),
        rows=[
            Row(
                f"Signalement n° {s.id}",
                (s.facts_what or "")[:80],
                SIGNALEMENT_STATE_LABELS[SignalementState(s.state)],
                local_date(s.updated_at),
                s.id,
            )
            for s in rows
        ],
    )


def _alerts(user: User, provider: Provider) -> Section:
    base = select(QualiopiAlert).where(
        QualiopiAlert.funder_id == user.funder_id, QualiopiAlert.provider_id == provider.id
    )
    total, unseen = db.session.execute(
        base.with_only_columns(
            func.count(QualiopiAlert.id),
            func.count(case((QualiopiAlert.acknowledged_at.is_(None), 1))),
        )
    ).one()
    rows = db.session.scalars(
        base.order_by(QualiopiAlert.list_as_of.desc(), QualiopiAlert.id.desc()).limit(3)
    ).all()
    return Section(
        count=total,
        figures=[("Non vues", unseen)],
        rows=[
            Row(
                "Sortie de la liste publique" if a.left_list else "Catégorie perdue",
                "",
                "Vue" if a.acknowledged_at else "Non vue",
                a.list_as_of,
                a.id,
                warn=a.acknowledged_at is None,
                categories=tuple(a.lost),
            )
            for a in rows
        ],
    )


def _versions(nda: str) -> Sequence[ListVersion]:
    return db.session.scalars(
        select(ListVersion).where(ListVersion.nda == nda).order_by(ListVersion.valid_from)
    ).all()


def overview(user: User, provider: Provider, today: date) -> Overview:
    """The OF as `user`'s funder sees it (the caller checked that it may see the OF)."""
    followed = db.session.execute(
        select(FunderProvider.label, FunderProvider.created_at).where(
            FunderProvider.funder_id == user.funder_id,
            FunderProvider.provider_id == provider.id,
        )
    ).first()
    versions = _versions(provider.nda)
    current = versions[-1] if versions else None
    in_force = current is not None and current.valid_to is None
    may_see_certificate = can_view_certificate(user, provider.id)
    return Overview(
        provider=provider,
        label=(followed.label or "") if followed else "",
        followed_since=local_date(followed.created_at) if followed else None,
        current=current,
        in_force=in_force,
        certified=bool(in_force and current.certified),
        intervals=certification_intervals(versions),
        alerts=_alerts(user, provider),
        dossiers=_dossiers(user, provider, today),
        controls=_controls(user, provider),
        decisions=_decisions(user, provider),
        requests=_requests(user, provider, today),
        quality=_quality(user, provider),
        nonconformities=_nonconformities(user, provider, today),
        subcontracts=_subcontracts(user, provider),
        certificate=certification.status_of(provider, today) if may_see_certificate else None,
        certificate_hidden=not may_see_certificate,
        signalements=_signalements(user, provider),
    )
