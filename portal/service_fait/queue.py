"""The controller's queue: the funder's dossiers to control, filtered, sorted, paged,
counted per status, exported; and the bulk actions on a selection.

Every dossier of the controller's funder is in the queue, as its `ServiceFaitControl`
row (one per dossier: status, assignee, counts of findings per severity, totals), so that
the queue filters, counts and sorts on the controls' (funder, …) indexes. The checks'
runner creates a dossier's control when it first checks it (and the dossiers' services
check every new dossier); the queue, opened without filters, also creates the control of
any dossier that has none yet (:func:`ensure_controls`: "à contrôler", unassigned), so
that no dossier is ever left out (a dossier created outside the services, or before
this feature).

Filters (:class:`QueueFilters`): status (one tab per `ControlStatus`, with its count, and
"tous"); the OF (its name, SIRET, SIREN or NDA, as in the dossiers list); the scheme; an
anomaly code (an ``EXISTS`` on `CheckFinding`, served by its (dossier_id, code, severity) index),
with or without a severity; a severity alone (the control's count of findings of that
severity, kept by the runner); a period (dossiers whose dates overlap it); the agreed
amount (min, max); the assignee (me, nobody, someone, or a named member of the staff).

Queries per page, whatever its size: the counts per status (which give the total), the
page's ids, the page's dossiers with their OF, control and assignee, their findings; plus
the session's user, the staff (assignees) and, unfiltered, the count of the funder's
dossiers. The page's ids are found either by walking a (funder, column) index of the
dossiers in the sort's order until the page is full (many matches), or by reading the
matching controls and sorting them (few matches, or a sort on a control's column or on
the OF's name); on SQLite, whose planner has no statistics, unary ``+`` keeps the other
conditions off their indexes (:func:`_hint`). Measured by ``bench/service_fait_queue.py``.

Export (:func:`export_rows`, :data:`EXPORT_COLUMNS`)
-----------------------------------------------------
``/service-fait/export.csv`` and ``.xlsx`` (the queue's filters, in its order), and the
export of a selection (bulk action), with these columns in this order (stable: new
columns are only ever added at the end). Same formats as every export of the portal
(:mod:`portal.exports`: ``;``-separated UTF-8 CSV with a BOM, dates jj/mm/aaaa, decimals
with a comma; in the XLSX, date and number cells).

==========================  ======================================================================
``reference``               the funder's reference of the dossier
``organisme_nda``           NDA of the OF (11 digits, as text)
``organisme_siret``         SIRET of the establishment recorded on the dossier
``organisme_denomination``  name of the OF
``beneficiaire_nom``        beneficiary's last name
``beneficiaire_prenom``     beneficiary's first name
``intitule``                title of the action
``categorie``               category key (``actions_formation``…)
``dispositif``              scheme key (``ptp``, ``cpf``…)
``date_debut``              start date of the action
``date_fin``                end date of the action
``heures_prevues``          planned hours (decimal hours to the hundredth; kept in minutes)
``montant_accorde``         agreed amount in euros (2 decimals)
``statut_controle``         ``a_controler``, ``attente_of`` or ``controle``
``anomalies_bloquantes``    number of blocking findings of the automatic checks
``alertes``                 number of warnings
``informations``            number of information findings
``codes_anomalies``         codes of the findings, blocking first, separated by ``, ``
``montant_facture``         total of the current invoices (all taxes included)
``montant_valide``          total validated by the active decisions
``assigne_a``               e-mail address of the assigned controller (empty: nobody)
``verifie_le``              date the automatic checks last ran (empty: never)
``controle_le``             date every current invoice had a decision (empty: not yet)
``id_portail``              the dossier's number in the portal (``/service-fait/dossiers/<id>``)
==========================  ======================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from portal import audit, clock, exports, formatting
from portal.access import dossiers_scope
from portal.dossiers.services import _of_condition as of_condition
from portal.errors import Refused
from portal.extensions import db
from portal.models import (
    CONTROL_STATUS_LABELS,
    FUNDER_ROLES,
    SEVERITY_LABELS,
    CheckFinding,
    ControlStatus,
    DocumentRequest,
    Dossier,
    Provider,
    RequestStatus,
    ServiceFaitControl,
    Severity,
    User,
)
from portal.pagination import PageNumbers
from portal.routing import database_id
from portal.service_fait.checks import CHECKS, DOCUMENT_MISMATCH_CODES
from portal.service_fait.controls import control_for

PER_PAGE = 50
MAX_SELECTION = 500
STATUS_ALL = "tous"
DEFAULT_STATUS = ControlStatus.TO_CONTROL.value
ASSIGNEE_ME = "moi"
ASSIGNEE_NOBODY = "personne"
ASSIGNEE_SOMEONE = "quelqu_un"
#: The request filter (``?demande=``): a request answered by the OF and not yet closed, or a
#: request still open past its due date.
REQUEST_ANSWERED = "repondue"
REQUEST_LATE = "en_retard"
REQUEST_FILTER_LABELS = {
    REQUEST_ANSWERED: "Réponse de l'organisme reçue",
    REQUEST_LATE: "Date limite dépassée",
}
SEVERITY_ORDER = {Severity.BLOCKING.value: 0, Severity.WARNING.value: 1, Severity.INFO.value: 2}

Control = ServiceFaitControl

EXPORT_COLUMNS: tuple[str, ...] = (
    "reference",
    "organisme_nda",
    "organisme_siret",
    "organisme_denomination",
    "beneficiaire_nom",
    "beneficiaire_prenom",
    "intitule",
    "categorie",
    "dispositif",
    "date_debut",
    "date_fin",
    "heures_prevues",
    "montant_accorde",
    "statut_controle",
    "anomalies_bloquantes",
    "alertes",
    "informations",
    "codes_anomalies",
    "montant_facture",
    "montant_valide",
    "assigne_a",
    "verifie_le",
    "controle_le",
    "id_portail",
)

PLANNED_COLUMN = EXPORT_COLUMNS.index("heures_prevues")  # minutes, written as hours

#: Sort keys of the queue (`-key`: descending).
SORTS: dict[str, Any] = {
    "reference": Dossier.reference,
    "organisme": Provider.name,
    "debut": Dossier.start_date,
    "montant": Dossier.agreed_amount,
    "facture": Control.invoiced_total,
    "anomalies": Control.blocking_count,
}
DOSSIER_SORTS = frozenset({"reference", "organisme", "debut", "montant"})
DEFAULT_SORT = "debut"


@dataclass(frozen=True)
class QueueFilters:
    status: str = DEFAULT_STATUS  # a ControlStatus value, or "tous"
    of: str = ""  # the OF: its name, or its SIRET, SIREN or NDA
    scheme: str = ""
    code: str = ""  # an anomaly code of the automatic checks
    severity: str = ""  # a Severity value
    start: date | None = None  # dossiers whose dates overlap [start, end]
    end: date | None = None
    amount_min: Decimal | None = None  # agreed amount
    amount_max: Decimal | None = None
    assignee: str = ""  # "moi", "personne", "quelqu_un", or a user id as text
    # Figures typed that differ from those of the document (electronic invoice, PDF form
    # or text): a finding of `DOCUMENT_MISMATCH_CODES`.
    documents_differ: bool = False
    request: str = ""  # "repondue" or "en_retard": dossiers with such a document request
    today: date | None = None  # the day "en_retard" is judged on (Paris)

    @property
    def on_dossier(self) -> bool:
        """Whether a filter reads the dossier itself."""
        return bool(
            self.of.strip()
            or self.scheme
            or self.start
            or self.end
            or self.amount_min is not None
            or self.amount_max is not None
        )

    def of_clause(self) -> Any:
        """The OF filter's condition (it looks the OF up: build it once per request)."""
        return of_condition(self.of.strip()) if self.of.strip() else None

    def status_conditions(self) -> list[Any]:
        if self.status == STATUS_ALL:
            return []
        return [Control.status == self.status]

    def dossier_conditions(self, of_clause: Any = None, *, walk: str | None = None) -> list[Any]:
        """The conditions on the dossier's own columns. `walk`: the column whose index the
        query walks in order (see :func:`_hint`); the others are kept off their indexes."""

        def column(name: str) -> Any:
            return _hint(getattr(Dossier, name), keep=name == walk)

        conditions: list[Any] = []
        if of_clause is not None:
            conditions.append(of_clause)
        if self.scheme:
            conditions.append(column("scheme") == self.scheme)
        if self.end is not None:
            conditions.append(column("start_date") <= self.end)
        if self.start is not None:
            conditions.append(column("end_date") >= self.start)
        if self.amount_min is not None:
            conditions.append(column("agreed_amount") >= self.amount_min)
        if self.amount_max is not None:
            conditions.append(column("agreed_amount") <= self.amount_max)
        return conditions

    def control_conditions(self, actor: User, key: Any = Control.dossier_id) -> list[Any]:
        """The conditions on the control (assignee, severity) and its findings (code);
        `key`: the dossier id the findings are matched on."""
        conditions: list[Any] = []
        if self.code:
            # Served by the findings' (dossier_id, code, severity) index.
            finding = [CheckFinding.dossier_id == key, CheckFinding.code == self.code]
            if self.severity:
                finding.append(CheckFinding.severity == self.severity)
            conditions.append(select(CheckFinding.id).where(*finding).exists())
        elif self.severity:
            # The control's counts of findings per severity, kept by the checks' runner.
            conditions.append(SEVERITY_COUNTS[self.severity] > 0)
        if self.documents_differ:
            conditions.append(
                select(CheckFinding.id)
                .where(
                    CheckFinding.dossier_id == key,
                    CheckFinding.code.in_(DOCUMENT_MISMATCH_CODES),
                )
                .exists()
            )
        if self.assignee == ASSIGNEE_ME:
            conditions.append(Control.assigned_to_id == actor.id)
        elif self.assignee == ASSIGNEE_NOBODY:
            conditions.append(Control.assigned_to_id.is_(None))
        elif self.assignee == ASSIGNEE_SOMEONE:
            conditions.append(Control.assigned_to_id.is_not(None))
        elif (assignee_id := database_id(self.assignee)) is not None:
            conditions.append(Control.assigned_to_id == assignee_id)
        if self.request in REQUEST_FILTER_LABELS:
            conditions.append(
                select(DocumentRequest.id)
                .where(*request_conditions(self.request, key, self.today))
                .exists()
            )
        return conditions

    def conditions(self, actor: User, *, with_status: bool = True) -> list[Any]:
        """Every condition (a query that joins the controls and the dossiers)."""
        return [
            *(self.status_conditions() if with_status else []),
            *self.dossier_conditions(self.of_clause()),
            *self.control_conditions(actor),
        ]


