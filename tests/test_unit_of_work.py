"""The unit of work: one commit per request at the edge, or a rollback, and what survives it
(the audit event of a refusal), what follows it (mail), what it cleans up (stored files)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import audit, unit_of_work
from portal.access import deny
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.mailing import send_mail
from portal.models import AuditEvent, Funder, FunderKind, User
from portal.storage import storage_for
from portal.uploads import store_upload
from tests.factories import UserFactory

PDF = b"%PDF-1.4\n% unit of work\n"
ROOT = Path(__file__).resolve().parent.parent

# These tests add routes of their own: each gets an application of its own.
pytestmark = pytest.mark.usefixtures("fresh_app")


class _Upload:
    def __init__(self, data: bytes, filename: str = "piece.pdf") -> None:
        self.stream = io.BytesIO(data)
        self.filename = filename


def _route(app: Flask, rule: str, view, methods=("GET",)) -> None:
    app.add_url_rule(rule, view.__name__, view, methods=list(methods))


def _new_funder(name: str | None) -> Funder:
    return Funder(name=name, kind=FunderKind.OPCO.value)


def _funders() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Funder.name)))


def _actions() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _mail(to: str = "quelqu-un@exemple.test") -> None:
    send_mail(to, "Objet", "email/invitation.txt", user=None, link="http://x", hours=1)


@pytest.fixture
def mail_template(app: Flask, monkeypatch) -> None:
    """send_mail renders a template: use a tiny one for these tests."""
    import portal.mailing as mailing

    monkeypatch.setattr(mailing, "render_template", lambda template, **context: "corps")


def test_a_successful_request_commits_once_then_mails(app, client, outbox, mail_template):
    def create() -> str:
        db.session.add(_new_funder("Financeur créé"))
        audit.record("test.created", actor_label="test")
        _mail()
        assert outbox == []  # not before the commit
        return "ok"

    _route(app, "/_uow/create", create)
    assert client.get("/_uow/create").status_code == 200
    assert _funders() == ["Financeur créé"]
    assert _actions() == ["test.created"]
    assert len(outbox) == 1


def test_a_request_that_raises_rolls_everything_back(app, client, outbox, mail_template):
    def boom() -> str:
        db.session.add(_new_funder("Jamais"))
        db.session.flush()
        audit.record("test.created", actor_label="test")
        _mail()
        raise RuntimeError("boom")

    _route(app, "/_uow/boom", boom)
    assert client.get("/_uow/boom").status_code == 500
    assert _funders() == []
    assert _actions() == []
    assert outbox == []


def test_an_error_status_rolls_back_and_sends_no_mail(app, client, outbox, mail_template):
    def refused() -> tuple[str, int]:
        db.session.add(_new_funder("Jamais"))
        _mail()
        return "non", 422

    _route(app, "/_uow/refused", refused)
    assert client.get("/_uow/refused").status_code == 422
    assert _funders() == []
    assert outbox == []


def test_a_voided_request_rolls_back_but_keeps_its_refusal_event(
    app, client, outbox, mail_template
):
    def form() -> str:
        db.session.add(_new_funder("Jamais"))
        _mail()
        try:
            raise Refused({"name": ["Nom refusé."]})
        except Refused as refused:
            unit_of_work.void()
            audit.record_refusal("test.refused", actor_label="test")
            return f"formulaire : {refused.messages[0]}"  # 200, the form and its errors

    _route(app, "/_uow/form", form)
    response = client.get("/_uow/form")
    assert response.status_code == 200
    assert "Nom refusé." in response.get_data(as_text=True)
    assert _funders() == []
    assert _actions() == ["test.refused"]
    assert outbox == []
    assert audit.verify_chain().ok


def test_a_denied_access_is_audited_without_committing_other_pending_work(app, client):
    user = UserFactory()
    user_id = user.id

    def denied() -> str:
        db.session.add(_new_funder("Travail en attente"))
        audit.record("test.pending", actor_label="test")
        deny(db.session.get(User, user_id), "test de refus", status=404)

    _route(app, "/_uow/denied", denied)
    assert client.get("/_uow/denied").status_code == 404
    assert _funders() == [user.funder.name]  # the factory's funder only
    assert _actions() == ["access.denied"]
    event = db.session.scalar(select(AuditEvent))
    assert event.actor_id == user_id
    assert event.details["reason"] == "test de refus"
    assert event.details["path"] == "/_uow/denied"
    assert audit.verify_chain().ok


def test_files_stored_for_a_rolled_back_request_are_deleted(app, client):
    keys: list[str] = []

    def upload() -> tuple[str, int]:
        stored = store_upload(storage_for(app), _Upload(PDF), max_bytes=1024)
        keys.append(stored.key)
        assert storage_for(app).exists(stored.key)
        raise Refused("Refusé après l'enregistrement du fichier.")

    _route(app, "/_uow/upload", upload)
    assert client.get("/_uow/upload").status_code == 400
    assert keys and not storage_for(app).exists(keys[0])


def test_files_stored_for_a_request_whose_commit_fails_are_deleted(app, client, outbox):
    keys: list[str] = []

    def upload() -> str:
        stored = store_upload(storage_for(app), _Upload(PDF), max_bytes=1024)
        keys.append(stored.key)
        db.session.add(_new_funder(None))  # NOT NULL: fails at the edge's commit
        return "enregistré"

    _route(app, "/_uow/upload-commit", upload)
    response = client.get("/_uow/upload-commit")
    assert response.status_code == 500
    assert keys and not storage_for(app).exists(keys[0])
    assert _funders() == []


def test_files_of_a_committed_request_stay(app, client):
    keys: list[str] = []

    def upload() -> str:
        keys.append(store_upload(storage_for(app), _Upload(PDF), max_bytes=1024).key)
        return "enregistré"

    _route(app, "/_uow/upload-ok", upload)
    assert client.get("/_uow/upload-ok").status_code == 200
    assert storage_for(app).exists(keys[0])


def test_an_uncaught_stale_answers_409_and_rolls_back(app, client):
    def stale() -> str:
        db.session.add(_new_funder("Jamais"))
        raise Stale("Modifié entre-temps.")

    _route(app, "/_uow/stale", stale)
    response = client.get("/_uow/stale")
    assert response.status_code == 409
    assert "Modifié entre-temps." in response.get_data(as_text=True)
    assert _funders() == []


def test_outside_a_request_mail_is_sent_at_once(app, outbox, mail_template):
    _mail()
    assert len(outbox) == 1


# --- Who commits ---------------------------------------------------------------------------------

#: The batch runners and CLI commands: their own edge, they commit (per batch).
MAY_COMMIT = {
    "portal/unit_of_work.py",  # the commit point of the web, and `commit()` for the CLI
    "portal/cli.py",
    "portal/quality/demo.py",  # the demo data of `flask seed`
    "portal/blueprints/public_list/cli.py",
    "portal/blueprints/service_fait/checks_cli.py",
    "portal/public_list/importer.py",  # the list importer
    "portal/public_list/alerts.py",  # part of the list importer's run
    "portal/service_fait/runner.py",  # the check re-runner
    "portal/webhooks/worker.py",  # the webhook deliverer (`flask worker`), per delivery
    "portal/service_fait/document_requests.py",  # only `send_reminders`, checked below
    "portal/uploads.py",  # `commit_or_discard`, for the CLI (refused in a request)
    "portal/errors.py",  # rolls back (never commits) before rendering the 500 page
}


def _committing_files() -> set[str]:
    found = set()
    for path in (ROOT / "portal").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"session\.(commit|rollback)\(", text):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def test_no_route_and_no_service_commits():
    assert _committing_files() - MAY_COMMIT == set()


def test_no_commit_under_blueprints_but_the_cli_commands():
    blueprints = {f for f in _committing_files() if f.startswith("portal/blueprints/")}
    assert blueprints <= {
        "portal/blueprints/public_list/cli.py",
        "portal/blueprints/service_fait/checks_cli.py",
    }


def test_only_the_reminders_commit_among_the_document_requests():
    text = (ROOT / "portal/service_fait/document_requests.py").read_text(encoding="utf-8")
    functions = re.split(r"^def ", text, flags=re.M)
    committing = [f.split("(", 1)[0] for f in functions[1:] if "session.commit(" in f]
    assert committing == ["send_reminders"]


def test_the_edge_is_the_only_commit_in_a_request(app):
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        unit_of_work.commit()
    assert db.session.scalar(select(func.count()).select_from(Funder)) == 0
