"""The home page's to-do list: for each role, what waits for the signed-in person, counted,
each line leading to the list filtered on it.

One function per role (:func:`controller_todo`, :func:`funder_admin_todo`,
:func:`liaison_todo`, :func:`admin_todo`; the OF's home page keeps its notices). Each count
is the statement of the list it links to, filtered the same way (the queue's
`queue.count`, the NC list's `corrective.count_nonconformities`, the inbox's
`inbox.count`…), so that a line never says 3 where its list shows 2; and all of a role's
counts are read in **one** query (a SELECT of scalar subqueries), whatever the data. The
lists' own scopes keep every count inside the user's funder or region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from portal import clock
from portal.access import is_funder_side
from portal.blueprints.admin.services import UserFilters, list_users
from portal.blueprints.public_list.routes import (
    ALERTS_UNSEEN,
    ALERTS_UNSEEN_ARG,
    IMPORTS_TROUBLE,
    IMPORTS_TROUBLE_ARG,
)
from portal.extensions import db
from portal.models import (
    ListImport,
    QualiopiAlert,
    Role,
    SignalementState,
    User,
)
from portal.public_list.importer import troubled_condition
from portal.quality.corrective import NcFilters, count_nonconformities
from portal.quality.rules import NcStatus
from portal.service_fait import queue
from portal.signalements import inbox


@dataclass(frozen=True)
class TodoLine:
    """One line: « 3 dossiers à contrôler qui vous sont assignés » → the filtered list."""

    key: str  # stable, for ids and tests ("mine")
    singular: str  # "dossier à contrôler qui vous est assigné"
    plural: str  # "dossiers à contrôler qui vous sont assignés"
    count: int
    endpoint: str
    args: Mapping[str, str] = field(default_factory=dict)
    urgent: bool = False  # something is late: the line is marked

    @property
    def text(self) -> str:
        return self.singular if self.count < 2 else self.plural

    @property
    def to_do(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class TodoGroup:
    title: str
    lines: list[TodoLine]

    @property
    def total(self) -> int:
        return sum(line.count for line in self.lines)


@dataclass(frozen=True)
class _Wanted:
    """A line before its count is read: the count's statement, and how to write it."""

    key: str
    group: str
    singular: str
    plural: str
    statement: Any
    endpoint: str
    args: Mapping[str, str] = field(default_factory=dict)
    urgent: bool = False


def _read(wanted: Sequence[_Wanted]) -> list[TodoGroup]:
    """Every count in one query, then the lines grouped in the order given."""
    if not wanted:
        return []
    columns = [w.statement.scalar_subquery().label(w.key) for w in wanted]
    row = db.session.execute(select(*columns)).one()
    groups: dict[str, list[TodoLine]] = {}
    for w, count in zip(wanted, row, strict=True):
        groups.setdefault(w.group, []).append(
            TodoLine(
                w.key, w.singular, w.plural, int(count or 0), w.endpoint, dict(w.args), w.urgent
            )
        )
    return [TodoGroup(title, lines) for title, lines in groups.items()]


SERVICE_FAIT = "Service fait"
QUALIOPI = "Qualiopi"
QUALITY = "Contrôles qualité"
SIGNALEMENTS = "Signalements"
ADMINISTRATION = "Administration"


def _queue(actor: User, key: str, singular: str, plural: str, **filters: Any) -> _Wanted:
    """A line on the service-fait queue, `filters` being `queue.QueueFilters` fields and
    their query-string twins (the queue reads them back)."""
    today = clock.today()
    queue_filters = queue.QueueFilters(
        status=filters.get("status", queue.DEFAULT_STATUS),
        assignee=filters.get("assignee", ""),
        request=filters.get("request", ""),
        today=today,
    )
    args = {
        "statut": "" if queue_filters.status == queue.DEFAULT_STATUS else queue_filters.status,
        "assigne": queue_filters.assignee,
        "demande": queue_filters.request,
    }
    return _Wanted(
        key,
        SERVICE_FAIT,
        singular,
        plural,
        queue.count(actor, queue_filters),
        "service_fait.index",
        {k: v for k, v in args.items() if v},
        urgent=queue_filters.request == queue.REQUEST_LATE,
    )


