"""Fixtures: one application per test, on SQLite or on the PostgreSQL named by
TEST_DATABASE_URL; the schema is created once per run and emptied after each test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, text

_RUN_DIR = tempfile.mkdtemp(prefix="portal-tests-")
os.environ["PORTAL_INSTANCE_PATH"] = os.path.join(_RUN_DIR, "instance")

from portal import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.extensions import db, limiter  # noqa: E402
from portal.models import Role, User  # noqa: E402
from tests.factories import PASSWORD, UserFactory  # noqa: E402

DATABASE_URL = TestConfig.SQLALCHEMY_DATABASE_URI
if DATABASE_URL in ("sqlite://", "sqlite:///:memory:"):
    DATABASE_URL = f"sqlite:///{os.path.join(_RUN_DIR, 'test.db')}"


class RunConfig(TestConfig):
    SQLALCHEMY_DATABASE_URI = DATABASE_URL
    STORAGE_DIR = os.path.join(_RUN_DIR, "files")


def make_app(config: type[TestConfig] = RunConfig) -> Flask:
    return create_app(config)


@pytest.fixture(scope="session")
def _schema() -> Iterator[None]:
    app = make_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def empty_all_tables() -> None:
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


class _Client(FlaskClient):
    """The test body is its own edge (like a CLI command): what it wrote through the
    services, which never commit, is committed before each request, as a user's earlier
    request would have been."""

    def open(self, *args, **kwargs):
        db.session.commit()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(_schema: None) -> Iterator[Flask]:
    """The application that serves the test's requests.

    The test body runs in the context of a twin application on the same database, so that
    each request gets its own application context, `g` and database session, as in
    production (a request reuses an already pushed context of the *same* app).
    """
    app = make_app()
    app.test_client_class = _Client
    twin = make_app()
    with twin.app_context():
        yield app
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()
    with app.app_context():
        db.engine.dispose()
    limiter.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'"X-CSRFToken": "([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        token = csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """POST with the session's CSRF token, as the portal's own forms do."""
        token = csrf_token(self.client, kwargs.pop("token_from", "/"))
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def login_as(app: Flask, auth: AuthActions) -> Callable[..., User]:
    """Create a user of the given role, log the test client in as them, return them."""

    def _login_as(role: Role | str = Role.CONTROLLER, **attributes) -> User:
        user = UserFactory(role=Role(role).value, **attributes)
        response = auth.login(user.email)
        assert response.status_code == 303, response.get_data(as_text=True)
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


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], QueryCounter]:
    """`with count_queries() as counter:` counts the SQL statements that the application
    serving the test's requests runs inside the block."""
    from contextlib import contextmanager

    with app.app_context():
        engine = db.engine

    @contextmanager
    def _count():
        counter = QueryCounter()
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return _count