def request_conditions(kind: str, dossier_key: Any = None, today: date | None = None) -> list[Any]:
    """The document requests of the request filter `kind` (served by the requests'
    (dossier_id, status) and (status, due_date) indexes); `dossier_key`: matched on it."""
    conditions: list[Any] = []
    if dossier_key is not None:
        conditions.append(DocumentRequest.dossier_id == dossier_key)
    if kind == REQUEST_ANSWERED:
        conditions.append(DocumentRequest.status == RequestStatus.ANSWERED.value)
    else:
        conditions += [
            DocumentRequest.status == RequestStatus.OPEN.value,
            DocumentRequest.due_date < (today or clock.today()),
        ]
    return conditions


SEVERITY_COUNTS: dict[str, Any] = {
    Severity.BLOCKING.value: Control.blocking_count,
    Severity.WARNING.value: Control.warning_count,
    Severity.INFO.value: Control.info_count,
}


def few_ofs(of_clause: Any) -> bool:
    """Whether the OF filter names a few OF, listed (``provider_id IN (…)``, as
    `dossiers.services._of_condition` writes them up to 500), rather than a subquery: their
    dossiers are then best read through the OF's index. Only a hint to the planner: a
    wrong answer changes the speed, never the rows."""
    clause = of_clause
    if isinstance(clause, BooleanClauseList) and clause.clauses:
        clause = clause.clauses[0]
    right = getattr(clause, "right", None)
    return isinstance(clause, BinaryExpression) and bool(getattr(right, "expanding", False))


