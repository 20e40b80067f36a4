"""The migrations reach head on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
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
        with psycopg.connect(admin_dsn(DATABASE_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def test_the_suite_says_which_database_it_runs_on() -> None:
    expected = "postgresql" if "postgresql" in os.environ.get("TEST_DATABASE_URL", "") else "sqlite"
    assert make_url(DATABASE_URL).get_backend_name() == expected
