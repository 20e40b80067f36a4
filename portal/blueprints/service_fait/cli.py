"""`flask --app wsgi service-fait reminders [--today AAAA-MM-JJ]`."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import Blueprint

from portal.service_fait import document_requests as requests_service

CLI_GROUP = "service-fait"


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        click.echo(f"{option} attend une date AAAA-MM-JJ, pas « {value} ».", err=True)
        sys.exit(2)


def register(bp: Blueprint) -> None:
    bp.cli_group = CLI_GROUP  # `flask service-fait …` rather than the blueprint's name

    @bp.cli.command("reminders")
    @click.option(
        "--today", "today", help="Date du jour à retenir (AAAA-MM-JJ ; défaut : ce jour)."
    )
    def reminders_command(today: str | None) -> None:
        """Relance les demandes de pièces dont la date limite est passée (une fois chacune)."""
        on = _parse_date(today, "--today")
        reminded = requests_service.send_reminders(on, actor_label="cli service-fait reminders")
        if not reminded:
            click.echo("Aucune demande à relancer.")
            return
        click.echo(f"{len(reminded)} relance(s) envoyée(s) : demandes {reminded}.")
