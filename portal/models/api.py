"""What the API keeps: idempotency keys of creations, and the webhooks' outbox.

An event is written to the outbox (`OutboxEvent`) in the transaction of the change it
reports, with one `WebhookDelivery` per endpoint of the funder that listens to it; the
worker (`flask worker`) claims deliveries, sends them and logs each try
(`WebhookAttempt`). A rolled-back change rolls its events back with it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.types import UTCDateTime


class WebhookEvent(enum.StrEnum):
    DECISION_CREATED = "decision.created"
    DECISION_REOPENED = "decision.reopened"
    REQUEST_ANSWERED = "request.answered"
    ALERT_CREATED = "alert.created"
    DOSSIER_PIECES_CHANGED = "dossier.pieces_changed"

    @property
    def label(self) -> str:
        return WEBHOOK_EVENT_LABELS[self]


WEBHOOK_EVENT_LABELS = {
    WebhookEvent.DECISION_CREATED: "Décision prise sur une facture",
    WebhookEvent.DECISION_REOPENED: "Décision rouverte",
    WebhookEvent.REQUEST_ANSWERED: "Demande de pièces complémentaires répondue par l'OF",
    WebhookEvent.ALERT_CREATED: "Alerte Qualiopi sur un OF financé",
    WebhookEvent.DOSSIER_PIECES_CHANGED: "Pièces d'un dossier déposées ou remplacées",
}


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # to send (again) at `next_attempt_at`
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after a day of tries (can be redelivered)


DELIVERY_STATE_LABELS = {
    DeliveryState.PENDING: "En attente",
    DeliveryState.DELIVERED: "Remise",
    DeliveryState.FAILED: "Abandonnée",
}


class IdempotencyKey(db.Model):
    """A creation request's `Idempotency-Key`: a retry answers the same dossier."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("funder_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the request body: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEndpoint(db.Model):
    """A URL of a funder's system that receives some events, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Space-separated `WebhookEvent` values.
    events: Mapped[str] = mapped_column(String(300))
    # The signing secret, encrypted with a key derived from SECRET_KEY (portal.webhooks).
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def event_set(self) -> frozenset[str]:
        return frozenset(self.events.split())


class OutboxEvent(db.Model):
    """One event, written in the transaction of the change it reports."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_funder_id_id", "funder_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    type: Mapped[str] = mapped_column(String(40))
    # Deliveries of one ordering key (a dossier, or an alert) are sent in order.
    ordering_key: Mapped[str] = mapped_column(String(40))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(db.Model):
    """One event to one endpoint: its state, its tries, and who is sending it now."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    ordering_key: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The worker sending it (claimed with UPDATE … WHERE claimed_by IS NULL), and since when.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_duration_ms: Mapped[int | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    event: Mapped[OutboxEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(db.Model):
    """One try of a delivery: the receiver's status (None: no answer), how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    worker: Mapped[str] = mapped_column(String(100))
    status: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(300))
