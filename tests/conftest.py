"""Fixtures: the applications, built once per run, on SQLite or on the PostgreSQL named by
TEST_DATABASE_URL (one database per pytest-xdist worker, see tests/support/run.py).

Each test gets them as new: after it, the tables it filled are emptied, the configuration
of both applications is put back as built, their mail outbox is emptied, the limiter's
counters and the in-memory names of the public list are forgotten. A test that changes the
application itself (a route added, a configuration class of its own…) takes `fresh_app`:
`app`, `client`, `login_as`… then use that new application, dropped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from portal.extensions import db
from portal.models import Role, User
from tests.factories import UserFactory
from tests.support.apps import AppState, make_app, reset_process_state
from tests.support.auth import AuthActions
from tests.support.database import empty_tables
from tests.support.queries import QueryCounter, query_counter
from tests.support.run import ensure_database


@dataclass
class SessionApps:
    """The application serving the tests' requests, and its twin, in whose application
    context the test bodies run: each request then gets its own application context, `g`
    and database session, as in production (a request reuses an already pushed context
    of the *same* application)."""

    serving: Flask
    twin: Flask
    states: tuple[AppState, ...]


class _Client(FlaskClient):
    """The test body is its own edge (like a CLI command): what it wrote through the
    services, which never commit, is committed before each request, as a user's earlier
    request would have been."""

    def open(self, *args, **kwargs):
        db.session.commit()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def _database() -> None:
    ensure_database()


@pytest.fixture(scope="session")
def _apps(_database: None) -> Iterator[SessionApps]:
    serving, twin = make_app(), make_app()
    serving.test_client_class = twin.test_client_class = _Client
    with serving.app_context():
        db.drop_all()
        db.create_all()
    apps = SessionApps(serving, twin, (AppState(serving), AppState(twin)))
    yield apps
    with serving.app_context():
        db.session.remove()
        db.drop_all()
    for state in apps.states:
        state.dispose()


@pytest.fixture
def _test_context(_apps: SessionApps) -> Iterator[None]:
    """The test body in the twin's application context; everything reset after it."""
    try:
        with _apps.twin.app_context():
            try:
                yield
            finally:
                db.session.remove()
                empty_tables()
                db.session.remove()
    finally:
        for state in _apps.states:
            state.restore()
        reset_process_state()


@pytest.fixture
def fresh_app(_test_context: None) -> Iterator[Flask]:
    """A new application serving this test's requests (same database), for a test that
    changes the application beyond its configuration; `app` is then this one."""
    app = make_app()
    app.test_client_class = _Client
    yield app
    AppState(app).dispose()


@pytest.fixture
def app(request: pytest.FixtureRequest, _apps: SessionApps, _test_context: None) -> Flask:
    """The application that serves the test's requests (see `SessionApps`)."""
    if "fresh_app" in request.fixturenames:
        return request.getfixturevalue("fresh_app")
    return _apps.serving


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def login_as(app: Flask, auth: AuthActions) -> Callable[..., User]:
    """Create a user of the given role, log the test client in as them (through the
    session: see tests/support/auth.py), return them."""

    def _login_as(role: Role | str = Role.CONTROLLER, **attributes) -> User:
        user = UserFactory(role=Role(role).value, **attributes)
        auth.log_in(user)
        return user

    return _login_as


@pytest.fixture
def outbox(app: Flask) -> list:
    """Mail sent by requests (`app`) and by code run in the test body (the twin)."""
    from flask import current_app

    outbox: list = []
    app.extensions["mailman"].outbox = outbox
    current_app.extensions["mailman"].outbox = outbox
    return outbox


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], AbstractContextManager[QueryCounter]]:
    """`with count_queries() as counter:` counts the SQL statements that the application
    serving the test's requests runs inside the block."""
    with app.app_context():
        engine = db.engine
    return query_counter(engine)


def pytest_configure(config: pytest.Config) -> None:
    """Under `--dist loadgroup`, hand the modules out in the order of the collection (the
    browser tests first, see tests/browser/conftest.py) rather than by number of tests."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each item a node id of its own. Under pytest 9.2 the items that schemathesis
    makes for each API operation (`test_…[GET /]`, `test_…[GET /qualiopi/{ident}]`) share
    one node id, which pytest-xdist takes for a single test: one of them would not run."""
    from collections import Counter

    from _pytest.nodeid import NodeId

    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and item.name != item.nodeid.rpartition("::")[2]:
            item._id = NodeId.parse(f"{item.parent.nodeid}::{item.name}")
    duplicates = [nodeid for nodeid, n in Counter(i.nodeid for i in items).items() if n > 1]
    assert not duplicates, f"tests sharing a node id: {duplicates}"
