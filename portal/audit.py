"""Writing and verifying the audit log.

Every event stores `prev_hash` (the hash of the event before it) and `hash`, the SHA-256
of `prev_hash` followed by the event's canonical content. Editing, inserting or deleting
an event breaks the chain at that point; `verify_chain` finds where.

Writers queue on the single `audit_head` row (an UPDATE takes a row lock on PostgreSQL
and the write lock on SQLite), so two concurrent transactions never fork the chain.
The event is written in the caller's transaction: it commits or rolls back with the
change it describes; the event of a refusal (`record_refusal`) is kept apart and survives
the rollback of the work it refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEvent, AuditHead, User

GENESIS_HASH = "0" * 64


class AuditLogIsAppendOnly(RuntimeError):
    pass


def canonical_content(event: AuditEvent) -> str:
    """The event's content as one canonical JSON string (sorted keys, no spaces)."""
    occurred_at: datetime = event.occurred_at
    return json.dumps(
        {
            "occurred_at": occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "funder_id": event.funder_id,
            "details": event.details or {},
            "ip": event.ip,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def _lock_head() -> tuple[str, bool]:
    """Take the head row (creating it on first use); return the last hash."""
    row = db.session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(count=AuditHead.count + 1)
        .returning(AuditHead.last_hash)
        # A plain SQL update: nothing in the session is an AuditHead worth refreshing, and
        # scanning the session at every event made long imports quadratic.
        .execution_options(synchronize_session=False)
    ).first()
    if row is not None:
        return row[0], True
    return GENESIS_HASH, False


def record(
    action: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    target: Any = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    funder_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the log, in the current transaction (the caller commits).

    `target` is a model instance: its table name and id become the event's object.
    """
    if target is not None:
        db.session.flush()  # gives a new object its id
        object_type = object_type or target.__tablename__
        object_id = target.id
    event_row = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.email if actor is not None else "système"),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        funder_id=funder_id,
        details=_jsonable(details or {}),
        ip=request.remote_addr if has_request_context() else None,
    )
    prev_hash, head_exists = _lock_head()
    event_row.prev_hash = prev_hash
    event_row.hash = chain_hash(prev_hash, canonical_content(event_row))
    db.session.add(event_row)
    if head_exists:
        db.session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(last_hash=event_row.hash)
            .execution_options(synchronize_session=False)
        )
    else:
        db.session.add(AuditHead(id=1, last_hash=event_row.hash, count=1))
    db.session.flush()
    return event_row


def record_refusal(action: str, **kwargs: Any) -> None:
    """Record the event of a refusal (an access denied, a file refused by its content):
    in a request, written at the edge after the rollback of the refused work and
    committed on its own (`portal.unit_of_work.keep`); outside a request, at once, in the
    caller's transaction. Takes the arguments of `record`."""
    from portal import unit_of_work  # unit_of_work is imported by the app, after audit

    unit_of_work.keep(lambda: record(action, **kwargs))


def changes(
    before: dict[str, Any], after: dict[str, Any], names: Iterable[str] | None = None
) -> dict[str, dict[str, Any]] | None:
    """What changed between two states of an object (of `names`, or of every key of
    `after`), as the details of an "updated" event: {"before": …, "after": …} holding only
    the changed fields; None when nothing changed."""
    changed = [name for name in (after if names is None else names) if before[name] != after[name]]
    if not changed:
        return None
    return {
        "before": {name: before[name] for name in changed},
        "after": {name: after[name] for name in changed},
    }


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so that what is hashed is exactly what is stored."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_event_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_event_id is None and self.reason is None


def verify_chain() -> ChainReport:
    """Recompute every hash in order; name the first event that does not match."""
    events = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    with closing(events):  # a server-side cursor on PostgreSQL: close it on early return
        return _verify(events)


def _verify(events: Iterator[AuditEvent]) -> ChainReport:
    expected_prev = GENESIS_HASH
    checked = 0
    for ev in events:
        if ev.prev_hash != expected_prev:
            return ChainReport(
                checked,
                ev.id,
                "l'empreinte de l'événement précédent ne correspond pas "
                "(événement supprimé, inséré ou réordonné)",
            )
        if chain_hash(ev.prev_hash, canonical_content(ev)) != ev.hash:
            return ChainReport(checked, ev.id, "le contenu de l'événement a été modifié")
        expected_prev = ev.hash
        checked += 1
    head = db.session.get(AuditHead, 1)
    last_hash = head.last_hash if head is not None else GENESIS_HASH
    if last_hash != expected_prev:
        return ChainReport(
            checked, None, "le ou les derniers événements du journal ont été supprimés"
        )
    return ChainReport(checked)


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("le journal d'audit ne peut être ni modifié ni effacé")
