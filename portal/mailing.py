"""Sending mail through Flask-Mailman (printed to the console unless SMTP is set).

In a request, mail is queued on the unit of work and sent after the commit (never for a
rolled-back change); outside a request it is sent at once."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, render_template, url_for
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


def absolute_url(endpoint: str, **values: Any) -> str:
    """A link for a mail, also outside a request (the reminders run from a cron)."""
    base = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return base + path