def _scope(actor: User, *, by_of: bool = False) -> list[Any]:
    """The actor's dossiers (`access.dossiers_scope`). `by_of`: the OF is filtered by an
    identifier: the same condition kept off the funder's indexes (see :func:`_hint`), so
    that its few dossiers are read through the (OF, start) index."""
    if by_of and actor.funder_id is not None:
        return [_hint(Dossier.funder_id) == actor.funder_id]
    scope = dossiers_scope(actor).whereclause
    return [scope] if scope is not None else []


def _hint(column: Any, *, keep: bool = False) -> Any:
    """On SQLite, `+column` (unary plus) keeps a condition off the column's index: without
    statistics, SQLite would otherwise read a range of that index and sort, where walking
    the index of the sort (or the controls' index) and stopping at the page's end is far
    cheaper. Other databases plan from their statistics: the column as it is."""
    if keep or db.session.get_bind().dialect.name != "sqlite":
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def _over_controls(
    query: Any, actor: User, filters: QueueFilters, of_clause: Any, *, join: bool = False
) -> Any:
    """`query` over the funder's controls (their (funder, …) indexes), with every filter
    but the status. The dossier's filters are an EXISTS on its primary key, or a join when
    `join` (the query reads the dossier) or when the OF is filtered (its dossiers are few:
    read through the (funder, OF) index)."""
    by_of = few_ofs(of_clause)
    query = query.select_from(Control).where(
        _hint(Control.funder_id, keep=not by_of) == actor.funder_id,
        *filters.control_conditions(actor),
    )
    dossier_conditions = filters.dossier_conditions(of_clause)
    if join or of_clause is not None:
        return query.join(Dossier, Dossier.id == Control.dossier_id).where(
            *_scope(actor, by_of=by_of), *dossier_conditions
        )
    if dossier_conditions:
        query = query.where(
            select(Dossier.id).where(Dossier.id == Control.dossier_id, *dossier_conditions).exists()
        )
    return query


