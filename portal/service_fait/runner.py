"""Run the automatic checks (:mod:`portal.service_fait.checks`) and store their findings.

The facts are gathered by batches of dossiers (:data:`BATCH_SIZE`), a fixed handful of
queries per batch whatever its size, never one per dossier:

1. the dossiers' controls are created where missing (one INSERT … SELECT);
2. the dossiers with their OF's NDA and their control, whose rows are locked (``FOR
   UPDATE`` on PostgreSQL: two runs on one dossier follow each other);
3. their current pieces with their files' SHA-256;
4. the public list's history of their OF (every version of those NDAs);
5. the pieces they may share with other dossiers of the same funder: invoices of the same
   OF (a duplicate invoice number), pieces with the same SHA-256 (a duplicate file). For
   a big run (:data:`WHOLE_BASE_FROM` dossiers or more) these are read once for the whole
   base instead (two queries that return only the duplicates);
6. the active decisions and the open requests for documents (the control's state, as
   :func:`portal.service_fait.controls.refresh_state` derives it);

then the checks run, and at most four writes store what changed: the findings of the
dossiers whose findings differ from those stored (one DELETE, one multi-row INSERT: a
finding that did not change keeps its row), the controls whose counts per severity, status
or totals differ (one executemany UPDATE), and ``checks_run_at`` on every control of the
batch (one UPDATE). The derived columns are written without bumping
the control's version: a check run never makes a controller's open decision form stale.

:func:`run_checks` commits each batch (its own transaction); :func:`recheck` works inside
the caller's transaction (the pieces and dossiers services call it before their caller
commits, so that a piece and the findings it causes are saved together).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import attributes

from portal.clock import utcnow
from portal.dossiers import signals
from portal.extensions import db
from portal.models import (
    CheckFinding,
    ControlStatus,
    Document,
    DocumentRequest,
    Dossier,
    Funder,
    ImportStatus,
    InvoiceDecision,
    ListChange,
    ListImport,
    ListVersion,
    Piece,
    PieceKind,
    Provider,
    RequestStatus,
    ServiceFaitControl,
    Severity,
)
from portal.public_list.history import CATEGORY_KEYS
from portal.service_fait import checks
from portal.service_fait.controls import derive_status
from portal.subcontracting.services import dossier_subcontract_compliance

BATCH_SIZE = 500
#: From this many dossiers, the duplicates are read once for the whole base.
WHOLE_BASE_FROM = 2_000
#: Changes of the public list that can change a check (not a new name or SIRET).
LIST_CHANGES_CHECKED = ("added", "removed", "category_gained", "category_lost")

INVOICE = PieceKind.INVOICE.value
ZERO = Decimal("0")

Progress = Callable[[int, int], None]
# Piece id → the pieces that share something with it (its group, itself included).
Shared = dict[int, tuple[checks.OtherPiece, ...]]


@dataclass
class RunSummary:
    """What a run did, for the command line and the tests."""

    dossiers: int = 0
    findings: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Severity})
    dossiers_with_blocking: int = 0
    seconds: float = 0.0

    def add(self, other: RunSummary) -> None:
        self.dossiers += other.dossiers
        self.findings += other.findings
        for key, value in other.by_severity.items():
            self.by_severity[key] = self.by_severity.get(key, 0) + value
        self.dossiers_with_blocking += other.dossiers_with_blocking


# --- Entry points --------------------------------------------------------------------------------


def run_checks(
    dossier_ids: Sequence[int],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Run every check on these dossiers and store the findings, one transaction (commit)
    per batch (:data:`BATCH_SIZE` dossiers). Unknown ids are ignored."""
    started = time.perf_counter()
    batch_size = batch_size or BATCH_SIZE
    ids = sorted(set(dossier_ids))
    summary = RunSummary()
    context = _Context.build(whole_base=len(ids) >= WHOLE_BASE_FROM)
    for start in range(0, len(ids), batch_size):
        try:
            summary.add(_run_batch(ids[start : start + batch_size], context))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if progress is not None:
            progress(min(start + batch_size, len(ids)), len(ids))
    summary.seconds = time.perf_counter() - started
    return summary


def run_all_checks(progress: Progress | None = None) -> RunSummary:
    """Re-run every check on every dossier."""
    ids = list(db.session.scalars(select(Dossier.id).order_by(Dossier.id)))
    return run_checks(ids, progress=progress)


