"""Writing and verifying the audit log.

Every event stores `prev_hash` (the hash of the event before it) and `hash`, an
HMAC-SHA256 of `prev_hash` followed by the event's canonical content, under a key that is
not in the database (`AUDIT_KEY`). Editing, inserting or deleting an event breaks the chain
at that point, and without the key nobody can recompute a chain that verifies:
`verify_chain` finds where. To hold even against someone who has the key, the head is
anchored every day (`anchor`: the head signed with an Ed25519 key, kept outside the
database, sent elsewhere), and `verify_chain` checks the chain against the anchors it is
given.

Writers queue on the single `audit_head` row (an UPDATE takes a row lock on PostgreSQL
and the write lock on SQLite), so two concurrent transactions never fork the chain.
The event is written in the caller's transaction: it commits or rolls back with the
change it describes; the event of a refusal (`record_refusal`) is kept apart and survives
the rollback of the work it refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app, has_request_context, request
from sqlalchemy import Connection, bindparam, event, func, insert, select, update
from sqlalchemy.orm import Session

from portal import formatting, unit_of_work
from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEvent, AuditHead, User

GENESIS_HASH = "0" * 64


class AuditLogIsAppendOnly(RuntimeError):
    pass


def canonical_content(event: Any) -> str:
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


def chain_hash(prev_hash: str, content: str, key: str | None = None) -> str:
    """The event's seal: HMAC-SHA256 of the previous hash and the content, under `key` (the
    application's `AUDIT_KEY` by default)."""
    secret = (key if key is not None else current_app.config["AUDIT_KEY"]).encode()
    return hmac.new(secret, f"{prev_hash}\n{content}".encode(), hashlib.sha256).hexdigest()