def ensure_controls(funder_id: int | None, controls: int | None = None) -> int:
    """Create the missing controls of the funder's dossiers (a dossier the checks never
    saw): every dossier is then in the queue, "à contrôler". When nothing is missing, one
    query: the counts of dossiers and of controls (`controls`: already counted) on their
    indexes. Flushes, the caller commits. Returns how many were created."""
    if funder_id is None:
        return 0
    dossiers = select(func.count(Dossier.id)).where(Dossier.funder_id == funder_id)
    if controls is None:
        counted = select(func.count(Control.id)).where(Control.funder_id == funder_id)
        missing = db.session.scalar(select(dossiers.scalar_subquery() - counted.scalar_subquery()))
    else:
        missing = (db.session.scalar(dossiers) or 0) - controls
    if missing is None or missing <= 0:
        return 0
    columns = (
        "dossier_id",
        "funder_id",
        "status",
        "blocking_count",
        "warning_count",
        "info_count",
        "invoiced_total",
        "validated_total",
        "version",
    )
    rows = select(
        Dossier.id,
        Dossier.funder_id,
        literal(DEFAULT_STATUS),
        literal(0),
        literal(0),
        literal(0),
        literal(0),
        literal(0),
        literal(1),
    ).where(Dossier.funder_id == funder_id, ~exists().where(Control.dossier_id == Dossier.id))
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Control.__table__)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["dossier_id"])
    )
    db.session.execute(statement)
    return missing  # (the driver's rowcount of an INSERT … SELECT is not always known)