def recheck(dossier_ids: Iterable[int]) -> RunSummary:
    """Run the checks of these dossiers inside the caller's transaction (no commit)."""
    started = time.perf_counter()
    ids = sorted(set(dossier_ids))
    summary = RunSummary()
    if not ids:
        return summary
    db.session.flush()
    context = _Context.build(whole_base=len(ids) >= WHOLE_BASE_FROM)
    for start in range(0, len(ids), BATCH_SIZE):
        summary.add(_run_batch(ids[start : start + BATCH_SIZE], context))
    summary.seconds = time.perf_counter() - started
    return summary


def check_new(dossiers: Sequence[Dossier]) -> RunSummary:
    """Run the checks of dossiers just created in the caller's transaction (no commit).

    A new dossier has no control, piece, decision, request, finding or subcontracting
    contract yet: only its terms and its OF's history in the public list can make a
    finding. So the facts come from the new objects themselves and that history, and a
    batch writes the controls (with their counts) and the findings: four statements,
    where :func:`recheck` reads everything a dossier may hold.
    """
    started = time.perf_counter()
    summary = RunSummary()
    if not dossiers:
        return summary
    db.session.flush()
    context = _Context.build(whole_base=False)
    for start in range(0, len(dossiers), BATCH_SIZE):
        summary.add(_run_new_batch(dossiers[start : start + BATCH_SIZE], context))
    summary.seconds = time.perf_counter() - started
    return summary


def recheck_pieces(dossier: Dossier, pieces: Iterable[Piece]) -> RunSummary:
    """After pieces were added to or replaced in `dossier` (new and replaced versions in
    `pieces`): re-run its checks and those of the funder's other dossiers that share a file
    or an invoice number with those pieces (their duplicate findings appear or go).
    Inside the caller's transaction."""
    pieces = list(pieces)
    db.session.flush()
    shas = {p.document.sha256 for p in pieces if p.document is not None}
    numbers = {
        checks.normalize_invoice_number(p.invoice_number)
        for p in pieces
        if p.kind == INVOICE and p.invoice_number
    }
    return recheck({dossier.id, *_sharing(dossier.funder_id, dossier.provider_id, shas, numbers)})


def _sharing(funder_id: int, provider_id: int, shas: set[str], numbers: set[str]) -> set[int]:
    """The funder's dossiers holding a current piece with one of these SHA-256, or (of the
    OF) a current invoice with one of these numbers (normalised)."""
    conn = db.session.connection()
    found: set[int] = set()
    if shas:
        found.update(
            conn.scalars(
                select(Piece.dossier_id)
                .join(Document, Document.id == Piece.document_id)
                .join(Dossier, Dossier.id == Piece.dossier_id)
                .where(
                    Document.sha256.in_(sorted(shas)),
                    Piece.superseded_at.is_(None),
                    Dossier.funder_id == funder_id,
                )
            )
        )
    if numbers:
        for dossier_id, number in conn.execute(
            select(Piece.dossier_id, Piece.invoice_number)
            .join(Dossier, Dossier.id == Piece.dossier_id)
            .where(
                Dossier.funder_id == funder_id,
                Dossier.provider_id == provider_id,
                Piece.kind == INVOICE,
                Piece.superseded_at.is_(None),
                Piece.invoice_number.is_not(None),
            )
        ):
            if checks.normalize_invoice_number(number) in numbers:
                found.add(dossier_id)
    return found


def rerun_after_list_import(run: ListImport) -> RunSummary:
    """After an import of the public list: re-run the dossiers of the OF whose entry gained
    or lost a category, entered or left the list in this import; every dossier after the
    first list ever imported (the dates it makes checkable)."""
    if run.status != ImportStatus.SUCCEEDED:
        return RunSummary()
    earlier = db.session.scalar(
        select(ListImport.id)
        .where(ListImport.status.in_(ImportStatus.IN_FORCE), ListImport.id != run.id)
        .limit(1)
    )
    if earlier is None:
        return run_all_checks()
    changed = select(ListChange.nda).where(
        ListChange.import_id == run.id, ListChange.kind.in_(LIST_CHANGES_CHECKED)
    )
    ids = db.session.scalars(
        select(Dossier.id)
        .join(Provider, Provider.id == Dossier.provider_id)
        .where(Provider.nda.in_(changed))
    ).all()
    return run_checks(ids)


# --- One batch -----------------------------------------------------------------------------------


