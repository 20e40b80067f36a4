"""The run's temporary folder and database, one per pytest process.

Under pytest-xdist each worker (`gw0`, `gw1`…) gets its own folder, SQLite file and, when
TEST_DATABASE_URL names PostgreSQL, its own database: that URL's name followed by
`_gw0`, `_gw1`…, created on first use (the role needs CREATEDB). A run without xdist uses
TEST_DATABASE_URL's database itself.
"""

from __future__ import annotations

import os
import tempfile

from sqlalchemy.engine import make_url

RUN_DIR = tempfile.mkdtemp(prefix="portal-tests-")
os.environ["PORTAL_INSTANCE_PATH"] = os.path.join(RUN_DIR, "instance")

#: What may outlive a run, outside the tree: data that tools compute once and keep (e.g.
#: Hypothesis's table of the characters of a codec, some seconds to make).
CACHE_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "portal-tests",
)

#: "gw0", "gw1"… under pytest-xdist, "" otherwise.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

from portal.config import TestConfig  # noqa: E402


def _database_url() -> str:
    url = TestConfig.SQLALCHEMY_DATABASE_URI
    if url in ("sqlite://", "sqlite:///:memory:"):
        return f"sqlite:///{os.path.join(RUN_DIR, 'test.db')}"
    if WORKER and make_url(url).get_backend_name() == "postgresql":
        parsed = make_url(url)
        return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(
            hide_password=False
        )
    return url


DATABASE_URL = _database_url()


def unique_name(prefix: str) -> str:
    """A name for a scratch resource (a database…) that no other worker picks."""
    import uuid

    return f"{prefix}_{WORKER + '_' if WORKER else ''}{uuid.uuid4().hex[:8]}"


def admin_dsn(url: str) -> str:
    """A psycopg DSN of the server's `postgres` database, to create or drop others."""
    return (
        make_url(url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


def ensure_database(url: str = DATABASE_URL) -> None:
    """Create the run's PostgreSQL database when missing (SQLite files make themselves)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    import psycopg

    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