def unkeyed_hash(prev_hash: str, content: str) -> str:
    """The seal of the chains written before the key (plain SHA-256), for re-sealing."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


# Built once: an event is three statements, run on the session's connection (every
# request that changes something writes one, an import thousands).
_HEAD = AuditHead.__table__
HEAD_LOCK = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(count=_HEAD.c.count + 1)
    .returning(_HEAD.c.last_hash)
)
EVENT_INSERT = insert(AuditEvent.__table__)
HEAD_UPDATE = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("last_hash"))


def _lock_head() -> tuple[str, bool]:
    """Take the head row (creating it on first use); return the last hash."""
    row = db.session.connection().execute(HEAD_LOCK).first()
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
) -> None:
    """Append one event to the log, in the current transaction (the caller commits).

    `target` is a model instance: its table name and id become the event's object. The
    event is written by a plain INSERT (no object in the session: the log is append-only,
    and an import's thousands of events do not weigh on each later flush).
    """
    if target is not None:
        db.session.flush()  # gives a new object its id
        object_type = object_type or target.__tablename__
        object_id = target.id
    values = {
        "occurred_at": utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "actor_label": actor_label or (actor.email if actor is not None else "système"),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "funder_id": funder_id,
        "details": _jsonable(details or {}),
        "ip": request.remote_addr if has_request_context() else None,
    }
    prev_hash, head_exists = _lock_head()
    content = canonical_content(_Content(**values))
    values["prev_hash"] = prev_hash
    values["hash"] = last_hash = chain_hash(prev_hash, content)
    conn = db.session.connection()
    conn.execute(EVENT_INSERT, values)
    if head_exists:
        conn.execute(HEAD_UPDATE, {"last_hash": last_hash})
    else:
        db.session.add(AuditHead(id=1, last_hash=last_hash, count=1))
        db.session.flush()


@dataclass(frozen=True)
class _Content:
    """An event's content before it is written (what `canonical_content` reads)."""

    occurred_at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str | None
    object_id: str | None
    funder_id: int | None
    details: dict[str, Any]
    ip: str | None


def record_refusal(action: str, **kwargs: Any) -> None:
    """Record the event of a refusal (an access denied, a file refused by its content):
    in a request, written at the edge after the rollback of the refused work and
    committed on its own (`portal.unit_of_work.keep`); outside a request, at once, in the
    caller's transaction. Takes the arguments of `record`."""
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


def verify_chain(anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Recompute every seal in order; name the first event that does not match, or that
    no longer carries the hash an anchor recorded for it."""
    events = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    resealed = [
        (event_id, details.get("resealed_from"))
        for event_id, details in db.session.execute(
            select(AuditEvent.id, AuditEvent.details).where(AuditEvent.action == "retention.purged")
        )
        if (details or {}).get("resealed_from") is not None
    ]
    with closing(events):  # a server-side cursor on PostgreSQL: close it on early return
        return _verify(events, {anchor.event_id: anchor for anchor in anchors}, resealed)


def _superseded(event_id: int, resealed: list[tuple[int, int]]) -> bool:
    """An anchor taken on an event that a later retention purge sealed again (the purge's
    own sealed event records it, see portal.retention)."""
    return any(first <= event_id < purge_id for purge_id, first in resealed)


def _verify(
    events: Iterator[AuditEvent],
    anchors: dict[int, Anchor],
    resealed: list[tuple[int, int]] | None = None,
) -> ChainReport:
    expected_prev = GENESIS_HASH
    checked = 0
    for ev in events:
        anchor = anchors.pop(ev.id, None)
        if anchor is not None and anchor.head != ev.hash and not _superseded(ev.id, resealed or []):
            return ChainReport(
                checked,
                ev.id,
                f"l'événement ne porte plus l'empreinte ancrée le {formatting.date_fr(anchor.day)} "
                "(journal réécrit)",
            )
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
    if anchors:
        lost = min(anchors.values(), key=lambda anchor: anchor.event_id)
        return ChainReport(
            checked,
            lost.event_id,
            f"l'événement ancré le {formatting.date_fr(lost.day)} n'est plus dans le journal",
        )
    head = db.session.get(AuditHead, 1)
    last_hash = head.last_hash if head is not None else GENESIS_HASH
    if last_hash != expected_prev:
        return ChainReport(
            checked, None, "le ou les derniers événements du journal ont été supprimés"
        )
    return ChainReport(checked)


# --- Anchors: the day's head, signed, kept outside the database --------------------------


@dataclass(frozen=True)
class Anchor:
    day: date
    event_id: int
    count: int
    head: str
    signature: str  # base64 of the Ed25519 signature of `message`

    @property
    def message(self) -> bytes:
        return f"{self.day.isoformat()}|{self.event_id}|{self.count}|{self.head}".encode()

    def to_line(self) -> str:
        return json.dumps(
            {
                "date": self.day.isoformat(),
                "event_id": self.event_id,
                "count": self.count,
                "head": self.head,
                "signature": self.signature,
            },
            sort_keys=True,
        )


class AnchorRefused(ValueError):
    """An anchor line that cannot be read, or whose signature does not verify."""


def make_anchor(signing_key: Ed25519PrivateKey, day: date) -> Anchor | None:
    """The head of the log (its last event), signed; None for an empty log."""
    last = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if last is None:
        return None
    count = db.session.scalar(select(func.count(AuditEvent.id))) or 0
    unsigned = Anchor(day, last.id, count, last.hash, "")
    signature = base64.b64encode(signing_key.sign(unsigned.message)).decode()
    return Anchor(day, last.id, count, last.hash, signature)


def read_anchors(lines: Iterable[str], signing_key: Ed25519PrivateKey) -> list[Anchor]:
    """The anchors of a file (one JSON line each), each signature checked with the public
    half of `signing_key`."""
    public = signing_key.public_key()
    anchors = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            anchor = Anchor(
                date.fromisoformat(data["date"]),
                int(data["event_id"]),
                int(data["count"]),
                str(data["head"]),
                str(data["signature"]),
            )
            public.verify(base64.b64decode(anchor.signature), anchor.message)
        except InvalidSignature:
            raise AnchorRefused(
                f"ligne {number} : la signature de l'ancrage ne correspond pas "
                "(ancrage falsifié, ou signé par une autre clé)"
            ) from None
        except (ValueError, KeyError, TypeError):
            raise AnchorRefused(f"ligne {number} : ce n'est pas un ancrage lisible") from None
        anchors.append(anchor)
    return anchors


# --- Re-sealing a chain written before the key ------------------------------------------


def reseal(connection: Connection, key: str) -> tuple[int, str]:
    """Seal every event again under `key`, in order, then append the first keyed event,
    which keeps the old head. Returns (events re-sealed, old head). Runs once, from the
    migration that introduced the key, on its connection."""
    table = AuditEvent.__table__
    head_table = AuditHead.__table__
    old_head = connection.scalar(select(head_table.c.last_hash).where(head_table.c.id == 1))
    prev = GENESIS_HASH
    count = 0
    rows = connection.execute(select(table).order_by(table.c.id)).all()
    if not rows and old_head is None:
        return 0, GENESIS_HASH  # a new installation: its first event will be keyed
    for row in rows:
        sealed = chain_hash(prev, canonical_content(row), key)
        connection.execute(
            update(table).where(table.c.id == row.id).values(prev_hash=prev, hash=sealed)
        )
        prev = sealed
        count += 1
    keyed = AuditEvent(
        occurred_at=utcnow(),
        actor_id=None,
        actor_label="système",
        action="audit.chain_keyed",
        object_type=None,
        object_id=None,
        funder_id=None,
        details={"previous_head": old_head or GENESIS_HASH, "events_resealed": count},
        ip=None,
    )
    keyed_hash = chain_hash(prev, canonical_content(keyed), key)
    connection.execute(
        insert(table).values(
            occurred_at=keyed.occurred_at,
            actor_label=keyed.actor_label,
            action=keyed.action,
            details=keyed.details,
            prev_hash=prev,
            hash=keyed_hash,
        )
    )
    if old_head is None:
        connection.execute(insert(head_table).values(id=1, last_hash=keyed_hash, count=count + 1))
    else:
        connection.execute(
            update(head_table)
            .where(head_table.c.id == 1)
            .values(last_hash=keyed_hash, count=count + 1)
        )
    return count, old_head or GENESIS_HASH


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("le journal d'audit ne peut être ni modifié ni effacé")
