"""Sending mail through Flask-Mailman (printed to the console unless SMTP is set)."""

from __future__ import annotations

from flask import current_app, render_template
from flask_mailman import EmailMessage


def send_mail(to: str, subject: str, template: str, **context: object) -> None:
    body = render_template(template, **context)
    EmailMessage(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[to],
    ).send()
