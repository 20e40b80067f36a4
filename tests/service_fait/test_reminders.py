"""Reminders: once the due date has passed without an answer, one reminder (an email to
the OF's users and a message in the thread), by `flask service-fait reminders`."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, ControlMessage, DocumentRequest, RequestStatus, Role
from portal.service_fait import document_requests as service
from tests.factories import UserFactory
from tests.service_fait.request_helpers import first_slot_key, setup_dossier


def _request_due(s, due) -> DocumentRequest:
    created = service.create_request(
        s.controller,
        s.dossier,
        selected=[first_slot_key(s.dossier)],
        reasons={},
        message="Merci d'envoyer la facture.",
        due_date=clock.today(),
    )
    db.session.execute(
        update(DocumentRequest).where(DocumentRequest.id == created.id).values(due_date=due)
    )
    db.session.commit()
    return created


def _reminder_messages() -> list[ControlMessage]:
    return list(
        db.session.scalars(
            select(ControlMessage).where(ControlMessage.body.startswith("Relance automatique"))
        )
    )


def _events() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service_fait.request_reminded")
        )
    )


def test_a_reminder_goes_out_once_after_the_due_date(app: Flask, runner, outbox) -> None:
    s = setup_dossier()
    colleague = UserFactory(role=Role.PROVIDER.value, provider=s.dossier.provider)
    today = clock.today()
    late = _request_due(s, today - timedelta(days=3))
    outbox.clear()

    result = runner.invoke(args=["service-fait", "reminders"])
    assert result.exit_code == 0, result.output
    assert "1 relance(s) envoyée(s)" in result.output
    assert sorted(m.to[0] for m in outbox) == sorted([s.provider_user.email, colleague.email])
    mail = outbox[0]
    assert "Relance" in mail.subject and s.dossier.reference in mail.subject
    assert (today - timedelta(days=3)).strftime("%d/%m/%Y") in mail.body
    assert "il y a 3 jour(s)" in mail.body
    assert f"/service-fait/organisme/demandes/{late.id}" in mail.body
    db.session.expire_all()
    reminded = db.session.get(DocumentRequest, late.id)
    assert reminded.reminded_at is not None
    assert reminded.status == RequestStatus.OPEN
    (message,) = _reminder_messages()
    assert message.request_id == late.id and message.author_id is None
    (event,) = _events()
    assert event.actor_label == "cli service-fait reminders"
    assert event.object_id == str(late.id)

    # Idempotent: a second run (the next day's cron) sends nothing more.
    outbox.clear()
    result = runner.invoke(args=["service-fait", "reminders"])
    assert result.exit_code == 0
    assert "Aucune demande à relancer." in result.output
    assert outbox == []
    assert len(_reminder_messages()) == 1
    assert len(_events()) == 1


def test_no_reminder_before_the_due_date_nor_for_an_answered_request(
    app: Flask, runner, outbox
) -> None:
    s = setup_dossier()
    today = clock.today()
    due_today = _request_due(s, today)
    answered = _request_due(s, today - timedelta(days=5))
    service.answer_request(s.provider_user, answered, message="Voici la facture.")
    closed = _request_due(s, today - timedelta(days=5))
    service.close_request(s.controller, closed, outcome=service.CLOSE_WITHDRAWN)
    outbox.clear()

    result = runner.invoke(args=["service-fait", "reminders"])
    assert result.exit_code == 0
    assert "Aucune demande à relancer." in result.output
    assert outbox == []

    # The day after the due date, the open one is reminded, and only it.
    tomorrow = (today + timedelta(days=1)).isoformat()
    result = runner.invoke(args=["service-fait", "reminders", "--today", tomorrow])
    assert result.exit_code == 0
    assert f"demandes [{due_today.id}]" in result.output
    assert [m.to[0] for m in outbox] == [s.provider_user.email]
    assert [e.object_id for e in _events()] == [str(due_today.id)]


def test_a_bad_date_is_refused(app: Flask, runner) -> None:
    result = runner.invoke(args=["service-fait", "reminders", "--today", "31/12/2026"])
    assert result.exit_code == 2
    assert "AAAA-MM-JJ" in result.output


def test_the_reminder_shows_in_the_thread(app: Flask, auth, runner) -> None:
    s = setup_dossier()
    late = _request_due(s, clock.today() - timedelta(days=1))
    assert service.send_reminders() == [late.id]
    assert service.send_reminders() == []
    auth.log_in(s.provider_user)
    page = auth.client.get(f"/service-fait/organisme/demandes/{late.id}").get_data(as_text=True)
    assert "Relance automatique" in page
    assert "message automatique" in page
    assert "(relancée)" in auth.client.get("/").get_data(as_text=True)
