"""What the API reads and writes, as plain values for its schemas
(portal/blueprints/api/schemas.py): dossiers, pieces, the service-fait control, the
decisions feed and the funder's Qualiopi alerts. Access goes through portal.access, with
the actor of the token (a controller of its funder)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal import unit_of_work
from portal.clock import utcnow
from portal.dossiers import services as dossier_services
from portal.extensions import db
from portal.models import (
    Document,
    DocumentRequest,
    Dossier,
    IdempotencyKey,
    InvoiceDecision,
    Piece,
    Provider,
    QualiopiAlert,
    ServiceFaitControl,
)
from portal.models.service_fait import CheckFinding


class BadCursor(ValueError):
    pass


class IdempotencyConflict(Exception):
    """The key was used for another request body."""


# --- Cursors -------------------------------------------------------------------------------


def cursor_for(last_id: int) -> str:
    return str(last_id)


def after_of(cursor: str | None) -> int:
    """The id a page starts after (the schema lets only digits through)."""
    if not cursor:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise BadCursor(cursor)
    # Past the largest id a column holds (32-bit on PostgreSQL): nothing comes after.
    return min(int(cursor), 2**31 - 1)


def page(items: list[Any], limit: int, serialise) -> dict[str, Any]:
    """A page of `limit` (`items` holds one more when a next page exists)."""
    more = len(items) > limit
    shown = items[:limit]
    return {
        "items": [serialise(item) for item in shown],
        "next_cursor": cursor_for(shown[-1].id) if more and shown else None,
    }


# --- Values --------------------------------------------------------------------------------


def _minutes(hours: Decimal | None) -> int | None:
    if hours is None:
        return None
    return int((hours * 60).to_integral_value())


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def dossier_value(dossier: Dossier) -> dict[str, Any]:
    provider = dossier.provider
    return {
        "id": dossier.id,
        "version": dossier.version,
        "reference": dossier.reference,
        "status": dossier.status,
        "provider": {
            "nda": provider.nda,
            "siren": provider.siren,
            "siret": provider.siret,
            "name": provider.name,
        },
        "provider_siret": dossier.provider_siret,
        "beneficiary_last_name": dossier.beneficiary_last_name,
        "beneficiary_first_name": dossier.beneficiary_first_name,
        "action_title": dossier.action_title,
        "category": dossier.category,
        "scheme": dossier.scheme,
        "rncp_code": dossier.rncp_code,
        "modality": dossier.modality,
        "start_date": dossier.start_date,
        "end_date": dossier.end_date,
        "planned_minutes": dossier.planned_minutes,
        "agreed_amount": _money(dossier.agreed_amount),
        "payment_rhythm": dossier.payment_rhythm,
        "instalments": dossier.instalments,
        "subcontracted": dossier.subcontracted,
        "missing_pieces_since": dossier.first_missing_due,
        "created_at": dossier.created_at,
        "updated_at": dossier.updated_at or dossier.created_at,
    }


def piece_value(piece: Piece, download_url: str) -> dict[str, Any]:
    document: Document = piece.document
    return {
        "id": piece.id,
        "kind": piece.kind,
        "period_start": piece.period_start,
        "period_end": piece.period_end,
        "current": piece.superseded_at is None,
        "replaces_id": piece.replaces_id,
        "created_at": piece.created_at,
        "figures": {
            "invoice_number": piece.invoice_number,
            "invoice_date": piece.invoice_date,
            "amount_excl_tax": _money(piece.amount_excl_tax),
            "amount_incl_tax": _money(piece.amount_incl_tax),
            "hours_billed_minutes": piece.minutes_billed,
            "hours_completed_minutes": piece.minutes_completed,
            "months_completed": None
            if piece.months_completed is None
            else str(piece.months_completed),
            "nature": piece.nature,
            "signatory": piece.signatory,
            "signed_on": piece.signed_on,
            "half_days_planned": piece.half_days_planned,
            "half_days_signed": piece.half_days_signed,
            "hours_attended_minutes": piece.minutes_attended,
            "amount": _money(piece.amount),
        },
        "file": {
            "name": document.original_name,
            "content_type": document.content_type,
            "size": document.size,
            "sha256": document.sha256,
        },
        "download_url": download_url,
    }


def dossier_pieces(dossier: Dossier) -> list[Piece]:
    return list(
        db.session.scalars(select(Piece).where(Piece.dossier_id == dossier.id).order_by(Piece.id))
    )


def decision_value(decision: InvoiceDecision, reference: str, invoice_number: str | None):
    return {
        "id": decision.id,
        "dossier_id": decision.dossier_id,
        "dossier_reference": reference,
        "invoice_id": decision.invoice_id,
        "invoice_number": invoice_number,
        "outcome": decision.outcome,
        "amount_invoiced": _money(decision.amount_invoiced),
        "amount_validated": _money(decision.amount_validated),
        "reason_code": decision.reason_code,
        "note": decision.note or "",
        "decided_at": decision.decided_at,
        "active": decision.reopened_at is None,
        "reopened_at": decision.reopened_at,
        "reopen_reason": decision.reopen_reason,
    }


def control_value(dossier: Dossier) -> dict[str, Any]:
    """The dossier's service-fait control as it stands (no control yet: no status)."""
    control = db.session.scalar(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == dossier.id)
    )
    findings = list(
        db.session.scalars(
            select(CheckFinding)
            .where(CheckFinding.dossier_id == dossier.id)
            .order_by(CheckFinding.severity_rank.desc(), CheckFinding.id)
        )
    )
    requests = list(
        db.session.scalars(
            select(DocumentRequest)
            .where(DocumentRequest.dossier_id == dossier.id)
            .order_by(DocumentRequest.id)
        )
    )
    decisions = db.session.execute(
        select(InvoiceDecision, Piece.invoice_number)
        .join(Piece, Piece.id == InvoiceDecision.invoice_id)
        .where(InvoiceDecision.dossier_id == dossier.id)
        .order_by(InvoiceDecision.id)
    ).all()
    return {
        "dossier_id": dossier.id,
        "status": control.status if control is not None else None,
        "invoiced_total": _money(control.invoiced_total if control else Decimal("0")),
        "validated_total": _money(control.validated_total if control else Decimal("0")),
        "checks_run_at": control.checks_run_at if control else None,
        "decided_at": control.decided_at if control else None,
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "label": f.label,
                "explanation": f.explanation,
                "piece_id": f.piece_id,
                "period_start": f.period_start,
                "period_end": f.period_end,
            }
            for f in findings
        ],
        "requests": [
            {
                "id": r.id,
                "status": r.status,
                "created_at": r.created_at,
                "due_date": r.due_date,
                "answered_at": r.answered_at,
                "closed_at": r.closed_at,
                "message": r.message,
                "items": list(r.items or []),
            }
            for r in requests
        ],
        "decisions": [
            decision_value(decision, dossier.reference, number) for decision, number in decisions
        ],
    }


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def decisions_since(funder_id: int, since: datetime, after_id: int, limit: int) -> list[Any]:
    """Decisions of the funder's dossiers taken or reopened since `since`, in id order."""
    # A date before the portal existed means « since the beginning » (and a year 1 with an
    # offset would leave the range of dates once in UTC).
    since = max(since, EARLIEST)
    return list(
        db.session.execute(
            select(InvoiceDecision, Dossier.reference, Piece.invoice_number)
            .join(Dossier, Dossier.id == InvoiceDecision.dossier_id)
            .join(Piece, Piece.id == InvoiceDecision.invoice_id)
            .where(
                Dossier.funder_id == funder_id,
                or_(InvoiceDecision.decided_at >= since, InvoiceDecision.reopened_at >= since),
                InvoiceDecision.id > after_id,
            )
            .order_by(InvoiceDecision.id)
            .limit(limit)
        ).all()
    )