@dataclass
class _Context:
    """What a run reads once: the date of the first public list, and for a big run the
    duplicates of the whole base."""

    known_from: date | None
    whole_base: bool
    # Piece id → the current invoices of its OF and funder with the same number.
    invoices: Shared = field(default_factory=dict)
    # Piece id → the current pieces of its funder's dossiers with the same file.
    files: Shared = field(default_factory=dict)
    # NDA → its history in the public list, as read so far.
    history: dict[str, checks.QualiopiFacts] = field(default_factory=dict)

    @classmethod
    def build(cls, *, whole_base: bool) -> _Context:
        conn = db.session.connection()
        known_from = conn.scalar(
            select(func.min(ListImport.as_of)).where(ListImport.status.in_(ImportStatus.IN_FORCE))
        )
        context = cls(known_from, whole_base)
        if whole_base:
            context.invoices = _group_invoices(_whole_base_invoices(conn))
            context.files = _group_files(_file_rows(conn, None))
        return context


INVOICE_COLUMNS = (
    Dossier.funder_id,
    Dossier.provider_id,
    Piece.dossier_id,
    Dossier.reference,
    Piece.id,
    Piece.period_start,
    Piece.period_end,
    Piece.invoice_number,
)


def _current_invoices(*columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(Piece)
        .join(Dossier, Dossier.id == Piece.dossier_id)
        .where(
            Piece.kind == INVOICE,
            Piece.superseded_at.is_(None),
            Piece.invoice_number.is_not(None),
        )
    )


def _invoice_rows(conn: Connection, funder_ids: set[int], provider_ids: set[int]) -> list[Any]:
    """The current invoices of these OF with these funders."""
    return conn.execute(
        _current_invoices(*INVOICE_COLUMNS).where(
            Dossier.funder_id.in_(sorted(funder_ids)),
            Dossier.provider_id.in_(sorted(provider_ids)),
        )
    ).all()


def _whole_base_invoices(conn: Connection) -> list[Any]:
    """The current invoices whose number another current invoice of the same OF and funder
    carries: every invoice is read once, narrow (a digest of its key and its id), then
    those few in full."""
    first_of: dict[int, int] = {}
    wanted: set[int] = set()
    normalize = checks.normalize_invoice_number
    narrow = _current_invoices(
        Dossier.funder_id, Dossier.provider_id, Piece.id, Piece.invoice_number
    )
    for funder_id, provider_id, piece_id, number in conn.execute(
        narrow.execution_options(yield_per=20_000)
    ):
        first = first_of.setdefault(hash((funder_id, provider_id, normalize(number))), piece_id)
        if first != piece_id:
            wanted.update((first, piece_id))
    del first_of
    ids = sorted(wanted)
    rows: list[Any] = []
    for start in range(0, len(ids), BATCH_SIZE):
        rows += conn.execute(
            _current_invoices(*INVOICE_COLUMNS).where(Piece.id.in_(ids[start : start + BATCH_SIZE]))
        ).all()
    return rows  # grouped exactly by `_group_invoices` (a digest may collide)


def _by_piece(groups: Iterable[list[checks.OtherPiece]]) -> Shared:
    """Each piece of a group of several, with its group (itself included: the checks leave
    out the dossier's own pieces)."""
    shared: Shared = {}
    for pieces in groups:
        if len(pieces) > 1:
            group = tuple(pieces)
            for piece in pieces:
                shared[piece.piece_id] = group
    return shared


def _group_invoices(rows: Iterable[Any]) -> Shared:
    """Current invoices of one OF within one funder with the same (normalised) number."""
    groups: dict[tuple[int, int, str], list[checks.OtherPiece]] = defaultdict(list)
    for funder_id, provider_id, dossier_id, reference, piece_id, start, end, number in rows:
        groups[(funder_id, provider_id, checks.normalize_invoice_number(number))].append(
            checks.OtherPiece(dossier_id, reference, piece_id, INVOICE, start, end, number)
        )
    return _by_piece(groups.values())


def _file_rows(conn: Connection, shas: set[str] | None) -> Iterator[Any]:
    columns = (
        Dossier.funder_id,
        Document.sha256,
        Piece.dossier_id,
        Dossier.reference,
        Piece.id,
        Piece.kind,
        Piece.period_start,
        Piece.period_end,
    )
    current = (
        select(*columns)
        .select_from(Piece)
        .join(Document, Document.id == Piece.document_id)
        .join(Dossier, Dossier.id == Piece.dossier_id)
        .where(Piece.superseded_at.is_(None))
    )
    if shas is not None:
        query = current.where(Document.sha256.in_(sorted(shas)))
    else:
        # Only files stored more than once (a scan of the SHA-256 index), then grouped
        # per funder by `_group_files`.
        shared = select(Document.sha256).group_by(Document.sha256).having(func.count() > 1)
        query = current.where(Document.sha256.in_(shared))
    return iter(conn.execute(query))


