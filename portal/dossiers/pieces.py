"""The pieces of a dossier: adding and replacing them with their files, what the OF still
has to send, and files sent to several dossiers.

No request here: the views pass the acting user, the files and the limits; the edge
commits (`portal.unit_of_work`), and deletes the stored files if the commit fails. A refused
piece raises :class:`Refused` before anything is written to the database, with no
file left in the store: nothing is ever half-done.

Files sent to other dossiers (same SHA-256) are flagged to the funder's staff, and only
among their own funder's dossiers (:func:`duplicates_by_sha` with ``funder_id``): an OF
never learns of other OF's dossiers, and a funder never of another funder's.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import joinedload

from portal import audit, clock, unit_of_work
from portal.access import dossiers_scope
from portal.clock import utcnow
from portal.dossiers import piece_rules, signals
from portal.dossiers.calendar import (
    Expected,
    Period,
    Slot,
    SlotStatus,
    expected_pieces,
    first_missing_due,
    slots,
)
from portal.dossiers.locks import locked_message
from portal.einvoice import compare
from portal.einvoice.model import PROFILE_LABELS, Reading, Source
from portal.einvoice.reader import read_document
from portal.errors import Refused
from portal.extensions import db
from portal.models import (
    PIECE_KIND_LABELS,
    AttendanceSheet,
    AuditEvent,
    CompletionCertificate,
    Document,
    Dossier,
    DossierStatus,
    ExpenseStatement,
    Invoice,
    Piece,
    PieceKind,
    User,
)
from portal.storage import Storage, new_key, storage_for
from portal.uploads import (
    ALLOWED_TYPES,
    CHOOSE_AGAIN,
    INVOICE_TYPES,
    MESSAGE_EMPTY,
    MESSAGE_TYPE,
    MESSAGE_TYPE_INVOICE,
    XML_TYPE,
    StoredFile,
    UploadLike,
    UploadsRefused,
    clean_filename,
    commit_or_discard,
    discard_stored,
    max_files_per_upload,
    max_upload_bytes,
    message_too_large,
    sniff,
    store_all,
    too_many_files,
)

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200

PIECE_CLASSES: dict[PieceKind, type[Piece]] = {
    PieceKind.INVOICE: Invoice,
    PieceKind.COMPLETION_CERTIFICATE: CompletionCertificate,
    PieceKind.ATTENDANCE_SHEET: AttendanceSheet,
    PieceKind.EXPENSE_STATEMENT: ExpenseStatement,
}

NO_FILE = "Choisissez au moins un fichier (PDF, JPEG ou PNG)."
NO_FILE_REPLACE = "Choisissez le fichier qui remplace l'ancien (PDF, JPEG ou PNG)."
ALREADY_REPLACED = (
    "Cette pièce a déjà été remplacée entre-temps : rien n'a été enregistré. Rechargez le "
    "dossier pour voir sa version actuelle."
)


# --- The calendar of a dossier ---------------------------------------------------------------


def rule_context(dossier: Dossier, today: date) -> piece_rules.Context:
    return piece_rules.Context(
        action_start=dossier.start_date,
        action_end=dossier.end_date,
        modality=dossier.modality,
        today=today,
    )


def expected_for(dossier: Dossier) -> list[Expected]:
    return expected_pieces(
        dossier.scheme,
        dossier.payment_rhythm,
        dossier.start_date,
        dossier.end_date,
        dossier.instalments,
    )


def _current_pieces_query(dossier_ids: Iterable[int]) -> Select:
    return select(
        Piece.id, Piece.dossier_id, Piece.kind, Piece.period_start, Piece.period_end
    ).where(Piece.dossier_id.in_(list(dossier_ids)), Piece.superseded_at.is_(None))


def slots_for(dossier: Dossier, today: date) -> list[Slot]:
    """The expected pieces of a dossier with the current pieces meeting them (one query)."""
    return slots_for_many([dossier], today)[dossier.id]


def slots_for_many(dossiers: Sequence[Dossier], today: date) -> dict[int, list[Slot]]:
    """`slots_for` of several dossiers (a page of a list) in one query."""
    if not dossiers:
        return {}
    by_dossier: dict[int, list[Any]] = {d.id: [] for d in dossiers}
    for row in db.session.execute(_current_pieces_query(by_dossier)):
        by_dossier[row.dossier_id].append(row)
    return {d.id: slots(expected_for(d), by_dossier[d.id], today) for d in dossiers}


def recompute_first_missing_due(dossier: Dossier) -> date | None:
    """Store the earliest due date of an expected piece not received, from the dossier's
    current pieces; None when nothing is missing, or when the dossier is no longer open
    (nothing more is awaited from a closed or cancelled dossier).

    A derived column: written by a plain UPDATE that does not bump the dossier's version,
    so that an upload never makes a funder's open edit form look stale.
    """
    if dossier.status != DossierStatus.OPEN:
        value = None
    else:
        pieces = db.session.execute(_current_pieces_query([dossier.id])).all()
        value = first_missing_due(expected_for(dossier), pieces)
    db.session.execute(
        update(Dossier)
        .where(Dossier.id == dossier.id)
        .values(first_missing_due=value)
        .execution_options(synchronize_session="fetch")
    )
    return value


@dataclass(frozen=True)
class PeriodToSend:
    """The pieces of one period that are due or overdue."""

    period: Period
    due: date
    missing: bool  # the due date has passed
    kinds: tuple[PieceKind, ...]

    @property
    def labels(self) -> list[str]:
        return [PIECE_KIND_LABELS[k] for k in self.kinds]


def to_send(dossier_slots: Sequence[Slot]) -> list[PeriodToSend]:
    """Per period, the pieces the OF should send now: overdue ones, then those due soon."""
    grouped: dict[Period, list[Slot]] = {}
    for slot in dossier_slots:
        if slot.status in (SlotStatus.MISSING, SlotStatus.EXPECTED):
            grouped.setdefault(slot.expected.period, []).append(slot)
    return [
        PeriodToSend(
            period=period,
            due=min(s.expected.due for s in group),
            missing=any(s.status == SlotStatus.MISSING for s in group),
            kinds=tuple(s.expected.kind for s in group),
        )
        for period, group in sorted(grouped.items())
    ]


def next_upcoming(dossier_slots: Sequence[Slot]) -> PeriodToSend | None:
    """The next period whose pieces are not yet due (its period has not started)."""
    upcoming = [s for s in dossier_slots if s.status == SlotStatus.UPCOMING]
    if not upcoming:
        return None
    period = min(s.expected.period for s in upcoming)
    group = [s for s in upcoming if s.expected.period == period]
    return PeriodToSend(period, group[0].expected.due, False, tuple(s.expected.kind for s in group))


# --- "Mes dossiers" ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MineFilters:
    q: str = ""
    funder_id: int | None = None
    missing_only: bool = False

    def args(self) -> dict[str, str]:
        """The query string that reproduces them (the pager's links), empty ones left out."""
        values = {
            "q": self.q,
            "financeur": str(self.funder_id or ""),
            "manquantes": "y" if self.missing_only else "",
        }
        return {key: value for key, value in values.items() if value}


def provider_dossiers(user: User, filters: MineFilters, today: date) -> Select:
    """The OF user's dossiers, from every funder, newest first: `access.dossiers_scope`."""
    query = dossiers_scope(user).options(joinedload(Dossier.funder))
    text = filters.q.strip()
    if text:
        query = query.where(
            or_(
                Dossier.reference.icontains(text, autoescape=True),
                Dossier.beneficiary_last_name.icontains(text, autoescape=True),
            )
        )
    if filters.funder_id:
        query = query.where(Dossier.funder_id == filters.funder_id)
    if filters.missing_only:
        # As in the funder's list; a closed or cancelled dossier expects nothing more.
        query = query.where(
            Dossier.status == DossierStatus.OPEN.value, Dossier.missing_pieces_on(today)
        )
    return query.order_by(Dossier.start_date.desc(), Dossier.id.desc())


# --- Files sent to several dossiers ---------------------------------------------------------


def duplicates_by_sha(
    sha256s: Iterable[str], dossier_id: int, *, funder_id: int | None = None
) -> dict[str, list[tuple[int, str]]]:
    """For each SHA-256, the other dossiers (id, reference) that hold a document with it,
    among `funder_id`'s dossiers when given; one query."""
    wanted = sorted(set(sha256s))
    if not wanted:
        return {}
    query = (
        select(Document.sha256, Dossier.id, Dossier.reference)
        .join(Piece, Piece.document_id == Document.id)
        .join(Dossier, Dossier.id == Piece.dossier_id)
        .where(Document.sha256.in_(wanted), Dossier.id != dossier_id)
        .distinct()
        .order_by(Dossier.reference, Dossier.id)
    )
    if funder_id is not None:
        query = query.where(Dossier.funder_id == funder_id)
    found: dict[str, list[tuple[int, str]]] = {}
    for sha256, other_id, reference in db.session.execute(query):
        found.setdefault(sha256, []).append((other_id, reference))
    return found


def duplicates(
    sha256: str, dossier_id: int, *, funder_id: int | None = None
) -> list[tuple[int, str]]:
    """The other dossiers (id, reference) that hold a file with this SHA-256; one query."""
    return duplicates_by_sha([sha256], dossier_id, funder_id=funder_id).get(sha256, [])


# --- Adding and replacing pieces ---------------------------------------------------------------


def _store_all(
    storage: Storage, files: Sequence[UploadLike], max_bytes: int, kind: PieceKind
) -> list[StoredFile]:
    """Store every file, or none: on a refused file, the others are deleted again. An
    invoice may also be an XML file (an electronic invoice)."""
    allowed = INVOICE_TYPES if kind == PieceKind.INVOICE else ALLOWED_TYPES
    try:
        return store_all(storage, files, max_bytes=max_bytes, allowed=allowed)
    except UploadsRefused as refused:
        raise Refused({"files": refused.messages}, refused_files=refused.refused) from None


def _read_all(
    storage: Storage, kind: PieceKind, stored_files: Sequence[StoredFile]
) -> list[Reading]:
    """What each stored file says of itself (`portal.einvoice`). An XML file that is not a
    readable invoice is refused (`Refused`; the caller deletes the stored files);
    any other file that cannot be read as it claims is kept, with a notice."""
    readings, refused = [], []
    for stored in stored_files:
        with storage.open(stored.key) as stream:
            seekable = getattr(stream, "seekable", lambda: False)()
            source = stream if seekable else stream.read()
            reading = read_document(source, stored.content_type, kind)
        if reading.refused:
            refused.append((stored.original_name, reading.message or ""))
        readings.append(reading)
    if refused:
        messages = [*(f"« {name} » : {reason}" for name, reason in refused), CHOOSE_AGAIN]
        raise Refused({"files": messages}, refused_files=refused)
    return readings


def _keep_reading(
    storage: Storage, actor: User, piece: Piece, stored: StoredFile, reading: Reading
) -> None:
    """Record the reading with the piece; store the XML of a Factur-X beside its PDF."""
    piece.figures_source = reading.source.value
    piece.file_figures = reading.stored()
    if reading.xml is None or stored.content_type == XML_TYPE:
        return
    key = new_key()
    storage.save(key, io.BytesIO(reading.xml))
    unit_of_work.stored([key])  # deleted again if the request's changes are rolled back
    stem = stored.original_name.rsplit(".", 1)[0] or "facture"
    piece.xml_document = Document(
        storage_key=key,
        sha256=hashlib.sha256(reading.xml).hexdigest(),
        size=len(reading.xml),
        content_type=XML_TYPE,
        original_name=f"{stem}.xml"[:200],
        uploaded_by_id=actor.id,
    )


def stored_keys(pieces: Sequence[Piece]) -> list[str]:
    """The store keys of the pieces' files (their XML included)."""
    keys = [p.document.storage_key for p in pieces]
    keys += [p.xml_document.storage_key for p in pieces if p.xml_document is not None]
    return keys


def reading_notices(pieces: Sequence[Piece]) -> list[str]:
    """The French notices of files that could not be read as they claim (kept as plain
    pieces with the typed figures), one per distinct message."""
    found = [(p.file_figures or {}).get("message") for p in pieces]
    return list(dict.fromkeys(m for m in found if m))


def _lock(dossier: Dossier) -> None:
    """Queue uploads to the same dossier (row lock on PostgreSQL; SQLite has one writer), so
    that `first_missing_due` is computed from every committed piece."""
    db.session.execute(select(Dossier.id).where(Dossier.id == dossier.id).with_for_update())


def _new_piece(
    actor: User, dossier: Dossier, kind: PieceKind, values: Mapping[str, Any], stored: StoredFile
) -> Piece:
    document = stored.as_document(actor.id)
    piece = PIECE_CLASSES[kind](
        dossier_id=dossier.id, document=document, created_by_id=actor.id, **values
    )
    db.session.add(piece)
    return piece


def _details(
    dossier: Dossier, piece: Piece, stored: StoredFile, others: list[tuple[int, str]]
) -> dict[str, Any]:
    return {
        "dossier_id": dossier.id,
        "kind": piece.kind,
        "period": [piece.period_start.isoformat(), piece.period_end.isoformat()],
        "sha256": stored.sha256,
        "size": stored.size,
        "duplicate_of": [other_id for other_id, _ in others],
    }


def _prepare(
    dossier: Dossier, kind: PieceKind, fields: Mapping[str, Any], today: date | None
) -> piece_rules.Checked:
    return piece_rules.check(kind, fields, rule_context(dossier, today or clock.today()))


def add_pieces(
    actor: User,
    dossier: Dossier,
    kind: PieceKind | str,
    fields: Mapping[str, Any],
    files: Sequence[UploadLike],
    *,
    storage: Storage | None = None,
    max_bytes: int | None = None,
    max_files: int | None = None,
    today: date | None = None,
) -> list[Piece]:
    """One piece of `kind` per file, all with the same `fields`; the caller commits.

    Raises `Refused` (nothing written, no file left) when a field or a file is
    refused. The access check (`get_dossier_or_404(..., need="add_pieces")`) is the view's.
    """
    kind = PieceKind(kind)
    checked = _prepare(dossier, kind, fields, today)
    files = [f for f in files if f is not None]
    max_files = max_files or max_files_per_upload()
    errors = dict(checked.errors)
    if not files:
        errors["files"] = [NO_FILE]
    elif len(files) > max_files:
        errors["files"] = [too_many_files(max_files)]
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    stored_files = _store_all(storage, files, max_bytes or max_upload_bytes(), kind)
    pieces: list[Piece] = []
    try:
        readings = _read_all(storage, kind, stored_files)
        _lock(dossier)
        others = duplicates_by_sha(
            [s.sha256 for s in stored_files], dossier.id, funder_id=dossier.funder_id
        )
        for stored, reading in zip(stored_files, readings, strict=True):
            piece = _new_piece(actor, dossier, kind, checked.values, stored)
            pieces.append(piece)
            _keep_reading(storage, actor, piece, stored, reading)
        db.session.flush()
        recompute_first_missing_due(dossier)
        _pieces_changed(dossier, pieces)
        for piece, stored in zip(pieces, stored_files, strict=True):
            audit.record(
                "piece.added",
                actor=actor,
                target=piece,
                funder_id=dossier.funder_id,
                details=_details(dossier, piece, stored, others.get(stored.sha256, [])),
            )
    except BaseException:
        extra = [p.xml_document.storage_key for p in pieces if p.xml_document is not None]
        discard_stored(storage, [*(s.key for s in stored_files), *extra])
        raise
    return pieces


def _pieces_changed(dossier: Dossier, pieces: Sequence[Piece]) -> None:
    """Tell the domains built on dossiers (the service-fait checks of this dossier and of
    the dossiers sharing a file or an invoice number with these pieces)."""
    db.session.flush()
    signals.pieces_changed.send(dossier, pieces=list(pieces))


def _refuse_if_locked(piece: Piece) -> None:
    """An active decision on an invoice relies on this piece: it may not be replaced until
    a funder admin reopens the decision."""
    message = locked_message(piece)
    if message:
        raise Refused(general=message)


def replace_piece(
    actor: User,
    piece: Piece,
    fields: Mapping[str, Any],
    file: UploadLike | None,
    *,
    storage: Storage | None = None,
    max_bytes: int | None = None,
    today: date | None = None,
) -> Piece:
    """A new version of `piece` (same kind), which is kept, marked superseded; the caller
    commits. Raises `Refused` as `add_pieces` does, and when the piece was already
    replaced."""
    dossier = piece.dossier
    kind = PieceKind(piece.kind)
    if piece.superseded_at is not None:
        raise Refused(general=ALREADY_REPLACED)
    _refuse_if_locked(piece)
    checked = _prepare(dossier, kind, fields, today)
    errors = dict(checked.errors)
    if file is None:
        errors["files"] = [NO_FILE_REPLACE]
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    (stored,) = _store_all(storage, [file], max_bytes or max_upload_bytes(), kind)
    new: Piece | None = None
    try:
        (reading,) = _read_all(storage, kind, [stored])
        _lock(dossier)
        _refuse_if_locked(piece)  # again, now that decisions on the dossier wait for us
        superseded = db.session.execute(
            update(Piece)
            .where(Piece.id == piece.id, Piece.superseded_at.is_(None))
            .values(superseded_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        if superseded.rowcount != 1:
            raise Refused(general=ALREADY_REPLACED)
        others = duplicates_by_sha([stored.sha256], dossier.id, funder_id=dossier.funder_id)
        new = _new_piece(actor, dossier, kind, checked.values, stored)
        new.replaces_id = piece.id
        _keep_reading(storage, actor, new, stored, reading)
        db.session.flush()
        recompute_first_missing_due(dossier)
        _pieces_changed(dossier, [piece, new])
        details = _details(dossier, new, stored, others.get(stored.sha256, []))
        audit.record(
            "piece.replaced",
            actor=actor,
            target=new,
            funder_id=dossier.funder_id,
            details={**details, "replaces": piece.id},
        )
    except BaseException:
        extra = [new.xml_document.storage_key] if new and new.xml_document else []
        discard_stored(storage, [stored.key, *extra])
        raise
    return new


def commit_pieces(pieces: Sequence[Piece], *, storage: Storage | None = None) -> None:
    """Outside a request (a CLI command, a script, a test body): commit; if the commit
    fails, roll back and delete the files of `pieces` (their XML included). In a request
    the edge does this."""
    commit_or_discard(stored_keys(pieces), storage)


def record_refusal(actor: User, dossier: Dossier, kind: str, refused: Refused) -> None:
    """Audit refused files (a file whose content is not what its name says may be an
    attack); field errors are typing slips and are not recorded. Kept when the refused
    change is rolled back."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "piece.upload_refused",
        actor=actor,
        object_type="dossiers",
        object_id=dossier.id,
        funder_id=dossier.funder_id,
        details={
            "dossier_id": dossier.id,
            "kind": kind,
            "reasons": [reason for _, reason in refused.refused_files],
        },
    )


def record_download(actor: User, piece: Piece) -> None:
    """Who downloaded which file, for the dossier's history (the caller commits)."""
    audit.record(
        "piece.downloaded",
        actor=actor,
        target=piece,
        funder_id=piece.dossier.funder_id,
        details={"dossier_id": piece.dossier_id, "kind": piece.kind},
    )


# --- Reading pieces back --------------------------------------------------------------------------


KIND_ORDER = {kind.value: index for index, kind in enumerate(PieceKind)}


def dossier_pieces(dossier: Dossier) -> list[Piece]:
    """Every piece of the dossier, replaced versions included, with their documents, by
    period then in the calendar's order of kinds."""
    pieces = db.session.scalars(
        select(Piece).where(Piece.dossier_id == dossier.id).options(joinedload(Piece.document))
    )
    return sorted(pieces, key=lambda p: (p.period_start, KIND_ORDER.get(p.kind, 9), p.id))


@dataclass
class PieceVersions:
    """A current piece and the versions it replaced, newest first."""

    current: Piece
    replaced: list[Piece] = field(default_factory=list)


def with_versions(pieces: Sequence[Piece]) -> list[PieceVersions]:
    by_id = {p.id: p for p in pieces}
    result = []
    for piece in pieces:
        if piece.superseded_at is not None:
            continue
        versions = PieceVersions(piece)
        previous = by_id.get(piece.replaces_id) if piece.replaces_id else None
        while previous is not None and len(versions.replaced) < len(pieces):
            versions.replaced.append(previous)
            previous = by_id.get(previous.replaces_id) if previous.replaces_id else None
        result.append(versions)
    return result


def figures(piece: Piece) -> list[tuple[str, str]]:
    """The typed figures of a piece (its period apart), labelled, written the French way."""
    rows = []
    for spec in piece_rules.FIELDS[PieceKind(piece.kind)]:
        if spec.name in ("period_start", "period_end"):
            continue
        value = getattr(piece, spec.attribute)
        if value is None:  # a field that does not apply (months outside apprenticeship…)
            continue
        rows.append((spec.label, piece_rules.format_value(spec, value)))
    return rows


def typed_values(piece: Piece) -> dict[str, Any]:
    """The figures typed next to a piece's file, by field, in the unit of the file's
    readings (durations kept in minutes are given in hours)."""
    values: dict[str, Any] = {}
    for spec in piece_rules.FIELDS[PieceKind(piece.kind)]:
        value = getattr(piece, spec.attribute)
        if spec.type == piece_rules.FieldType.HOURS:
            value = compare.hours_of_minutes(value)
        values[spec.name] = value
    return values


def provenance(piece: Piece) -> str:
    """Where a piece's figures come from (« lues dans la facture électronique »…)."""
    read = compare.read_values(piece.file_figures)
    return compare.provenance(piece.figures_source, typed_values(piece), read)


# --- History -----------------------------------------------------------------------------------

ACTION_LABELS = {
    "dossier.created": "Dossier créé",
    "dossier.imported": "Dossier importé",
    "dossier.updated": "Dossier modifié",
    "dossier.status_changed": "Statut du dossier modifié",
    "piece.added": "Pièce envoyée",
    "piece.replaced": "Pièce remplacée",
    "piece.downloaded": "Fichier téléchargé",
    "piece.upload_refused": "Envoi refusé",
    "service_fait.decision_taken": "Décision sur une facture",
    "service_fait.decision_reopened": "Décision rouverte",
    "service_fait.assigned": "Contrôle assigné",
    "dossier.subcontract_linked": "Rattaché à un contrat de sous-traitance de l'organisme",
    "dossier.subcontract_unlinked": "Détaché d'un contrat de sous-traitance de l'organisme",
}


@dataclass(frozen=True)
class HistoryEntry:
    occurred_at: datetime  # Paris time
    actor: str
    action: str
    summary: str


def history(dossier: Dossier, pieces: Sequence[Piece]) -> list[HistoryEntry]:
    """The dossier's events, newest first: those about the dossier itself and those whose
    details name it, of its funder (refused accesses are the platform's, not its history)."""
    by_id = {str(p.id): p for p in pieces}
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.funder_id == dossier.funder_id,
            or_(
                and_(AuditEvent.object_type == "dossiers", AuditEvent.object_id == str(dossier.id)),
                AuditEvent.details["dossier_id"].as_integer() == dossier.id,
            ),
            AuditEvent.action != "access.denied",
        )
        .order_by(AuditEvent.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return [
        HistoryEntry(
            occurred_at=clock.local(event.occurred_at),
            actor=event.actor_label,
            action=ACTION_LABELS.get(event.action, event.action),
            summary=_summary(event, by_id),
        )
        for event in events
    ]


def _summary(event: AuditEvent, pieces_by_id: Mapping[str, Piece]) -> str:
    details = event.details or {}
    piece = pieces_by_id.get(event.object_id or "") if event.object_type == "pieces" else None
    parts = []
    if piece is not None:
        parts.append(
            f"{piece.kind_label}, {Period(piece.period_start, piece.period_end).label()}"
            f" — {piece.document.original_name}"
        )
    elif details.get("kind") in {k.value for k in PieceKind}:
        parts.append(PIECE_KIND_LABELS[PieceKind(details["kind"])])
    if event.action == "piece.upload_refused":
        parts.extend(details.get("reasons", []))
    return " ; ".join(parts)


# --- Prefilling the upload form from the file chosen ------------------------------------------


@dataclass(frozen=True)
class Prefill:
    """What the upload form shows once a file is chosen: the values to fill in (figures
    read), the suggestions (found in a PDF's text), and a French notice."""

    source: str  # a portal.einvoice.model.Source value
    values: dict[str, str] = field(default_factory=dict)  # as the form fields show them
    suggestions: dict[str, str] = field(default_factory=dict)  # as a reader reads them
    notice: str = ""
    problem: bool = False  # the notice says the file could not be read (or is refused)


READ_FROM = {
    "einvoice": "Champs remplis d'après la facture électronique ({detail}) : vérifiez-les, "
    "corrigez-les si besoin, puis envoyez.",
    "pdf_form": "Champs remplis d'après le formulaire du certificat ({detail}) : vérifiez-les, "
    "corrigez-les si besoin, puis envoyez.",
}
SUGGESTED = (
    "Des chiffres ont été trouvés dans le texte du PDF ({detail}) : ce sont des suggestions, "
    "affichées sous les champs ; elles ne remplissent rien d'elles-mêmes."
)
NOTHING_READ = (
    "Aucun chiffre n'a pu être lu dans ce fichier ({detail}) : saisissez les informations "
    "de la pièce."
)


def _prefill_value(spec: piece_rules.FieldSpec, value: Any) -> str:
    """A value read, as its form field shows it (amounts with their cents: 1500,10)."""
    if spec.type == piece_rules.FieldType.MONEY:
        return f"{value:.2f}".replace(".", ",")
    return piece_rules.input_value(spec, value)


def _stored_unit(spec: piece_rules.FieldSpec, value: Any) -> Any:
    """A figure read from a file in the unit its field keeps: files give hours (7.5, 7.33),
    durations are kept in whole minutes (450, 440)."""
    if spec.type == piece_rules.FieldType.HOURS and isinstance(value, Decimal):
        return compare.minutes_of_hours(value)
    return value


def read_upload(
    kind: PieceKind | str,
    file: UploadLike | None,
    context: piece_rules.Context,
    *,
    max_bytes: int | None = None,
) -> Prefill | None:
    """Read the chosen file in memory (not stored) to prefill the form; None without file."""
    kind = PieceKind(kind)
    if file is None:
        return None
    limit = max_bytes or max_upload_bytes()
    data = file.stream.read(limit + 1)
    name = clean_filename(file.filename)
    if not data:
        return Prefill(Source.TYPED.value, notice=f"« {name} » : {MESSAGE_EMPTY}", problem=True)
    if len(data) > limit:
        return Prefill(Source.TYPED.value, notice=message_too_large(limit), problem=True)
    invoice = kind == PieceKind.INVOICE
    content_type = sniff(data[:64], INVOICE_TYPES if invoice else ALLOWED_TYPES)
    if content_type is None:
        message = MESSAGE_TYPE_INVOICE if invoice else MESSAGE_TYPE
        return Prefill(Source.TYPED.value, notice=f"« {name} » : {message}", problem=True)
    reading = read_document(data, content_type, kind)
    if reading.message:
        return Prefill(Source.TYPED.value, notice=f"« {name} » : {reading.message}", problem=True)
    specs = {spec.name: spec for spec in piece_rules.fields_for(kind, context)}
    figures = {k: _stored_unit(specs[k], v) for k, v in reading.figures.items() if k in specs}
    if reading.read:
        label = f"« {name} »"
        if reading.invoice is not None and reading.invoice.profile in PROFILE_LABELS:
            label = f"{PROFILE_LABELS[reading.invoice.profile]}, {label}"
        values = {k: _prefill_value(specs[k], v) for k, v in figures.items()}
        notice = READ_FROM[reading.source].format(detail=label)
        return Prefill(reading.source.value, values=values, notice=notice)
    if reading.source == Source.PDF_TEXT and figures:
        suggestions = {k: piece_rules.format_value(specs[k], v) for k, v in figures.items()}
        return Prefill(
            reading.source.value,
            suggestions=suggestions,
            notice=SUGGESTED.format(detail=f"« {name} »"),
        )
    return Prefill(Source.TYPED.value, notice=NOTHING_READ.format(detail=f"« {name} »"))