def alert_value(alert: QualiopiAlert) -> dict[str, Any]:
    provider: Provider = alert.provider
    return {
        "id": alert.id,
        "nda": alert.nda,
        "provider_name": provider.name,
        "left_list": alert.left_list,
        "lost_categories": alert.lost,
        "list_as_of": alert.list_as_of,
        "created_at": alert.created_at,
        "acknowledged": alert.acknowledged_at is not None,
        "dossiers": [{"id": d.id, "reference": d.reference} for d in alert.dossiers],
    }


def alerts_of(funder_id: int, since: datetime | None, after_id: int, limit: int):
    query = select(QualiopiAlert).where(
        QualiopiAlert.funder_id == funder_id, QualiopiAlert.id > after_id
    )
    if since is not None:
        query = query.where(QualiopiAlert.created_at >= max(since, EARLIEST))
    return list(db.session.scalars(query.order_by(QualiopiAlert.id).limit(limit)))


# --- Creating and changing dossiers ----------------------------------------------------------


def raw_values(data: dict[str, Any]) -> dict[str, Any]:
    """The API's typed values as the dossier rules read them (the form's raw values)."""
    raw: dict[str, Any] = {}
    for name, value in data.items():
        if name == "rncp_code":
            raw[name] = value or ""
        elif name == "instalments":
            raw[name] = "" if value is None else str(value)
        else:
            raw[name] = value
    return raw


