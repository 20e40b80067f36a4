"""`flask --app wsgi service-fait checks [--all | --dossier REF…]`: re-run the automatic
checks of service fait (`portal.service_fait.runner`)."""

from __future__ import annotations

import sys

import click
from flask import Blueprint
from sqlalchemy import select

from portal import formatting
from portal.extensions import db
from portal.models import Dossier
from portal.service_fait.runner import RunSummary, run_all_checks, run_checks

CLI_GROUP = "service-fait"


def _count(number: int, one: str, many: str) -> str:
    return formatting.plural(number, one, many)


def describe(summary: RunSummary) -> str:
    """The French summary line of a run."""
    seconds = f"{summary.seconds:.1f}".replace(".", ",")
    by = summary.by_severity
    blocking = _count(by.get("bloquant", 0), "anomalie bloquante", "anomalies bloquantes")
    return (
        f"Contrôles automatiques relancés sur {_count(summary.dossiers, 'dossier', 'dossiers')} "
        f"en {seconds} s : {blocking}, {_count(by.get('alerte', 0), 'alerte', 'alertes')}, "
        f"{_count(by.get('information', 0), 'information', 'informations')} ; "
        f"{_count(summary.dossiers_with_blocking, 'dossier', 'dossiers')} avec au moins une "
        "anomalie bloquante."
    )


def register_checks(bp: Blueprint) -> None:
    bp.cli_group = CLI_GROUP  # `flask service-fait …` rather than the blueprint's name

    @bp.cli.command("checks")
    @click.option("--all", "everything", is_flag=True, help="Relancer tous les dossiers.")
    @click.option(
        "--dossier",
        "references",
        multiple=True,
        metavar="REF",
        help="Référence d'un dossier (répétable).",
    )
    def checks_command(everything: bool, references: tuple[str, ...]) -> None:
        """Relance les contrôles automatiques de service fait et enregistre leurs résultats."""
        if everything == bool(references):
            click.echo("Indiquez --all ou au moins un --dossier REF (pas les deux).", err=True)
            sys.exit(2)
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label="Dossiers", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)

        show = progress if sys.stderr.isatty() else None
        try:
            if everything:
                summary = run_all_checks(progress=show)
            else:
                found = db.session.execute(
                    select(Dossier.id, Dossier.reference).where(
                        Dossier.reference.in_(sorted(set(references)))
                    )
                ).all()
                missing = sorted(set(references) - {reference for _, reference in found})
                for reference in missing:
                    click.echo(f"Dossier introuvable : {reference}", err=True)
                if not found:
                    sys.exit(1)
                summary = run_checks([dossier_id for dossier_id, _ in found], progress=show)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        click.echo(describe(summary))
