"""The migrations reach head on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from portal import audit, create_app
from portal.extensions import db
from portal.models import AuditEvent
from tests.support.apps import RunConfig
from tests.support.run import DATABASE_URL, admin_dsn, unique_name


@pytest.fixture
def empty_database(tmp_path) -> Iterator[str]:
    """A brand-new database of the kind the suite runs on."""
    url = make_url(DATABASE_URL)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    import psycopg

    name = unique_name("portal_migrations")  # unique per pytest-xdist worker too
    with psycopg.connect(admin_dsn(DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        import time

        # An autovacuum worker (a superuser's process, which FORCE may not end) can still be
        # on the new database for a moment: try again.
        for attempt in range(20):
            try:
                with psycopg.connect(admin_dsn(DATABASE_URL), autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.errors.InsufficientPrivilege:
                if attempt == 19:
                    raise
                time.sleep(0.5)


def _app(url: str):
    config = type("MigrationConfig", (RunConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    return create_app(config)


def test_migrations_reach_head_and_match_the_models(empty_database: str) -> None:
    app = _app(empty_database)
    runner = app.test_cli_runner()
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert set(db.metadata.tables) <= tables
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    with app.app_context():
        db.engine.dispose()


def test_migrations_go_down_and_up_again(empty_database: str) -> None:
    app = _app(empty_database)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    down = runner.invoke(args=["db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        db.engine.dispose()


def test_an_unkeyed_chain_is_resealed_once_and_keeps_its_old_head(empty_database: str) -> None:
    app = _app(empty_database)
    with app.app_context():
        upgrade(revision="0008")
        prev = audit.GENESIS_HASH
        for n in range(3):  # a chain as written before the key: plain SHA-256
            event = AuditEvent(
                occurred_at=datetime(2026, 11, 1, 9, n, tzinfo=UTC),
                actor_label="système",
                action="test.event",
                details={"n": n},
            )
            event.hash = audit.unkeyed_hash(prev, audit.canonical_content(event))
            event.prev_hash = prev
            db.session.add(event)
            prev = event.hash
        db.session.execute(
            text("INSERT INTO audit_head (id, last_hash, count) VALUES (1, :h, 3)"), {"h": prev}
        )
        db.session.commit()
        assert not audit.verify_chain().ok  # not sealed with the key
        db.session.remove()
        upgrade()
        report = audit.verify_chain()
        assert report.ok and report.checked == 4
        keyed = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        assert keyed.action == "audit.chain_keyed"
        assert keyed.details == {"previous_head": prev, "events_resealed": 3}
        db.session.remove()
        db.engine.dispose()


def test_the_suite_says_which_database_it_runs_on() -> None:
    expected = "postgresql" if "postgresql" in os.environ.get("TEST_DATABASE_URL", "") else "sqlite"
    assert make_url(DATABASE_URL).get_backend_name() == expected


def test_durations_become_whole_minutes_without_loss(empty_database: str) -> None:
    """0015: hours kept to the hundredth become the nearest whole minute (7,33 h is 7 h 20,
    440 minutes; 13,50 h is 810), and the funders' new setting is off."""
    app = _app(empty_database)
    with app.app_context():
        upgrade(revision="0014")
        now = "2026-01-01 00:00:00"
        for statement in (
            "INSERT INTO funders (id, name, kind, is_active, created_at, version) "
            "VALUES (1, 'F', 'opco', TRUE, :now, 1)",
            "INSERT INTO providers (id, nda, siren, siret, name, created_at) "
            "VALUES (1, '11111111111', '111111111', '11111111100011', 'P', :now)",
            "INSERT INTO dossiers (id, funder_id, reference, provider_id, provider_siret, "
            "beneficiary_last_name, beneficiary_first_name, action_title, category, scheme, "
            "modality, start_date, end_date, planned_hours, agreed_amount, payment_rhythm, "
            "subcontracted, status, created_at, version) VALUES (1, 1, 'R', 1, "
            "'11111111100011', 'A', 'B', 'T', 'actions_formation', 'cpf', 'presentiel', "
            "'2026-01-01', '2026-01-31', 7.33, 100, 'fin_de_formation', FALSE, 'en_cours', "
            ":now, 1)",
            "INSERT INTO documents (id, storage_key, sha256, size, content_type, "
            "original_name, uploaded_at) VALUES (1, 'k', 's', 1, 'application/pdf', 'n', :now)",
            "INSERT INTO pieces (id, dossier_id, kind, period_start, period_end, document_id, "
            "created_at, hours_billed, hours_completed, hours_attended) VALUES (1, 1, "
            "'facture', '2026-01-01', '2026-01-31', 1, :now, 13.50, 1085, NULL)",
        ):
            db.session.execute(text(statement), {"now": now})
        db.session.commit()
        db.session.remove()
        upgrade()
        assert db.session.execute(text("SELECT planned_minutes FROM dossiers")).scalar() == 440
        assert db.session.execute(
            text("SELECT minutes_billed, minutes_completed, minutes_attended FROM pieces")
        ).one() == (810, 65100, None)
        assert db.session.execute(
            text("SELECT qualiopi_loss_blocks_payment FROM funders")
        ).scalar() in (False, 0)
        db.session.remove()
        db.engine.dispose()
