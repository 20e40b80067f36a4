"""Webhooks: events written with their change (outbox), signed deliveries, retries with
back-off, no event for a rolled-back change, two workers delivering each event once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    DeliveryState,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from portal.service_fait import decisions
from portal.webhooks import endpoints, outbox, signing
from portal.webhooks.worker import Worker
from tests.factories import FunderFactory
from tests.service_fait.control_helpers import dossier_of, funder_with_staff, make_invoice
from tests.support.receiver import Receiver, running_receiver

pytestmark = pytest.mark.xdist_group(name="webhooks")


def _register(app, funder, url: str, events=None) -> str:
    _endpoint, secret = endpoints.register(
        None,
        funder.id,
        url,
        events or [e.value for e in WebhookEvent],
        "test",
        app.config["SECRET_KEY"],
    )
    db.session.commit()
    return secret


def _emit(funder, dossier_id: int, n: int) -> None:
    outbox.emit(
        WebhookEvent.DOSSIER_PIECES_CHANGED,
        funder_id=funder.id,
        dossier_id=dossier_id,
        data={"n": n},
    )


class Clock:
    def __init__(self) -> None:
        self.at = utcnow() + timedelta(seconds=1)

    def __call__(self):
        return self.at


def test_a_decision_is_delivered_signed_to_the_funder_endpoint(app) -> None:
    funder, controller, _admin = funder_with_staff()
    dossier = dossier_of(funder)
    invoice = make_invoice(dossier)
    with running_receiver(Receiver()) as receiver:
        receiver.secret = _register(app, funder, receiver.url, ["decision.created"])
        decisions.decide(
            controller,
            dossier,
            invoice.id,
            decisions.DecisionInput(outcome="conforme"),
            expected_version=None,
        )
        db.session.commit()
        assert Worker().run_once() == 1
    (got,) = receiver.received
    assert got.valid
    assert got.headers[signing.EVENT_HEADER] == "decision.created"
    event = got.event
    assert event["type"] == "decision.created"
    assert event["data"]["dossier_id"] == dossier.id
    assert Decimal(event["data"]["amount_validated"]) == Decimal(event["data"]["amount_invoiced"])
    (delivery,) = db.session.scalars(select(WebhookDelivery))
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1
    assert delivery.last_status == 200 and delivery.last_duration_ms is not None
    # A replayed copy (old timestamp) or a tampered body is refused by the receiver.
    ts = int(got.headers[signing.TIMESTAMP_HEADER])
    assert not signing.verify(
        receiver.secret, str(ts), got.headers[signing.SIGNATURE_HEADER], got.body, now=ts + 3600
    )
    assert not signing.verify(
        receiver.secret, str(ts), got.headers[signing.SIGNATURE_HEADER], got.body + b" "
    )


def test_a_rolled_back_change_sends_nothing(app) -> None:
    funder = FunderFactory()
    dossier = dossier_of(funder)
    with running_receiver(Receiver()) as receiver:
        receiver.secret = _register(app, funder, receiver.url)
        _emit(funder, dossier.id, 1)
        db.session.rollback()
        assert Worker().run_once() == 0
    assert receiver.received == []
    assert db.session.scalars(select(OutboxEvent)).all() == []


def test_retries_after_500_and_timeouts_with_back_off(app) -> None:
    funder = FunderFactory()
    dossier = dossier_of(funder)
    clock = Clock()
    with running_receiver(Receiver(statuses=[500])) as receiver:
        receiver.secret = _register(app, funder, receiver.url)
        _emit(funder, dossier.id, 1)
        db.session.commit()
        worker = Worker(now=clock, timeout=0.3)
        worker.run_once()
        (delivery,) = db.session.scalars(select(WebhookDelivery))
        assert delivery.state == DeliveryState.PENDING and delivery.last_status == 500
        first_wait = delivery.next_attempt_at - clock.at
        assert worker.run_once() == 0  # not due yet
        clock.at += first_wait
        receiver.delay = 1.0  # too slow: a timeout
        assert worker.run_once() == 1
        db.session.refresh(delivery)
        assert delivery.last_status is None and delivery.last_error == "délai dépassé"
        assert delivery.next_attempt_at - clock.at > first_wait  # exponential
        receiver.delay = 0
        clock.at = delivery.next_attempt_at
        worker.run_once()
        db.session.refresh(delivery)
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 3
    attempts = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [a.status for a in attempts] == [500, None, 200]
    assert all(r.valid for r in receiver.received)


def test_a_delivery_is_given_up_after_a_day_and_redelivered_on_demand(app) -> None:
    funder = FunderFactory()
    dossier = dossier_of(funder)
    clock = Clock()
    with running_receiver(Receiver(statuses=[503] * 100)) as receiver:
        receiver.secret = _register(app, funder, receiver.url)
        _emit(funder, dossier.id, 1)
        db.session.commit()
        worker = Worker(now=clock)
        for _ in range(100):
            worker.run_once()
            delivery = db.session.scalars(select(WebhookDelivery)).one()
            if delivery.state != DeliveryState.PENDING:
                break
            clock.at = delivery.next_attempt_at
        assert delivery.state == DeliveryState.FAILED
        assert clock.at - delivery.first_attempt_at <= timedelta(hours=24)
        assert delivery.attempts > 10
        receiver.statuses.clear()
        endpoints.redeliver(None, funder.id, delivery.id)
        db.session.commit()
        worker.run_once()
        db.session.refresh(delivery)
    assert delivery.state == DeliveryState.DELIVERED


def test_two_workers_deliver_each_event_once_in_order_per_dossier(app) -> None:
    funder = FunderFactory()
    dossiers = [dossier_of(funder) for _ in range(3)]
    with running_receiver(Receiver()) as receiver:
        receiver.secret = _register(app, funder, receiver.url)
        for n in range(10):
            for dossier in dossiers:
                _emit(funder, dossier.id, n)
        db.session.commit()

        def work() -> None:
            with app.app_context():
                worker = Worker()
                for _ in range(40):
                    if worker.run_once(limit=5) == 0 and not _pending():
                        break
                db.session.remove()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    ids = [r.event["id"] for r in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    for dossier in dossiers:
        sequence = [
            r.event["data"]["n"]
            for r in receiver.received
            if r.headers and r.event["data"] and _dossier_of(r) == dossier.id
        ]
        assert sequence == list(range(10))


def _pending() -> bool:
    return (
        db.session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.state == DeliveryState.PENDING)
        )
        is not None
    )


def _dossier_of(received) -> int:
    delivery = db.session.get(WebhookDelivery, int(received.headers[signing.DELIVERY_HEADER]))
    return delivery.event.dossier_id
