"""What is new for a user: the lines of the header's count and of the « Nouveautés » page.

`news_for(user)` counts everything in ONE query (a SELECT of scalar sub-queries, one per
line), whatever the role; each line links to the list filtered on it. Scopes come from
portal/access.py, so that a count never reaches beyond what its list shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import url_for
from sqlalchemy import func, select

from portal import clock
from portal.access import (
    dossiers_scope,
    is_funder_side,
    quality_controls_scope,
    signalements_scope,
)
from portal.extensions import db
from portal.models import (
    DocumentRequest,
    Dossier,
    ListImport,
    QualiopiAlert,
    QualityControl,
    QualityFinding,
    Role,
    Signalement,
    SignalementState,
    User,
)
from portal.models.public_list import ImportStatus
from portal.models.service_fait import ControlStatus, RequestStatus
from portal.quality.rules import NcStatus

#: How far back a failed import of the public list is news for the platform admin.
FAILED_IMPORTS_DAYS = 7


@dataclass(frozen=True)
class NewsLine:
    key: str
    label: str  # French, with the count written by the template: "{count} …"
    count: int
    url: str


@dataclass(frozen=True)
class _Line:
    key: str
    singular: str
    plural: str
    query: Any  # a SELECT of one count
    endpoint: str
    args: dict[str, str]


def _count(query: Any) -> Any:
    return select(func.count()).select_from(query.subquery()).scalar_subquery()


def _lines(user: User) -> list[_Line]:
    today = clock.today()
    if is_funder_side(user):
        funder = user.funder_id
        led = quality_controls_scope(user).where(QualityControl.funder_id == funder)
        return [
            _Line(
                "answers",
                "réponse d'organisme à lire",
                "réponses d'organismes à lire",
                select(DocumentRequest.id).where(
                    DocumentRequest.funder_id == funder,
                    DocumentRequest.status == RequestStatus.ANSWERED.value,
                ),
                "service_fait.index",
                {"statut": ControlStatus.TO_CONTROL.value},
            ),
            _Line(
                "overdue_requests",
                "demande de pièces en attente après sa date limite",
                "demandes de pièces en attente après leur date limite",
                select(DocumentRequest.id).where(
                    DocumentRequest.funder_id == funder,
                    DocumentRequest.status == RequestStatus.OPEN.value,
                    DocumentRequest.due_date < today,
                ),
                "service_fait.index",
                {"statut": ControlStatus.WAITING_PROVIDER.value},
            ),
            _Line(
                "ministry_requests",
                "demande de complément du ministère",
                "demandes de complément du ministère",
                signalements_scope(user).where(
                    Signalement.state == SignalementState.INFO_REQUESTED.value
                ),
                "signalements.index",
                {"etat": SignalementState.INFO_REQUESTED.value},
            ),
            _Line(
                "alerts",
                "alerte de la liste publique non lue",
                "alertes de la liste publique non lues",
                select(QualiopiAlert.id).where(
                    QualiopiAlert.funder_id == funder, QualiopiAlert.acknowledged_at.is_(None)
                ),
                "public_list.alerts",
                {},
            ),
            _Line(
                "nc_answers",
                "réponse à une non-conformité à examiner",
                "réponses à des non-conformités à examiner",
                select(QualityFinding.id).where(
                    QualityFinding.nc_status == NcStatus.ANSWERED.value,
                    QualityFinding.control_id.in_(led.with_only_columns(QualityControl.id)),
                ),
                "quality.nonconformities",
                {"statut": NcStatus.ANSWERED.value},
            ),
        ]
    if user.role == Role.PROVIDER:
        dossiers = dossiers_scope(user).with_only_columns(Dossier.id)
        controls = quality_controls_scope(user).with_only_columns(QualityControl.id)
        return [
            _Line(
                "requests",
                "demande de pièces à laquelle répondre",
                "demandes de pièces auxquelles répondre",
                select(DocumentRequest.id).where(
                    DocumentRequest.status == RequestStatus.OPEN.value,
                    DocumentRequest.dossier_id.in_(dossiers),
                ),
                "service_fait.provider_requests",
                {},
            ),
            _Line(
                "nonconformities",
                "non-conformité à traiter",
                "non-conformités à traiter",
                select(QualityFinding.id).where(
                    QualityFinding.nc_status.in_([NcStatus.OPEN.value, NcStatus.KEPT.value]),
                    QualityFinding.control_id.in_(controls),
                ),
                "quality.provider_index",
                {},
            ),
        ]
    if user.role == Role.MINISTRY:
        return [
            _Line(
                "received",
                "signalement reçu à prendre en charge",
                "signalements reçus à prendre en charge",
                signalements_scope(user).where(Signalement.state == SignalementState.SENT.value),
                "signalements.index",
                {"etat": SignalementState.SENT.value},
            ),
        ]
    if user.role == Role.ADMIN:
        since = clock.utcnow() - timedelta(days=FAILED_IMPORTS_DAYS)
        return [
            _Line(
                "failed_imports",
                "import de la liste publique en échec cette semaine",
                "imports de la liste publique en échec cette semaine",
                select(ListImport.id).where(
                    ListImport.status.in_([ImportStatus.FAILED, ImportStatus.REFUSED]),
                    ListImport.started_at >= since,
                ),
                "public_list.imports",
                {},
            ),
        ]
    return []


def news_for(user: User) -> list[NewsLine]:
    """Every line of what is new for `user`, zero counts included, in one query."""
    lines = _lines(user)
    if not lines:
        return []
    counts = db.session.execute(select(*(_count(line.query) for line in lines))).one()
    return [
        NewsLine(
            line.key,
            line.singular if count == 1 else line.plural,
            count,
            url_for(line.endpoint, **line.args),
        )
        for line, count in zip(lines, counts, strict=True)
    ]


def news_count(user: User) -> int:
    return sum(line.count for line in news_for(user))
