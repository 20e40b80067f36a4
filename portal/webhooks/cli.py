"""`flask --app wsgi worker`: delivers the webhooks (portal.webhooks.worker).

Run one or several, on one machine or several: they share only the database.
"""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.webhooks.worker import Worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Envoie ce qui est dû puis s'arrête.")
@click.option("--poll", type=float, default=None, help="Secondes entre deux relèves.")
@with_appcontext
def worker_command(once: bool, poll: float | None) -> None:
    """Envoie les notifications (webhooks) aux financeurs, avec nouvelles tentatives."""
    worker = Worker()
    if once:
        sent = worker.run_once(limit=10_000)
        click.echo(f"{sent} notification(s) tentée(s).")
        return
    stopping = {"now": False}

    def _stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"Envoi des notifications ({worker.name}) ; Ctrl-C pour arrêter.")
    worker.run(
        poll=poll if poll is not None else float(current_app.config["WEBHOOK_POLL_SECONDS"]),
        stop=lambda: stopping["now"],
    )
