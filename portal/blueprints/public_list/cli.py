"""`flask --app wsgi qualiopi import|check`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date

import click
from flask import Blueprint, current_app

from portal import clock, formatting
from portal.errors import Refused
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, classify
from portal.models import ListImport
from portal.public_list.alerts import raise_alerts
from portal.public_list.importer import import_list
from portal.public_list.lookup import NON_DECLARING, check
from portal.service_fait.runner import rerun_after_list_import

SHOWN_REJECTED = 20
logger = logging.getLogger(__name__)


def _parse_date(value: str | None, option: str) -> date:
    if value is None:
        return clock.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        click.echo(f"{option} attend une date AAAA-MM-JJ, pas « {value} ».", err=True)
        sys.exit(2)


def after_import(run: ListImport) -> None:
    """What follows an import: the alerts to funders, then the service-fait checks of the
    dossiers whose OF changed (a failure there leaves the imported list in force: the
    checks can be re-run with `flask service-fait checks --all`)."""
    raise_alerts(run)
    try:
        rerun_after_list_import(run)
    except Exception:
        db.session.rollback()
        logger.exception("Contrôles de service fait non relancés après l'import %s.", run.id)
        click.echo(
            "Les contrôles de service fait n'ont pas pu être relancés : lancez "
            "« flask service-fait checks --all ».",
            err=True,
        )


def register(bp: Blueprint) -> None:
    @bp.cli.command("import")
    @click.argument("source", required=False)
    @click.option(
        "--as-of", "as_of", help="Date que décrit la liste (AAAA-MM-JJ ; défaut : ce jour)."
    )
    @click.option(
        "--force", is_flag=True, help="Importer même une liste inchangée ou très réduite."
    )
    def import_command(source: str | None, as_of: str | None, force: bool) -> None:
        """Importe la liste publique des OF (fichier ou URL ; défaut : QUALIOPI_LIST_URL)."""
        source = source or current_app.config["QUALIOPI_LIST_URL"]
        on = _parse_date(as_of, "--as-of")
        bar = None

        def progress(done: int, total: int | None) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total or 0, label="Téléchargement", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)

        try:
            run = import_list(
                source,
                as_of=on,
                force=force,
                triggered_by="cli",
                progress=progress if sys.stderr.isatty() else None,
                on_imported=after_import,
            )
        except Refused as refusal:
            click.echo(f"Import refusé : {refusal}", err=True)
            click.echo("La liste en vigueur reste inchangée.", err=True)
            sys.exit(1)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        click.echo(f"Liste du {formatting.date_fr(run.as_of)} ({run.status_label}) : {run.message}")
        for note in run.notes or ():
            if note.get("line") is None:
                click.echo(f"  {note['message']}")
        for rejected in run.rejected_lines[:SHOWN_REJECTED]:
            if rejected.get("kept_previous"):
                click.echo(
                    f"  ligne {rejected['line']} (NDA {rejected['nda']}) : {rejected['reason']}"
                )
            else:
                click.echo(f"  ligne {rejected['line']} écartée : {rejected['reason']}")
        if run.rows_rejected > SHOWN_REJECTED:
            click.echo(f"  … et {run.rows_rejected - SHOWN_REJECTED} autre(s) ligne(s) écartée(s).")

    @bp.cli.command("check")
    @click.argument("ident")
    @click.option("--on", "on", help="Date à laquelle vérifier (AAAA-MM-JJ ; défaut : ce jour).")
    @click.option("--json", "as_json", is_flag=True, help="Réponse en JSON.")
    def check_command(ident: str, on: str | None, as_json: bool) -> None:
        """Vérifie la certification d'un SIRET, d'un SIREN ou d'un NDA."""
        when = _parse_date(on, "--on")
        try:
            identifier = classify(ident)
        except InvalidIdentifier as error:
            click.echo(str(error), err=True)
            sys.exit(2)
        result = check(identifier, when, query=ident)
        if as_json:
            click.echo(json.dumps(result.as_json(), ensure_ascii=False))
            return
        if result.list_as_of is None:
            click.echo(
                f"Aucune liste importée au {formatting.date_fr(when)} : impossible de répondre."
            )
            return
        click.echo(
            f"Liste en vigueur au {formatting.date_fr(when)} : "
            f"celle du {formatting.date_fr(result.list_as_of)}."
        )
        if not result.matches:
            click.echo(f"{ident} n'est pas dans la liste publique à cette date.")
        for match in result.matches:
            status = "certifié" if match.certified else "non certifié"
            categories = ", ".join(k for k, v in match.categories.items() if v) or "aucune"
            note = ""
            if match.matched_on == "previous_nda":
                note = " (trouvé comme ancien NDA)"
            elif result.non_declaring:
                note = f" (trouvé par le SIREN : {ident} est un {NON_DECLARING})"
            click.echo(
                f"- NDA {match.nda}{note} — {match.denomination} — SIRET {match.siret} — "
                f"{status} ; catégories : {categories}"
            )