def parse_sort(sort: str | None) -> str:
    sort = sort or DEFAULT_SORT
    return sort if sort.lstrip("-") in SORTS else DEFAULT_SORT


def _order(sort: str | None, key_column: Any = Control.dossier_id) -> tuple[Any, ...]:
    key = parse_sort(sort)
    descending = key.startswith("-")
    name = key.lstrip("-")
    column = SORTS[name]
    order: list[Any] = [column.desc() if descending else column.asc()]
    if name == "anomalies":  # then the warnings
        order.append(Control.warning_count.desc() if descending else Control.warning_count.asc())
    order.append(key_column.desc() if descending else key_column.asc())
    return tuple(order)


# --- The page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingSummary:
    severity: str
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class FindingBadge:
    css: str  # badge-blocking, badge-warning, badge-info
    text: str  # « 2 bloquantes »
    labels: str  # the findings' labels, for the hover text and screen readers


BADGES = {
    Severity.BLOCKING.value: ("blocking", "bloquante", "bloquantes"),
    Severity.WARNING.value: ("warning", "alerte", "alertes"),
    Severity.INFO.value: ("info", "info.", "info."),
}


@dataclass(frozen=True)
class QueueRow:
    dossier: Dossier
    control: ServiceFaitControl | None
    findings: list[FindingSummary]

    @property
    def status(self) -> str:
        return self.control.status if self.control is not None else DEFAULT_STATUS

    @property
    def assignee(self) -> User | None:
        return self.control.assigned_to if self.control is not None else None

    def count(self, severity: str) -> int:
        return sum(f.count for f in self.findings if f.severity == severity)

    @property
    def badges(self) -> list[FindingBadge]:
        """One badge per severity found (« 2 bloquantes »), the findings' labels in it for
        the hover text and the accessible description."""
        badges = []
        for severity, (css, one, many) in BADGES.items():
            found = [f for f in self.findings if f.severity == severity]
            count = sum(f.count for f in found)
            if count:
                labels = " · ".join(f.label for f in found)
                badges.append(FindingBadge(css, f"{count} {one if count < 2 else many}", labels))
        return badges

    @property
    def invoiced_total(self) -> Decimal:
        return self.control.invoiced_total if self.control is not None else Decimal("0")

    @property
    def validated_total(self) -> Decimal:
        return self.control.validated_total if self.control is not None else Decimal("0")


@dataclass(frozen=True)
class QueuePage(PageNumbers):
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # per status, and "tous"
    created: int = 0  # controls created for dossiers that had none (to commit)


def count(actor: User, filters: QueueFilters) -> Any:
    """The number of dossiers the queue lists under `filters` (its status included), as a
    statement on the controls' indexes (the home page puts it in its one query of counts)."""
    query = _over_controls(select(func.count(Control.id)), actor, filters, filters.of_clause())
    return query.where(*filters.status_conditions())


def status_counts(actor: User, filters: QueueFilters, of_clause: Any = None) -> dict[str, int]:
    """The number of dossiers per status under every filter but the status (one query, on
    the controls' (funder, status) index), with their sum under "tous". `of_clause`: the
    OF filter's condition, when already built."""
    if of_clause is None:
        of_clause = filters.of_clause()
    query = _over_controls(
        select(Control.status, func.count(Control.id)), actor, filters, of_clause
    )
    rows = db.session.execute(query.group_by(Control.status)).all()
    counts = {s.value: 0 for s in ControlStatus}
    for value, count in rows:
        counts[value] = counts.get(value, 0) + count
    counts[STATUS_ALL] = sum(counts.values())
    return counts


def page_findings(dossier_ids: Sequence[int]) -> dict[int, list[FindingSummary]]:
    """The findings of some dossiers, counted per (severity, code), blocking first."""
    found: dict[int, list[FindingSummary]] = {i: [] for i in dossier_ids}
    if not dossier_ids:
        return found
    rows = db.session.execute(
        select(
            CheckFinding.dossier_id,
            CheckFinding.severity,
            CheckFinding.code,
            func.min(CheckFinding.label),
            func.count(CheckFinding.id),
        )
        .where(CheckFinding.dossier_id.in_(list(dossier_ids)))
        .group_by(CheckFinding.dossier_id, CheckFinding.severity, CheckFinding.code)
    )
    for dossier_id, severity, code, label, count in rows:
        found[dossier_id].append(FindingSummary(severity, code, label, count))
    for summaries in found.values():
        summaries.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code))
    return found