def request_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def create_dossier(
    actor, data: dict[str, Any], idempotency_key: str | None
) -> tuple[Dossier, bool]:
    """Create a dossier (portal.dossiers.services); with an `Idempotency-Key` already
    used for the same values, the dossier it created, and False. The same key with other
    values: IdempotencyConflict. Raises the dossier service's errors otherwise."""
    digest = request_digest(data)
    if idempotency_key is not None:
        earlier = _created_with(actor, idempotency_key, digest)
        if earlier is not None:
            return earlier, False
    dossier = dossier_services.create_dossier(actor, raw_values(data))
    if idempotency_key is not None and not _claim_key(
        actor.funder_id, idempotency_key, digest, dossier.id
    ):
        # A simultaneous retry took the key first: this request's dossier is rolled back
        # and the retry's answered.
        unit_of_work.void()
        earlier = _created_with(actor, idempotency_key, digest)
        if earlier is None:
            raise IdempotencyConflict
        return earlier, False
    return dossier, True


# Built once (every creation through the API runs them).
_KEYS = IdempotencyKey.__table__
KEY_LOOKUP = select(_KEYS.c.request_hash, _KEYS.c.dossier_id).where(
    _KEYS.c.funder_id == bindparam("funder_id"), _KEYS.c.key == bindparam("key")
)
KEY_CLAIM = {
    dialect: insert_of(_KEYS)
    .on_conflict_do_nothing(index_elements=["funder_id", "key"])
    .returning(_KEYS.c.id)
    for dialect, insert_of in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}


def _claim_key(funder_id: int, key: str, digest: str, dossier_id: int) -> bool:
    """Store the key with the dossier it created; False if another request holds it."""
    conn = db.session.connection()
    row = conn.execute(
        KEY_CLAIM[conn.dialect.name],
        {
            "funder_id": funder_id,
            "key": key,
            "request_hash": digest,
            "dossier_id": dossier_id,
            "created_at": utcnow(),
        },
    ).first()
    return row is not None


def _created_with(actor, idempotency_key: str, digest: str) -> Dossier | None:
    """The dossier an earlier request with this key created (None if none did);
    IdempotencyConflict when that request had other values."""
    row = (
        db.session.connection()
        .execute(KEY_LOOKUP, {"funder_id": actor.funder_id, "key": idempotency_key})
        .first()
    )
    if row is None:
        return None
    request_hash, dossier_id = row
    if request_hash != digest:
        raise IdempotencyConflict
    dossier = db.session.get(Dossier, dossier_id)
    assert dossier is not None
    return dossier


def update_dossier(actor, dossier: Dossier, data: dict[str, Any]) -> Dossier:
    values = dossier_services.form_values(dossier)
    version = data.pop("version")
    values.update(raw_values(data))
    return dossier_services.update_dossier(actor, dossier, values, version)
