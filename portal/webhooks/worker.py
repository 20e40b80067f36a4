"""The delivery worker (`flask --app wsgi worker`): claims due deliveries, sends them
signed, retries with exponential back-off for a day, and logs every try.

Claims are one conditional UPDATE (`… SET claimed_by = me WHERE id = ? AND (claimed_by IS
NULL OR the claim is older than the lease)`): atomic on SQLite and on PostgreSQL alike,
so that several workers, on one machine or several, never send a delivery twice. The
database is the only thing they share: no other server is needed.

Order per dossier: a delivery is due only when no earlier delivery of the same endpoint
and ordering key is still pending; a later event waits for an earlier one's retries.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from portal import clock, unit_of_work
from portal.extensions import db
from portal.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.webhooks import signing

log = logging.getLogger(__name__)

#: A claim older than this is taken over (its worker died while sending).
LEASE = timedelta(minutes=5)
#: Back-off: the n-th retry waits BASE × 2^(n-1), at most CAP.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
BATCH = 20


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed tries."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


@dataclass
class Response:
    status: int | None
    error: str | None = None


def http_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=timeout)
    except requests.Timeout:
        return Response(None, "délai dépassé")
    except requests.RequestException as error:
        return Response(None, f"connexion impossible : {type(error).__name__}")
    return Response(answer.status_code)


@dataclass
class Worker:
    """One worker; `now` and `send` are replaceable (tests, bench: a simulated clock and
    receiver)."""

    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )
    now: Callable[[], datetime] = clock.utcnow
    send: Callable[[str, bytes, dict[str, str], float], Response] = http_send
    timeout: float | None = None  # seconds; None: WEBHOOK_TIMEOUT_SECONDS

    def due(self, limit: int = BATCH) -> list[int]:
        now = self.now()
        earlier = aliased(WebhookDelivery)
        blocked = exists().where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.ordering_key == WebhookDelivery.ordering_key,
            earlier.state == DeliveryState.PENDING.value,
            earlier.id < WebhookDelivery.id,
        )
        return list(
            db.session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.state == DeliveryState.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.claimed_by.is_(None),
                        WebhookDelivery.claimed_at < now - LEASE,
                    ),
                    ~blocked,
                )
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        )

    def claim(self, delivery_id: int) -> bool:
        now = self.now()
        result = db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.state == DeliveryState.PENDING.value,
                or_(
                    WebhookDelivery.claimed_by.is_(None),
                    WebhookDelivery.claimed_at < now - LEASE,
                ),
            )
            .values(claimed_by=self.name, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        unit_of_work.commit()
        return result.rowcount == 1

    def deliver(self, delivery_id: int) -> None:
        """Send one claimed delivery and record the try (committed)."""
        delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
        if delivery is None or delivery.claimed_by != self.name:
            return
        endpoint: WebhookEndpoint = delivery.endpoint
        body = json.dumps(delivery.event.payload, separators=(",", ":"), sort_keys=True).encode()
        started = self.now()
        timestamp = int(started.timestamp())
        secret = signing.decrypt_secret(current_app.config["SECRET_KEY"], endpoint.secret_encrypted)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "portail-qualite-webhooks/1",
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
            signing.EVENT_HEADER: delivery.event.type,
            signing.DELIVERY_HEADER: str(delivery.id),
        }
        timeout = self.timeout or float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
        wall = time.monotonic()
        answer = self.send(endpoint.url, body, headers, timeout)
        duration_ms = int((time.monotonic() - wall) * 1000)
        now = self.now()
        delivery.attempts += 1
        delivery.first_attempt_at = delivery.first_attempt_at or started
        delivery.last_status = answer.status
        delivery.last_error = answer.error
        delivery.last_duration_ms = duration_ms
        delivery.claimed_by = None
        delivery.claimed_at = None
        if answer.status is not None and 200 <= answer.status < 300:
            delivery.state = DeliveryState.DELIVERED.value
            delivery.delivered_at = now
        else:
            give_up_at = delivery.first_attempt_at + timedelta(
                hours=float(current_app.config["WEBHOOK_RETRY_HOURS"])
            )
            following = now + backoff(delivery.attempts)
            if following > give_up_at:
                delivery.state = DeliveryState.FAILED.value
            else:
                delivery.next_attempt_at = following
        db.session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=started,
                worker=self.name,
                status=answer.status,
                duration_ms=duration_ms,
                error=answer.error,
            )
        )
        unit_of_work.commit()

    def run_once(self, limit: int = BATCH) -> int:
        """Claim and send what is due now; returns how many were sent (tried)."""
        sent = 0
        for delivery_id in self.due(limit):
            if self.claim(delivery_id):
                try:
                    self.deliver(delivery_id)
                except Exception:
                    db.session.rollback()
                    log.exception("Webhook delivery %s failed in the worker", delivery_id)
                    self._release(delivery_id)
                sent += 1
        db.session.rollback()  # end the read transaction
        return sent

    def _release(self, delivery_id: int) -> None:
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claimed_by == self.name)
            .values(claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        unit_of_work.commit()

    def run(self, *, poll: float, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            if self.run_once() == 0:
                time.sleep(poll)


def pending_for(endpoint_ids: list[int]) -> int:
    return len(
        db.session.scalars(
            select(WebhookDelivery.id).where(
                and_(
                    WebhookDelivery.endpoint_id.in_(endpoint_ids),
                    WebhookDelivery.state == DeliveryState.PENDING.value,
                )
            )
        ).all()
    )