#: Sorts served by walking a (funder, column) index of the dossiers in order.
WALKED_SORTS = {"reference": "reference", "debut": "start_date", "montant": "agreed_amount"}
#: Up to this many matching dossiers, they are read on the controls' indexes and sorted
#: (a few milliseconds); beyond, walking the dossiers in the sort's order fills a page
#: long before reaching the end.
SORT_AT_MOST = 5_000


def _ids_query(
    actor: User, filters: QueueFilters, sort: str | None, of_clause: Any, total: int
) -> Any:
    """The ids of the filtered queue in the sort's order (`total`: how many match).

    Sorted on the reference, the start or the amount with many matches, the dossiers are
    walked in the order of their (funder, column) index, joined to their controls, until
    the page is full. Otherwise the matching controls are read on their (funder, …)
    indexes and sorted: walking would read every dossier to find a few."""
    key = parse_sort(sort).lstrip("-")
    if key in WALKED_SORTS and total > SORT_AT_MOST:
        query = (
            select(Dossier.id)
            .select_from(Dossier)
            .join(Control, Control.dossier_id == Dossier.id)
            .where(
                *_scope(actor, by_of=few_ofs(of_clause)),
                *filters.dossier_conditions(of_clause, walk=WALKED_SORTS[key]),
                *filters.control_conditions(actor, key=Dossier.id),
                *filters.status_conditions(),
            )
        )
        return query.order_by(*_order(sort, key_column=Dossier.id))
    query = _over_controls(
        select(Control.dossier_id), actor, filters, of_clause, join=key in DOSSIER_SORTS
    )
    if key == "organisme":
        query = query.join(Provider, Provider.id == Dossier.provider_id)
    return query.where(*filters.status_conditions()).order_by(*_order(sort))


