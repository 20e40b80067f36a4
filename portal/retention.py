"""Retention: what a funder keeps of a closed dossier, and for how long (CNIL: no longer
than its controls need).

After the funder's retention period (`Funder.retention_years`, in years after the end of
the year of the dossier's last payment; a figure *to confirm* with each funder, marked so
until `retention_confirmed`), `flask retention purge` removes, for each closed (or
cancelled) dossier:

- the beneficiary's names (the dossier keeps its reference, amounts, hours and dates);
- the stored files of its pieces and of the messages of its thread (the rows stay, with
  their SHA-256, marked purged);

and keeps the decisions, the findings of the checks and the audit trail.

The audit trail then names the dossier, not the person. How: the purge redacts the
beneficiary's names in the payload of the events about that dossier (its `before`/`after`
states), then seals the chain again from the first redacted event, under the same key, in
the same transaction, and appends a `retention.purged` event that records the previous
head, the first re-sealed event and the redacted events. `flask audit verify` therefore
still verifies the whole chain; an anchor taken before the purge on a re-sealed event is
recognised as superseded by that (itself sealed) event, and the next anchor covers the new
head. Rewriting the log without the key stays detected: only the holder of `AUDIT_KEY`
can re-seal, and the re-sealing is itself on the record.

The last payment is the last decision (not reopened) that validated an amount; a dossier
without one counts from the end of its training.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from portal import audit, clock
from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuditHead,
    ControlMessage,
    Document,
    Dossier,
    DossierStatus,
    Funder,
    InvoiceDecision,
    Piece,
)
from portal.models.service_fait import control_message_documents
from portal.storage import storage_for

REDACTED = "[effacé : durée de conservation échue]"
PURGED_FILE_NAME = "fichier-efface"
#: The keys of an audit payload that hold a beneficiary's name, at any depth.
PERSONAL_KEYS = frozenset({"beneficiary_last_name", "beneficiary_first_name", "beneficiary"})
CLOSED = (DossierStatus.CLOSED.value, DossierStatus.CANCELLED.value)


def retention_end(last_payment: date, years: int) -> date:
    """The last day a dossier's personal data is kept: 31 December of the year of the last
    payment plus `years` (paid 14/03/2023, 3 years: kept until 31/12/2026)."""
    return date(last_payment.year + years, 12, 31)


@dataclass
class Due:
    """A dossier whose retention period is over, and what its purge removes."""

    dossier: Dossier
    funder: Funder
    last_payment: date
    kept_until: date
    documents: list[Document] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)  # whose payload names the person


@dataclass(frozen=True)
class Outcome:
    dossiers: int
    files: int
    events_redacted: int
    events_resealed: int


def _last_payments(dossier_ids: list[int]) -> dict[int, date]:
    rows = db.session.execute(
        select(InvoiceDecision.dossier_id, func.max(InvoiceDecision.decided_at))
        .where(
            InvoiceDecision.dossier_id.in_(dossier_ids),
            InvoiceDecision.reopened_at.is_(None),
            InvoiceDecision.amount_validated > 0,
        )
        .group_by(InvoiceDecision.dossier_id)
    ).all()
    return {dossier_id: clock.local(moment).date() for dossier_id, moment in rows if moment}


def _documents(dossier: Dossier) -> list[Document]:
    piece_docs = select(Piece.document_id).where(Piece.dossier_id == dossier.id)
    message_docs = (
        select(control_message_documents.c.document_id)
        .join(ControlMessage, ControlMessage.id == control_message_documents.c.message_id)
        .where(ControlMessage.dossier_id == dossier.id)
    )
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.purged_at.is_(None),
                Document.id.in_(piece_docs) | Document.id.in_(message_docs),
            )
            .order_by(Document.id)
        )
    )


def _names_in(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            (key in PERSONAL_KEYS and item not in (None, "", REDACTED)) or _names_in(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_names_in(item) for item in value)
    return False


def redact(value: Any) -> Any:
    """The payload with every beneficiary's name replaced by `REDACTED`."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if key in PERSONAL_KEYS and item not in (None, "") else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _about(event: AuditEvent, dossier_id: int) -> bool:
    if event.object_type == Dossier.__tablename__ and event.object_id == str(dossier_id):
        return True
    details = event.details or {}
    return details.get("dossier_id") == dossier_id


