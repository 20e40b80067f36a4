"""Writing events to the outbox, in the transaction of the change they report.

The services call `emit` (decisions, requests answered, alerts); pieces changed come
through the dossiers' signal (`portal.webhooks.subscriptions`). Nothing is sent
here: the worker reads what was committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OutboxEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent


def emit(
    event: WebhookEvent,
    *,
    funder_id: int,
    data: dict[str, Any],
    dossier_id: int | None = None,
    ordering_key: str | None = None,
) -> OutboxEvent | None:
    """Record `event` for the funder's endpoints that listen to it (none: nothing).

    Deliveries of one ordering key (by default the dossier) are sent in order.
    """
    endpoints = [
        endpoint
        for endpoint in db.session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.funder_id == funder_id, WebhookEndpoint.is_active.is_(True)
            )
        )
        if event.value in endpoint.event_set
    ]
    if not endpoints:
        return None
    key = ordering_key or (f"dossier:{dossier_id}" if dossier_id is not None else event.value)
    now = utcnow()
    row = OutboxEvent(
        funder_id=funder_id,
        type=event.value,
        ordering_key=key,
        dossier_id=dossier_id,
        payload={},
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    row.payload = {
        "id": f"evt_{row.id}",
        "type": event.value,
        "created_at": now.isoformat(),
        "data": data,
    }
    for endpoint in endpoints:
        db.session.add(
            WebhookDelivery(
                event_id=row.id,
                endpoint_id=endpoint.id,
                ordering_key=key,
                next_attempt_at=now,
                created_at=now,
            )
        )
    db.session.flush()
    return row


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def decision_data(decision, dossier) -> dict[str, Any]:
    return {
        "decision_id": decision.id,
        "dossier_id": dossier.id,
        "dossier_reference": dossier.reference,
        "invoice_id": decision.invoice_id,
        "outcome": decision.outcome,
        "amount_invoiced": _money(decision.amount_invoiced),
        "amount_validated": _money(decision.amount_validated),
        "reason_code": decision.reason_code,
        "reopened": decision.reopened_at is not None,
        "reopen_reason": decision.reopen_reason,
    }