def list_queue(
    actor: User,
    filters: QueueFilters,
    sort: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> QueuePage:
    """One page of the queue, with the counts per status.

    The queue lists the controls (the checks' runner creates one per dossier it checks,
    and the dossiers' services run the checks on every new dossier). Unfiltered (the
    queue as it opens, and its tabs), it also creates the control of any dossier that has
    none (:func:`ensure_controls`, the only extra cost a count of the funder's dossiers:
    the caller commits when `QueuePage.created`), so that no dossier is ever left out."""
    of_clause = filters.of_clause()  # built once: it looks the OF up
    counts = status_counts(actor, filters, of_clause)
    created = 0
    if not filters.on_dossier and not filters.control_conditions(actor):
        created = ensure_controls(actor.funder_id, counts[STATUS_ALL])
        if created:
            counts = status_counts(actor, filters, of_clause)
    total = counts.get(filters.status, 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    ids: list[int] = []
    if total:
        ids = list(
            db.session.scalars(
                _ids_query(actor, filters, sort, of_clause, total)
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
    rows: list[QueueRow] = []
    if ids:
        loaded = {
            dossier.id: (dossier, control)
            for dossier, control in db.session.execute(
                select(Dossier, Control)
                .join(Control, Control.dossier_id == Dossier.id)
                .options(joinedload(Dossier.provider), joinedload(Control.assigned_to))
                .where(Dossier.id.in_(ids))
            ).unique()
        }
        findings = page_findings(ids)
        rows = [QueueRow(loaded[i][0], loaded[i][1], findings[i]) for i in ids if i in loaded]
    return QueuePage(rows, total, page, per_page, counts, created)


# --- What the form offers -------------------------------------------------------------------


def staff(actor: User) -> list[User]:
    """The funder's active controllers and admins (assignees), by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.funder_id == actor.funder_id,
                User.role.in_([r.value for r in FUNDER_ROLES]),
                User.is_active.is_(True),
            )
            .order_by(User.full_name, User.id)
        )
    )


def anomaly_codes() -> list[tuple[str, str]]:
    """(code, label) of every automatic check (the checks' registry), blocking ones
    first, then by label: the choices of the anomaly filter."""
    return [
        (item.code, f"{item.label} ({SEVERITY_LABELS[item.severity].lower()})")
        for item in sorted(
            CHECKS.values(), key=lambda c: (SEVERITY_ORDER.get(c.severity, 9), c.label.lower())
        )
    ]


def status_labels() -> dict[str, str]:
    return {str(k): v for k, v in CONTROL_STATUS_LABELS.items()}


def severity_labels() -> dict[str, str]:
    return {str(k): v for k, v in SEVERITY_LABELS.items()}


# --- Bulk actions -----------------------------------------------------------------------------


def selected_dossiers(actor: User, ids: Iterable[int]) -> list[Dossier]:
    """The selected dossiers within the actor's scope (others are ignored), by reference."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        raise Refused("Cochez au moins un dossier de la liste.")
    if len(wanted) > MAX_SELECTION:
        raise Refused(f"Au plus {MAX_SELECTION} dossiers à la fois.")
    return list(
        db.session.scalars(
            select(Dossier)
            .where(*_scope(actor), Dossier.id.in_(wanted))
            .order_by(Dossier.reference, Dossier.id)
        )
    )


def blocked_ids(dossier_ids: Sequence[int]) -> set[int]:
    """The dossiers among these that have a blocking anomaly (one query)."""
    if not dossier_ids:
        return set()
    return set(
        db.session.scalars(
            select(CheckFinding.dossier_id)
            .where(
                CheckFinding.dossier_id.in_(list(dossier_ids)),
                CheckFinding.severity == Severity.BLOCKING.value,
            )
            .distinct()
        )
    )


def assignable(actor: User, user_id: int | None) -> User | None:
    """The member of the actor's funder's staff to assign (None: nobody); refused
    otherwise."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if (
        user is None
        or user.funder_id != actor.funder_id
        or user.role not in FUNDER_ROLES
        or not user.is_active
    ):
        raise Refused("Choisissez un contrôleur de votre financeur.")
    return user


def assign(actor: User, dossiers: Sequence[Dossier], assignee: User | None) -> int:
    """Assign the dossiers to `assignee` (None: to nobody); returns how many changed; the
    caller commits. Each change is audited."""
    changed = 0
    for dossier in dossiers:
        control = control_for(dossier)
        new_id = assignee.id if assignee is not None else None
        if control.assigned_to_id == new_id:
            continue
        before = control.assigned_to_id
        control.assigned_to_id = new_id
        audit.record(
            "service_fait.assigned",
            actor=actor,
            target=control,
            funder_id=dossier.funder_id,
            details={"dossier_id": dossier.id, "before": before, "after": new_id},
        )
        changed += 1
    return changed


# --- Export ---------------------------------------------------------------------------------


def _export_where(
    actor: User, filters: QueueFilters | None, ids: Sequence[int] | None
) -> list[Any]:
    where = [Control.funder_id == actor.funder_id, *_scope(actor)]
    if ids is not None:
        where.append(Dossier.id.in_(list(ids)))
    if filters is not None:
        where += filters.conditions(actor)
    return where


def export_count(
    actor: User, filters: QueueFilters | None = None, *, ids: Sequence[int] | None = None
) -> int:
    """How many rows the export will have (for its audit record, written before the rows
    stream). Creates the missing controls first (:func:`ensure_controls`, flushed: the
    caller commits before streaming :func:`export_rows`)."""
    ensure_controls(actor.funder_id)
    query = (
        select(func.count(Control.id))
        .select_from(Control)
        .join(Dossier, Dossier.id == Control.dossier_id)
        .where(*_export_where(actor, filters, ids))
    )
    return int(db.session.scalar(query) or 0)


#: Rows read at a time by the export (and the findings of those rows): memory does not
#: grow with the size of the queue.
EXPORT_BATCH = 2_000


def export_rows(
    actor: User,
    filters: QueueFilters | None = None,
    sort: str | None = None,
    *,
    ids: Sequence[int] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The rows of the export, in :data:`EXPORT_COLUMNS` order: the queue's filters, or
    the selected `ids` (within the actor's scope), read :data:`EXPORT_BATCH` at a time
    with the findings of each batch (constant memory, first rows at once). Call
    :func:`export_count` first: it creates the controls of the dossiers that had none.
    The query is built at once (the actor is read now), the rows when iterated."""
    Assignee = db.aliased(User)
    query = (
        select(
            Dossier.reference,
            Provider.nda,
            Dossier.provider_siret,
            Provider.name,
            Dossier.beneficiary_last_name,
            Dossier.beneficiary_first_name,
            Dossier.action_title,
            Dossier.category,
            Dossier.scheme,
            Dossier.start_date,
            Dossier.end_date,
            Dossier.planned_minutes,
            Dossier.agreed_amount,
            Control.status,
            Control.invoiced_total,
            Control.validated_total,
            Assignee.email,
            Control.checks_run_at,
            Control.decided_at,
            Dossier.id,
        )
        .select_from(Control)
        .join(Dossier, Dossier.id == Control.dossier_id)
        .join(Provider, Provider.id == Dossier.provider_id)
        .outerjoin(Assignee, Assignee.id == Control.assigned_to_id)
        .where(*_export_where(actor, filters, ids))
        .order_by(*_order(sort))
    )
    return _export_batches(query)


def _export_batches(query: Any) -> Iterator[tuple[Any, ...]]:
    result = db.session.execute(query.execution_options(yield_per=EXPORT_BATCH))
    for batch in result.partitions():
        findings: dict[int, list[tuple[str, str]]] = {}
        for dossier_id, severity, code in db.session.execute(
            select(CheckFinding.dossier_id, CheckFinding.severity, CheckFinding.code).where(
                CheckFinding.dossier_id.in_([row[-1] for row in batch])
            )
        ):
            findings.setdefault(dossier_id, []).append((severity, code))
        for row in batch:
            yield _export_row(row, findings.get(row[-1], []))


def _export_row(row: Sequence[Any], found: list[tuple[str, str]]) -> tuple[Any, ...]:
    (*head, status, invoiced, validated, email, checked_at, decided_at, dossier_id) = row
    found = sorted(found, key=lambda f: (SEVERITY_ORDER.get(f[0], 9), f[1]))
    codes = list(dict.fromkeys(code for _, code in found))
    head[PLANNED_COLUMN] = formatting.hours_decimal(head[PLANNED_COLUMN])
    return (
        *head,
        status,
        sum(1 for s, _ in found if s == Severity.BLOCKING.value),
        sum(1 for s, _ in found if s == Severity.WARNING.value),
        sum(1 for s, _ in found if s == Severity.INFO.value),
        ", ".join(codes),
        invoiced if invoiced is not None else Decimal("0"),
        validated if validated is not None else Decimal("0"),
        email,
        _day(checked_at),
        _day(decided_at),
        dossier_id,
    )


def _day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    return clock.local(moment).date()


def to_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    return exports.to_csv(EXPORT_COLUMNS, rows)


def to_xlsx(rows: Iterable[Sequence[Any]]) -> bytes:
    return exports.to_xlsx(EXPORT_COLUMNS, rows, XLSX_SHEET)


XLSX_SHEET = "Contrôles"


def export_chunks(rows: Iterable[Sequence[Any]], extension: str) -> Iterator[bytes]:
    """The export file in pieces (CSV or XLSX), as the rows come."""
    if extension == "csv":
        return exports.csv_chunks(EXPORT_COLUMNS, rows)
    return exports.xlsx_chunks(EXPORT_COLUMNS, rows, XLSX_SHEET)
