"""A funder's webhook endpoints: registered, disabled, their deliveries redelivered — by
a funder admin (administration pages) or a token with `webhooks:manage`. Services flush
and audit; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from portal import audit
from portal.clock import utcnow
from portal.errors import Refused
from portal.extensions import db
from portal.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.webhooks import signing


class EndpointRefused(Refused):
    """What was typed for an endpoint breaks a rule (French messages by field)."""


class NotFound(LookupError):
    pass


def check_endpoint(url: str, events: Iterable[str]) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 500:
        errors["url"] = [
            "Donnez l'adresse complète du récepteur (https://…), 500 caractères au plus."
        ]
    chosen = sorted({e for e in events if e})
    known = {event.value for event in WebhookEvent}
    if not chosen or any(e not in known for e in chosen):
        errors["events"] = ["Choisissez au moins un événement parmi ceux proposés."]
    if errors:
        raise EndpointRefused(errors)
    return url, chosen


def register(
    actor: Any, funder_id: int, url: str, events: Iterable[str], description: str, secret_key: str
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the funder; returns it with its signing secret (shown once)."""
    url, chosen = check_endpoint(url, events)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        funder_id=funder_id,
        url=url,
        description=(description or "").strip()[:200],
        events=" ".join(chosen),
        secret_encrypted=signing.encrypt_secret(secret_key, secret),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(endpoint)
    audit.record(
        "webhook.endpoint_created",
        actor=actor,
        target=endpoint,
        funder_id=funder_id,
        details={"url": url, "events": chosen},
    )
    return endpoint, secret


def endpoints_of(funder_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.funder_id == funder_id)
            .order_by(WebhookEndpoint.is_active.desc(), WebhookEndpoint.id.desc())
        )
    )


def endpoint_of(funder_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.funder_id != funder_id:
        raise NotFound(endpoint_id)
    return endpoint


def disable(actor: Any, funder_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoint_of(funder_id, endpoint_id)
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.disabled_at = utcnow()
        audit.record(
            "webhook.endpoint_disabled",
            actor=actor,
            target=endpoint,
            funder_id=funder_id,
            details={"url": endpoint.url},
        )
    return endpoint


def deliveries_of(funder_id: int, endpoint_id: int, limit: int = 50) -> list[WebhookDelivery]:
    endpoint = endpoint_of(funder_id, endpoint_id)
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def attempts_of(delivery_id: int) -> list[WebhookAttempt]:
    return list(
        db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    )


def redeliver(actor: Any, funder_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (given up, or delivered and wanted again), as soon as the
    worker passes; its tries start over for a day."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint.funder_id != funder_id:
        raise NotFound(delivery_id)
    now = utcnow()
    delivery.state = DeliveryState.PENDING.value
    delivery.next_attempt_at = now
    delivery.first_attempt_at = None
    delivery.claimed_by = None
    delivery.claimed_at = None
    audit.record(
        "webhook.redelivery_requested",
        actor=actor,
        target=delivery,
        funder_id=funder_id,
        details={"event": delivery.event.type, "endpoint_id": delivery.endpoint_id},
    )
    return delivery