def _funder_staff_lines(actor: User, today: date) -> list[_Wanted]:
    """What a controller of the funder has to do (a funder admin too)."""
    nc = NcFilters(status=NcStatus.ANSWERED.value)
    info_requested = inbox.Filters(state=SignalementState.INFO_REQUESTED.value)
    return [
        _queue(
            actor,
            "mine",
            "dossier à contrôler qui vous est assigné",
            "dossiers à contrôler qui vous sont assignés",
            assignee=queue.ASSIGNEE_ME,
        ),
        _queue(
            actor,
            "unassigned",
            "dossier à contrôler que personne n'a pris",
            "dossiers à contrôler que personne n'a pris",
            assignee=queue.ASSIGNEE_NOBODY,
        ),
        _queue(
            actor,
            "answered",
            "dossier dont l'organisme a répondu à une demande de pièces",
            "dossiers dont l'organisme a répondu à une demande de pièces",
            status=queue.STATUS_ALL,
            request=queue.REQUEST_ANSWERED,
        ),
        _queue(
            actor,
            "late_requests",
            "dossier dont la demande de pièces a dépassé sa date limite",
            "dossiers dont la demande de pièces a dépassé sa date limite",
            status=queue.STATUS_ALL,
            request=queue.REQUEST_LATE,
        ),
        _Wanted(
            "alerts",
            QUALIOPI,
            "alerte Qualiopi pas encore vue",
            "alertes Qualiopi pas encore vues",
            select(func.count(QualiopiAlert.id)).where(
                QualiopiAlert.funder_id == actor.funder_id,
                QualiopiAlert.acknowledged_at.is_(None),
            ),
            "public_list.alerts",
            {ALERTS_UNSEEN_ARG: ALERTS_UNSEEN},
        ),
        _Wanted(
            "nc_answers",
            QUALITY,
            "réponse d'organisme à une non-conformité à examiner",
            "réponses d'organismes à des non-conformités à examiner",
            count_nonconformities(actor, nc, today),
            "quality.nonconformities",
            nc.args(),
        ),
        _Wanted(
            "info_requested",
            SIGNALEMENTS,
            "signalement dont le ministère attend un complément",
            "signalements dont le ministère attend un complément",
            inbox.count(actor, info_requested),
            "signalements.index",
            info_requested.args(),
        ),
    ]


def controller_todo(actor: User) -> list[TodoGroup]:
    return _read(_funder_staff_lines(actor, clock.today()))


def _pending_invitations(actor: User) -> _Wanted:
    users = list_users(actor, UserFilters(status="pending")).order_by(None).subquery()
    return _Wanted(
        "pending_users",
        ADMINISTRATION,
        "invitation pas encore acceptée",
        "invitations pas encore acceptées",
        select(func.count()).select_from(users),
        "admin.users",
        {"status": "pending"},
    )


def _troubled_imports() -> _Wanted:
    return _Wanted(
        "troubled_imports",
        QUALIOPI,
        "import de la liste publique refusé ou en échec depuis la dernière liste en vigueur",
        "imports de la liste publique refusés ou en échec depuis la dernière liste en vigueur",
        select(func.count(ListImport.id)).where(troubled_condition()),
        "public_list.imports",
        {IMPORTS_TROUBLE_ARG: IMPORTS_TROUBLE},
        urgent=True,
    )


def funder_admin_todo(actor: User) -> list[TodoGroup]:
    """The controller's lines for the whole funder, the signalements awaiting approval,
    the import problems and the invitations not accepted."""
    awaiting = inbox.Filters(state=SignalementState.AWAITING_APPROVAL.value)
    return _read(
        [
            *_funder_staff_lines(actor, clock.today()),
            _Wanted(
                "to_approve",
                SIGNALEMENTS,
                "signalement à approuver avant son envoi",
                "signalements à approuver avant leur envoi",
                inbox.count(actor, awaiting),
                "signalements.index",
                awaiting.args(),
            ),
            _troubled_imports(),
            _pending_invitations(actor),
        ]
    )


def liaison_todo(actor: User) -> list[TodoGroup]:
    """The new signalements of the liaison's region (sent, nobody took them yet) and those
    waiting longer than the stale delay."""
    new = inbox.Filters(state=SignalementState.SENT.value)
    stale = inbox.Filters(stale=True)
    return _read(
        [
            _Wanted(
                "new_signalements",
                SIGNALEMENTS,
                "nouveau signalement à prendre en charge",
                "nouveaux signalements à prendre en charge",
                inbox.count(actor, new),
                "signalements.index",
                new.args(),
            ),
            _Wanted(
                "stale_signalements",
                SIGNALEMENTS,
                f"signalement sans suite depuis plus de {inbox.stale_days()} jours",
                f"signalements sans suite depuis plus de {inbox.stale_days()} jours",
                inbox.count(actor, stale),
                "signalements.index",
                stale.args(),
                urgent=True,
            ),
        ]
    )


def admin_todo(actor: User) -> list[TodoGroup]:
    return _read([_troubled_imports(), _pending_invitations(actor)])


def todo_for(user: User) -> list[TodoGroup]:
    """The to-do list of the user's home page (empty for an OF: its notices say it)."""
    if user.role == Role.ADMIN:
        return admin_todo(user)
    if user.role == Role.FUNDER_ADMIN:
        return funder_admin_todo(user)
    if is_funder_side(user):
        return controller_todo(user)
    if user.role == Role.MINISTRY:
        return liaison_todo(user)
    return []
