"""The audit log is chained: it verifies, and an edited event is detected."""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import select, text

from portal import audit
from portal.audit import AuditLogIsAppendOnly, verify_chain
from portal.extensions import db
from portal.models import AuditEvent, Role
from tests.factories import UserFactory


def _events(n: int = 3) -> list[AuditEvent]:
    user = UserFactory()
    for i in range(n):
        audit.record("test.event", actor=user, target=user, details={"n": i, "texte": "é"})
    db.session.commit()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "test.event").order_by(AuditEvent.id)
        )
    )


def test_chain_verifies_and_links_each_event_to_the_previous(app) -> None:
    events = _events(3)
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = verify_chain()
    assert report.ok and report.checked == 3


def test_edited_event_is_detected_by_the_cli(app, runner) -> None:
    events = _events(4)
    db.session.execute(
        text("UPDATE audit_events SET actor_label = 'quelqu''un d''autre' WHERE id = :id"),
        {"id": events[2].id},
    )
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"événement n° {events[2].id}" in result.output
    assert "contenu de l'événement a été modifié" in result.output


def test_deleted_event_is_detected(app, runner) -> None:
    events = _events(4)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    report = verify_chain()
    assert report.broken_event_id == events[2].id
    # Deleting the last events is caught by the head.
    db.session.execute(text("DELETE FROM audit_events WHERE id >= :id"), {"id": events[2].id})
    db.session.commit()
    assert not verify_chain().ok


def test_cli_reports_an_intact_chain(app, runner) -> None:
    _events(2)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "Journal d'audit intègre : 2 événements vérifiés." in result.output


def test_the_orm_refuses_to_change_or_delete_an_event(app) -> None:
    event = _events(1)[0]
    event.action = "autre.chose"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_events_roll_back_with_the_change_they_describe(app) -> None:
    _events(1)
    audit.record("test.rolled_back", actor_label="test")
    db.session.rollback()
    assert verify_chain().ok
    assert (
        db.session.scalar(select(AuditEvent).where(AuditEvent.action == "test.rolled_back")) is None
    )


def test_web_requests_record_who_and_from_where(client, auth) -> None:
    user = UserFactory(role=Role.CONTROLLER.value)
    assert auth.login(user.email).status_code == 303  # over HTTP: the login form records it
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert (event.actor_id, event.actor_label, event.ip) == (user.id, user.email, "127.0.0.1")
    assert event.occurred_at.tzinfo is not None
    assert verify_chain().ok


def test_admin_sees_the_log_and_its_integrity(client, login_as) -> None:
    login_as(Role.ADMIN)
    page = client.get("/admin/journal?verifier=1").get_data(as_text=True)
    assert "auth.login" in page
    assert "Chaîne intègre" in page


@pytest.mark.parametrize(
    ("before", "after", "names", "expected"),
    [
        ({"a": 1, "b": 2}, {"a": 1, "b": 2}, None, None),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, None, {"before": {"b": 2}, "after": {"b": 3}}),
        ({"a": 1, "b": 2}, {"a": 5, "b": 3}, ["a"], {"before": {"a": 1}, "after": {"a": 5}}),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, ["a"], None),
    ],
)
def test_changes_keeps_only_the_fields_that_changed(before, after, names, expected):
    assert audit.changes(before, after, names) == expected


def _rewrite_and_reseal(event_id: int, *, key: str | None) -> None:
    """What someone holding the database (but not, unless `key` is given, the key) does:
    change an event, then recompute every seal after it so that the chain links again."""
    db.session.execute(
        text("UPDATE audit_events SET actor_label = 'faussaire' WHERE id = :id"), {"id": event_id}
    )
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    prev = audit.GENESIS_HASH
    for row in rows:
        db.session.refresh(row)
        content = audit.canonical_content(row)
        sealed = (
            audit.unkeyed_hash(prev, content)
            if key is None
            else audit.chain_hash(prev, content, key)
        )
        db.session.execute(
            text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": prev, "h": sealed, "id": row.id},
        )
        prev = sealed
    db.session.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})
    db.session.commit()
    db.session.expire_all()


@pytest.mark.parametrize("forger_key", [None, "une-autre-cle"])
def test_a_rewritten_and_recomputed_chain_is_named_without_the_key(app, runner, forger_key) -> None:
    events = _events(4)
    _rewrite_and_reseal(events[1].id, key=forger_key)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"événement n° {events[0].id}" in result.output  # the first seal no longer holds


def _configure(app, **settings: str) -> None:
    """Settings for the commands, which run in the test body's application context, and
    for the application serving requests."""
    app.config.update(settings)
    current_app.config.update(settings)


def _anchor(runner) -> str:
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_an_anchor_is_signed_appended_and_verified(app, runner, tmp_path) -> None:
    _configure(
        app,
        AUDIT_SIGNING_KEY_FILE=str(tmp_path / "signature.pem"),
        AUDIT_ANCHOR_FILE=str(tmp_path / "ancrages.jsonl"),
    )
    events = _events(3)
    line = _anchor(runner)
    assert f'"event_id": {events[-1].id}' in line and f'"head": "{events[-1].hash}"' in line
    assert (tmp_path / "signature.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ancrages.jsonl").read_text().strip() == line
    _events(2)  # the log goes on after the anchor
    ok = runner.invoke(args=["audit", "verify", "--anchors", str(tmp_path / "ancrages.jsonl")])
    assert ok.exit_code == 0, ok.output
    assert "1 ancrage retrouvé" in ok.output


def test_an_insider_with_the_key_is_caught_by_the_anchors(app, runner, tmp_path) -> None:
    _configure(
        app,
        AUDIT_SIGNING_KEY_FILE=str(tmp_path / "signature.pem"),
        AUDIT_ANCHOR_FILE=str(tmp_path / "ancrages.jsonl"),
    )
    events = _events(3)
    _anchor(runner)
    _rewrite_and_reseal(events[0].id, key=app.config["AUDIT_KEY"])
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # the key reseals it all
    result = runner.invoke(args=["audit", "verify", "--anchors", str(tmp_path / "ancrages.jsonl")])
    assert result.exit_code == 1
    assert f"événement n° {events[-1].id}" in result.output
    assert "empreinte ancrée" in result.output


def test_a_forged_anchor_is_refused(app, runner, tmp_path) -> None:
    _configure(app, AUDIT_SIGNING_KEY_FILE=str(tmp_path / "signature.pem"))
    _events(2)
    line = _anchor(runner)
    forged = tmp_path / "faux.jsonl"
    forged.write_text(line.replace('"count": 2', '"count": 3') + "\n")
    result = runner.invoke(args=["audit", "verify", "--anchors", str(forged)])
    assert result.exit_code == 1
    assert "ligne 1 : la signature de l'ancrage ne correspond pas" in result.output