def _events(dossier: Dossier) -> list[AuditEvent]:
    """The events about the dossier (its own, or naming it in their payload) that hold the
    beneficiary's names."""
    candidates = db.session.scalars(
        select(AuditEvent)
        .where(
            (
                (AuditEvent.object_type == Dossier.__tablename__)
                & (AuditEvent.object_id == str(dossier.id))
            )
            | (AuditEvent.funder_id == dossier.funder_id)
        )
        .order_by(AuditEvent.id)
    )
    return [e for e in candidates if _about(e, dossier.id) and _names_in(e.details)]


def due(today: date | None = None) -> list[Due]:
    """The closed dossiers whose retention period ended before `today`, not yet purged."""
    today = today or clock.today()
    dossiers = list(
        db.session.scalars(
            select(Dossier)
            .where(Dossier.status.in_(CLOSED), Dossier.purged_at.is_(None))
            .order_by(Dossier.funder_id, Dossier.id)
        )
    )
    paid = _last_payments([d.id for d in dossiers])
    found: list[Due] = []
    for dossier in dossiers:
        last = paid.get(dossier.id, dossier.end_date)
        kept_until = retention_end(last, dossier.funder.retention_years)
        if kept_until >= today:
            continue
        found.append(
            Due(dossier, dossier.funder, last, kept_until, _documents(dossier), _events(dossier))
        )
    return found


def purge(items: Iterable[Due], *, actor_label: str = "cli retention purge") -> Outcome:
    """Purge `items` (from `due`) in the current transaction: the caller commits, then
    deletes the stored files it is given back in `stored_keys` (see `purge_files`)."""
    items = list(items)
    now = clock.utcnow()
    files = 0
    redacted: dict[int, dict[str, Any]] = {}
    for item in items:
        item.dossier.beneficiary_last_name = REDACTED
        item.dossier.beneficiary_first_name = REDACTED
        item.dossier.purged_at = now
        for document in item.documents:
            document.purged_at = now
            document.original_name = PURGED_FILE_NAME
            files += 1
        for event in item.events:
            redacted[event.id] = redact(event.details)
    db.session.flush()
    resealed, first, previous_head = _reseal(redacted)
    audit.record(
        "retention.purged",
        actor_label=actor_label,
        details={
            "dossiers": [
                {
                    "dossier_id": item.dossier.id,
                    "reference": item.dossier.reference,
                    "funder_id": item.funder.id,
                    "last_payment": item.last_payment.isoformat(),
                    "kept_until": item.kept_until.isoformat(),
                    "retention_years": item.funder.retention_years,
                    "retention_confirmed": item.funder.retention_confirmed,
                    "files": len(item.documents),
                }
                for item in items
            ],
            "redacted_events": sorted(redacted),
            "resealed_from": first,
            "events_resealed": resealed,
            "previous_head": previous_head,
        },
    )
    return Outcome(len(items), files, len(redacted), resealed)


def _reseal(redacted: dict[int, dict[str, Any]]) -> tuple[int, int | None, str | None]:
    """Write the redacted payloads, then seal the chain again from the first of them (with
    plain SQL: the ORM refuses any change to the log, see `audit`)."""
    if not redacted:
        return 0, None, None
    table = AuditEvent.__table__
    head = db.session.get(AuditHead, 1)
    previous_head = head.last_hash if head is not None else audit.GENESIS_HASH
    first = min(redacted)
    connection = db.session.connection()
    for event_id, details in redacted.items():
        connection.execute(update(table).where(table.c.id == event_id).values(details=details))
    prev = connection.scalar(select(table.c.prev_hash).where(table.c.id == first))
    key = current_app.config["AUDIT_KEY"]
    count = 0
    for row in connection.execute(select(table).where(table.c.id >= first).order_by(table.c.id)):
        sealed = audit.chain_hash(prev, audit.canonical_content(row), key)
        connection.execute(
            update(table).where(table.c.id == row.id).values(prev_hash=prev, hash=sealed)
        )
        prev = sealed
        count += 1
    connection.execute(
        update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1).values(last_hash=prev)
    )
    db.session.expire_all()
    return count, first, previous_head


def delete_files(items: Iterable[Due]) -> int:
    """Delete the purged documents' bytes from the store (after the commit)."""
    storage = storage_for(current_app)
    deleted = 0
    for item in items:
        for document in item.documents:
            try:
                storage.delete(document.storage_key)
                deleted += 1
            except Exception:  # already gone: the row says it was purged anyway
                current_app.logger.warning("Fichier %s absent du stockage.", document.storage_key)
    return deleted