def _group_files(rows: Iterable[Any]) -> Shared:
    """Current pieces of one funder's dossiers with the same file."""
    groups: dict[tuple[int, str], list[checks.OtherPiece]] = defaultdict(list)
    for funder_id, sha256, dossier_id, reference, piece_id, kind, start, end in rows:
        groups[(funder_id, sha256)].append(
            checks.OtherPiece(dossier_id, reference, piece_id, kind, start, end, sha256=sha256)
        )
    return _by_piece(groups.values())


CONTROL_DEFAULTS = {
    "status": ControlStatus.TO_CONTROL.value,
    "blocking_count": 0,
    "warning_count": 0,
    "info_count": 0,
    "invoiced_total": ZERO,
    "validated_total": ZERO,
    "version": 1,
}


def _among(column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids`; for sorted ids without gaps (a run over every dossier), the range
    `BETWEEN first AND last`, which the database reads as fast and compiles much faster
    than 500 parameters."""
    if ids and ids[-1] - ids[0] == len(ids) - 1 and list(ids) == sorted(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


def _create_controls(conn: Connection, ids: Sequence[int]) -> None:
    """The controls of the dossiers that have none yet, in one INSERT … SELECT."""
    table = ServiceFaitControl.__table__
    source = select(
        Dossier.id,
        Dossier.funder_id,
        *(literal(value, table.c[name].type) for name, value in CONTROL_DEFAULTS.items()),
    ).where(
        _among(Dossier.id, ids),
        ~exists().where(ServiceFaitControl.dossier_id == Dossier.id),
    )
    columns = ["dossier_id", "funder_id", *CONTROL_DEFAULTS]
    if conn.dialect.name == "postgresql":
        # Two transactions creating the same control: the second one skips it.
        statement: Any = (
            pg_insert(table)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["dossier_id"])
        )
    else:
        statement = insert(table).from_select(columns, source)
    conn.execute(statement)


def _dossier_rows(conn: Connection, ids: Sequence[int]) -> list[Any]:
    return conn.execute(
        select(
            Dossier.id,
            Dossier.reference,
            Dossier.funder_id,
            Dossier.provider_id,
            Dossier.category,
            Dossier.scheme,
            Dossier.modality,
            Dossier.start_date,
            Dossier.end_date,
            Dossier.planned_minutes,
            Dossier.agreed_amount,
            Dossier.payment_rhythm,
            Dossier.subcontracted,
            Dossier.rncp_code,
            Funder.qualiopi_loss_blocks_payment,
            Dossier.provider_siret,
            Provider.nda,
            Provider.siren.label("provider_siren"),
            ServiceFaitControl.id.label("control_id"),
            ServiceFaitControl.status,
            ServiceFaitControl.decided_at,
            ServiceFaitControl.blocking_count,
            ServiceFaitControl.warning_count,
            ServiceFaitControl.info_count,
            ServiceFaitControl.invoiced_total,
            ServiceFaitControl.validated_total,
        )
        .join(Provider, Provider.id == Dossier.provider_id)
        .join(Funder, Funder.id == Dossier.funder_id)
        .join(ServiceFaitControl, ServiceFaitControl.dossier_id == Dossier.id)
        .where(_among(Dossier.id, ids))
        .order_by(ServiceFaitControl.id)
        .with_for_update(of=ServiceFaitControl.__table__)
    ).all()


PIECE_COLUMNS = (
    Piece.id,
    Piece.dossier_id,
    Piece.kind,
    Piece.period_start,
    Piece.period_end,
    Document.sha256,
    Piece.invoice_number,
    Piece.invoice_date,
    Piece.amount_excl_tax,
    Piece.amount_incl_tax,
    Piece.minutes_billed,
    Piece.minutes_completed,
    Piece.months_completed,
    Piece.nature,
    Piece.half_days_planned,
    Piece.half_days_signed,
    Piece.minutes_attended,
    Piece.figures_source,
    Piece.file_figures,
)


def _pieces(conn: Connection, ids: Sequence[int]) -> dict[int, list[checks.PieceFacts]]:
    by_dossier: dict[int, list[checks.PieceFacts]] = defaultdict(list)
    make = checks.PieceFacts
    for piece_id, dossier_id, *figures in conn.execute(
        select(*PIECE_COLUMNS)
        .join(Document, Document.id == Piece.document_id)
        .where(_among(Piece.dossier_id, ids), Piece.superseded_at.is_(None))
    ).all():
        by_dossier[dossier_id].append(make(piece_id, *figures))
    return by_dossier


def _history(
    conn: Connection, ndas: set[str], context: _Context
) -> dict[str, checks.QualiopiFacts]:
    """The public list's history of these NDAs, read once per run (kept in the context:
    the OF of a batch come back in the next ones)."""
    known = context.history
    missing = sorted(n for n in ndas if n not in known)
    if missing and context.known_from is not None:
        spans: dict[str, list[checks.ListSpan]] = defaultdict(list)
        flags = [ListVersion.__table__.c[key] for key in CATEGORY_KEYS]
        for start in range(0, len(missing), BATCH_SIZE):
            for nda, valid_from, valid_to, *values in conn.execute(
                select(ListVersion.nda, ListVersion.valid_from, ListVersion.valid_to, *flags).where(
                    ListVersion.nda.in_(missing[start : start + BATCH_SIZE])
                )
            ).all():
                categories = frozenset(k for k, v in zip(CATEGORY_KEYS, values, strict=True) if v)
                spans[nda].append(checks.ListSpan(valid_from, valid_to, categories))
        for nda in missing:
            known[nda] = checks.QualiopiFacts(
                nda,
                context.known_from,
                tuple(sorted(spans.get(nda, ()), key=lambda s: s.valid_from)),
            )
    elif missing:
        for nda in missing:
            known[nda] = checks.QualiopiFacts(nda, None, ())
    return known


def _state_counts(
    conn: Connection, ids: Sequence[int]
) -> tuple[dict[int, tuple[int, Decimal]], dict[int, int]]:
    """Per dossier: (active decisions on current invoices, amount validated), and the number
    of open requests for documents: the counts `refresh_state` derives the status from."""
    decided: dict[int, tuple[int, Decimal]] = {}
    for dossier_id, count, validated in conn.execute(
        select(
            InvoiceDecision.dossier_id,
            func.count(InvoiceDecision.id),
            func.coalesce(func.sum(InvoiceDecision.amount_validated), 0),
        )
        .join(Piece, Piece.id == InvoiceDecision.invoice_id)
        .where(
            _among(InvoiceDecision.dossier_id, ids),
            InvoiceDecision.reopened_at.is_(None),
            Piece.superseded_at.is_(None),
        )
        .group_by(InvoiceDecision.dossier_id)
    ):
        decided[dossier_id] = (count, Decimal(str(validated)))
    open_requests: dict[int, int] = dict(
        conn.execute(
            select(DocumentRequest.dossier_id, func.count(DocumentRequest.id))
            .where(
                _among(DocumentRequest.dossier_id, ids),
                DocumentRequest.status == RequestStatus.OPEN.value,
            )
            .group_by(DocumentRequest.dossier_id)
        ).all()
    )
    return decided, open_requests


def _subcontracts(ids: Sequence[int]) -> dict[int, checks.SubcontractFacts | None]:
    """The subcontracting compliance of the dossiers linked to a contract (a batched
    service: a few queries whatever the number of dossiers)."""
    facts: dict[int, checks.SubcontractFacts | None] = {}
    for dossier_id, result in dossier_subcontract_compliance(list(ids)).items():
        if result is None:
            continue
        # Outside the CPF, a certification in warning is the point of attention to show.
        reasons = result.failures if result.cpf else (*result.failures, *result.attention)
        facts[dossier_id] = checks.SubcontractFacts(
            result.compliant and (result.cpf or not result.attention),
            tuple(reasons),
            cpf=result.cpf,
        )
    return facts


def _duplicates(
    conn: Connection,
    context: _Context,
    dossiers: Sequence[Any],
    pieces: dict[int, list[checks.PieceFacts]],
) -> dict[int, checks.DuplicateFacts]:
    """Per dossier, the other pieces that may share an invoice number or a file with its
    pieces: from the whole base's duplicates (big runs) or read for the batch."""
    if context.whole_base:
        invoices, files = context.invoices, context.files
    else:
        funder_ids = {d.funder_id for d in dossiers}
        provider_ids = {d.provider_id for d in dossiers}
        invoices = _group_invoices(_invoice_rows(conn, funder_ids, provider_ids))
        shas = {p.sha256 for ps in pieces.values() for p in ps if p.sha256}
        files = _group_files(_file_rows(conn, shas)) if shas else {}
    result: dict[int, checks.DuplicateFacts] = {}
    if not invoices and not files:
        return result
    for dossier in dossiers:
        same_invoices: dict[int, checks.OtherPiece] = {}
        same_files: dict[int, checks.OtherPiece] = {}
        for piece in pieces.get(dossier.id, ()):
            for other in invoices.get(piece.id, ()):
                same_invoices[other.piece_id] = other
            for other in files.get(piece.id, ()):
                same_files[other.piece_id] = other
        if same_invoices or same_files:
            result[dossier.id] = checks.DuplicateFacts(
                tuple(same_invoices.values()), tuple(same_files.values())
            )
    return result


FINDING_COLUMNS = (
    CheckFinding.code,
    CheckFinding.severity,
    CheckFinding.label,
    CheckFinding.explanation,
    CheckFinding.piece_id,
    CheckFinding.period_start,
    CheckFinding.period_end,
)


def _stored_findings(conn: Connection, ids: Sequence[int]) -> dict[int, list[tuple]]:
    """The findings stored for these dossiers, as tuples of FINDING_COLUMNS, in order."""
    stored: dict[int, list[tuple]] = defaultdict(list)
    for dossier_id, *row in conn.execute(
        select(CheckFinding.dossier_id, *FINDING_COLUMNS)
        .where(_among(CheckFinding.dossier_id, ids))
        .order_by(CheckFinding.dossier_id, CheckFinding.id)
    ):
        stored[dossier_id].append(tuple(row))
    return stored


def _facts(
    dossier: Any,
    pieces: list[checks.PieceFacts],
    qualiopi: checks.QualiopiFacts | None,
    duplicates: checks.DuplicateFacts,
    subcontract: checks.SubcontractFacts | None,
) -> checks.DossierFacts:
    return checks.DossierFacts(
        id=dossier.id,
        reference=dossier.reference,
        category=dossier.category,
        scheme=dossier.scheme,
        start_date=dossier.start_date,
        end_date=dossier.end_date,
        planned_minutes=dossier.planned_minutes,
        agreed_amount=dossier.agreed_amount,
        payment_rhythm=dossier.payment_rhythm,
        provider_nda=dossier.nda,
        provider_siren=dossier.provider_siren or "",
        provider_siret=dossier.provider_siret or "",
        subcontracted=dossier.subcontracted,
        modality=dossier.modality,
        rncp_code=dossier.rncp_code,
        qualiopi_loss_blocking=bool(dossier.qualiopi_loss_blocks_payment),
        pieces=tuple(pieces),
        qualiopi=qualiopi,
        duplicates=duplicates,
        subcontract=subcontract,
    )


SEVERITIES = tuple(Severity)


def _run_batch(ids: Sequence[int], context: _Context) -> RunSummary:
    """Check one batch of dossiers and store what changed: the findings of the dossiers
    whose findings differ (one DELETE, one INSERT), the controls whose counts or state
    differ (one executemany UPDATE), and the time of the run on every control."""
    db.session.flush()
    conn = db.session.connection()
    now = utcnow()
    _create_controls(conn, ids)
    dossiers = _dossier_rows(conn, ids)
    ids = sorted(d.id for d in dossiers)
    summary = RunSummary(dossiers=len(ids))
    if not ids:
        return summary
    pieces = _pieces(conn, ids)
    qualiopi = _history(conn, {d.nda for d in dossiers}, context)
    duplicates = _duplicates(conn, context, dossiers, pieces)
    decided, open_requests = _state_counts(conn, ids)
    subcontracts = _subcontracts(ids)
    stored = _stored_findings(conn, ids)
    no_duplicates = checks.DuplicateFacts()
    rank = {severity.value: value for severity, value in checks.SEVERITY_RANK.items()}

    changed_ids: list[int] = []
    finding_rows: list[dict[str, Any]] = []
    control_rows: list[dict[str, Any]] = []
    for dossier in dossiers:
        dossier_id = dossier.id
        dossier_pieces = pieces.get(dossier_id, [])
        facts = _facts(
            dossier,
            dossier_pieces,
            qualiopi.get(dossier.nda),
            duplicates.get(dossier_id, no_duplicates),
            subcontracts.get(dossier_id),
        )
        found = checks.run_all(facts)
        counts = dict.fromkeys(SEVERITIES, 0)
        values = []
        for finding in found:
            counts[finding.severity] += 1
            values.append(
                (
                    finding.code,
                    finding.severity.value,
                    finding.label,
                    finding.explanation,
                    finding.piece_id,
                    finding.period_start,
                    finding.period_end,
                )
            )
        if values != stored.get(dossier_id, []):
            changed_ids.append(dossier_id)
            finding_rows.extend(
                {
                    "control_id": dossier.control_id,
                    "dossier_id": dossier_id,
                    "code": code,
                    "severity": severity,
                    "severity_rank": rank[severity],
                    "label": label,
                    "explanation": explanation,
                    "piece_id": piece_id,
                    "period_start": period_start,
                    "period_end": period_end,
                }
                for code, severity, label, explanation, piece_id, period_start, period_end in values
            )
        invoices = [p for p in dossier_pieces if p.kind == INVOICE]
        invoiced = sum((p.amount_incl_tax for p in invoices if p.amount_incl_tax is not None), ZERO)
        decided_count, validated = decided.get(dossier_id, (0, ZERO))
        status = derive_status(
            open_requests=open_requests.get(dossier_id, 0),
            invoices=len(invoices),
            decided_invoices=decided_count,
        ).value
        decided_at = dossier.decided_at
        if status != dossier.status:
            decided_at = now if status == ControlStatus.DECIDED.value else None
        state = (
            counts[Severity.BLOCKING],
            counts[Severity.WARNING],
            counts[Severity.INFO],
            status,
            invoiced,
            validated,
        )
        was = (
            dossier.blocking_count,
            dossier.warning_count,
            dossier.info_count,
            dossier.status,
            dossier.invoiced_total,
            dossier.validated_total,
        )
        if state != was:
            control_rows.append(
                {
                    "b_id": dossier.control_id,
                    "b_blocking": state[0],
                    "b_warning": state[1],
                    "b_info": state[2],
                    "b_status": status,
                    "b_decided_at": decided_at,
                    "b_invoiced": invoiced,
                    "b_validated": validated,
                }
            )
        for severity, count in counts.items():
            summary.by_severity[severity.value] += count
        summary.findings += len(found)
        summary.dossiers_with_blocking += bool(counts[Severity.BLOCKING])

    table = ServiceFaitControl.__table__
    if changed_ids:
        conn.execute(
            delete(CheckFinding.__table__).where(_among(CheckFinding.dossier_id, changed_ids))
        )
    if finding_rows:
        conn.execute(insert(CheckFinding.__table__), finding_rows)
    if control_rows:
        _update_controls(conn, control_rows)
    conn.execute(update(table).where(_among(table.c.dossier_id, ids)).values(checks_run_at=now))
    _forget_loaded(set(ids))
    return summary


@dataclass(frozen=True)
class _NewDossier:
    """What the checks read of a new dossier (the columns `_dossier_rows` reads)."""

    id: int
    reference: str
    funder_id: int
    category: str
    scheme: str
    modality: str
    start_date: date
    end_date: date
    planned_minutes: int
    agreed_amount: Decimal
    payment_rhythm: str
    subcontracted: bool
    rncp_code: str | None
    qualiopi_loss_blocks_payment: bool
    provider_siret: str | None
    nda: str
    provider_siren: str | None

    @classmethod
    def of(cls, dossier: Dossier) -> _NewDossier:
        provider = dossier.provider
        return cls(
            dossier.id,
            dossier.reference,
            dossier.funder_id,
            dossier.category,
            dossier.scheme,
            dossier.modality,
            dossier.start_date,
            dossier.end_date,
            dossier.planned_minutes,
            dossier.agreed_amount,
            dossier.payment_rhythm,
            dossier.subcontracted,
            dossier.rncp_code,
            # The funder's setting (in the session already, or read once per funder).
            dossier.funder.qualiopi_loss_blocks_payment,
            dossier.provider_siret,
            provider.nda,
            provider.siren,
        )


#: The state of the control of a dossier that holds nothing yet.
NEW_STATUS = derive_status(open_requests=0, invoices=0, decided_invoices=0).value


def _run_new_batch(new: Sequence[Dossier], context: _Context) -> RunSummary:
    """Check a batch of new dossiers: what :func:`_run_batch` finds for a dossier with no
    piece, decision, request, finding or subcontracting contract, in three statements
    (their OF's history, the controls with their counts, the findings)."""
    conn = db.session.connection()
    now = utcnow()
    dossiers = [_NewDossier.of(dossier) for dossier in new]
    summary = RunSummary(dossiers=len(dossiers))
    qualiopi = _history(conn, {d.nda for d in dossiers}, context)
    no_duplicates = checks.DuplicateFacts()
    rank = {severity.value: value for severity, value in checks.SEVERITY_RANK.items()}
    found_by_dossier: dict[int, list[checks.Finding]] = {}
    control_rows: list[dict[str, Any]] = []
    for dossier in dossiers:
        found = checks.run_all(_facts(dossier, [], qualiopi.get(dossier.nda), no_duplicates, None))
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in found:
            counts[finding.severity] += 1
        found_by_dossier[dossier.id] = found
        control_rows.append(
            {
                **CONTROL_DEFAULTS,
                "dossier_id": dossier.id,
                "funder_id": dossier.funder_id,
                "status": NEW_STATUS,
                "blocking_count": counts[Severity.BLOCKING],
                "warning_count": counts[Severity.WARNING],
                "info_count": counts[Severity.INFO],
                "checks_run_at": now,
            }
        )
        for severity, count in counts.items():
            summary.by_severity[severity.value] += count
        summary.findings += len(found)
        summary.dossiers_with_blocking += bool(counts[Severity.BLOCKING])
    table = ServiceFaitControl.__table__
    control_of = dict(
        conn.execute(
            insert(table).returning(table.c.dossier_id, table.c.id, sort_by_parameter_order=True),
            control_rows,
        ).all()
    )
    finding_rows = [
        {
            "control_id": control_of[dossier_id],
            "dossier_id": dossier_id,
            "code": finding.code,
            "severity": finding.severity.value,
            "severity_rank": rank[finding.severity.value],
            "label": finding.label,
            "explanation": finding.explanation,
            "piece_id": finding.piece_id,
            "period_start": finding.period_start,
            "period_end": finding.period_end,
        }
        for dossier_id, found in found_by_dossier.items()
        for finding in found
    ]
    if finding_rows:
        conn.execute(insert(CheckFinding.__table__), finding_rows)
    return summary


STATE_COLUMNS = {  # control column: key of a row of `control_rows`
    "blocking_count": "b_blocking",
    "warning_count": "b_warning",
    "info_count": "b_info",
    "status": "b_status",
    "decided_at": "b_decided_at",
    "invoiced_total": "b_invoiced",
    "validated_total": "b_validated",
}


#: PostgreSQL: the new state of a batch's controls in one statement, its columns given as
#: arrays (executemany would send one UPDATE per row; a VALUES list would be compiled anew
#: for every batch).
PG_UPDATE_CONTROLS = text(
    """
    UPDATE service_fait_controls AS control SET
        blocking_count = new.blocking_count, warning_count = new.warning_count,
        info_count = new.info_count, status = new.status, decided_at = new.decided_at,
        invoiced_total = new.invoiced_total, validated_total = new.validated_total
    FROM unnest(
        CAST(:b_id AS integer[]), CAST(:b_blocking AS integer[]), CAST(:b_warning AS integer[]),
        CAST(:b_info AS integer[]), CAST(:b_status AS varchar[]),
        CAST(:b_decided_at AS timestamptz[]), CAST(:b_invoiced AS numeric[]),
        CAST(:b_validated AS numeric[])
    ) AS new(id, blocking_count, warning_count, info_count, status, decided_at,
             invoiced_total, validated_total)
    WHERE control.id = new.id
    """
)


def _update_controls(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The new counts and state of these controls: one statement on PostgreSQL,
    executemany elsewhere (SQLite runs it in-process)."""
    table = ServiceFaitControl.__table__
    if conn.dialect.name == "postgresql":
        keys = ("b_id", *STATE_COLUMNS.values())
        conn.execute(PG_UPDATE_CONTROLS, {key: [row[key] for row in rows] for key in keys})
        return
    conn.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            {name: bindparam(key, type_=table.c[name].type) for name, key in STATE_COLUMNS.items()}
        ),
        rows,
    )


def _forget_loaded(dossier_ids: set[int]) -> None:
    """The session's copies of these dossiers' controls and findings are out of date:
    expire the controls (read again on next use), forget the findings (deleted)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, ServiceFaitControl | CheckFinding):
            state = attributes.instance_state(obj)
            if state.dict.get("dossier_id") not in dossier_ids:
                continue
            if isinstance(obj, CheckFinding):
                db.session.expunge(obj)
            else:
                db.session.expire(obj)


# --- Subscriptions: the dossiers domain says what changed, the checks follow -------------


@signals.dossiers_changed.connect
def _on_dossiers_changed(sender: object, dossier_ids: Sequence[int]) -> None:
    recheck(dossier_ids)


@signals.dossiers_created.connect
def _on_dossiers_created(sender: object, dossiers: Sequence[Dossier]) -> None:
    check_new(dossiers)


@signals.pieces_changed.connect
def _on_pieces_changed(dossier: Dossier, pieces: Sequence[Piece]) -> None:
    recheck_pieces(dossier, pieces)
