"""Sending mail through Flask-Mailman (printed to the console unless SMTP is set).

In a request, mail is queued on the unit of work and sent after the commit (never for a
rolled-back change); outside a request it is sent at once."""

from __future__ import annotations

from flask import current_app, render_template
from flask_mailman import EmailMessage

from portal import unit_of_work


def send_mail(to: str, subject: str, template: str, **context: object) -> None:
    body = render_template(template, **context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[to],
    )
    unit_of_work.queue_mail(message)
