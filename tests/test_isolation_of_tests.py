"""The fixtures hand each test the applications as new, though they are built once per
run: the first test leaves traces of every kind, the second finds none. (One xdist group:
the two run on the same worker, in this order.)"""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Funder, User
from tests.factories import FunderFactory, UserFactory

pytestmark = pytest.mark.xdist_group("isolation-of-tests")


def test_a_test_leaves_rows_settings_mail_and_moved_ids(app, client, login_as, outbox) -> None:
    login_as()  # a user, a funder, a session, audit events
    FunderFactory.create_batch(3)
    db.session.add(Funder(name="Rolled back", kind="opco"))
    db.session.flush()  # the sequence moves, and the row goes
    db.session.rollback()
    app.config["QUALITY_MINORS_PER_MAJOR"] = 99
    app.config["SQLALCHEMY_ENGINE_OPTIONS"]["leftover"] = True  # changed in place
    current_app.config["LEFTOVER_KEY"] = "twin"  # the twin's, where the test body runs
    outbox.append("a mail")
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_the_next_test_finds_none_of_them(app, client) -> None:
    from portal.blueprints.auth.sessions import SESSION_KEY
    from portal.extensions import mail

    for table in db.metadata.sorted_tables:
        assert db.session.scalar(select(func.count()).select_from(table)) == 0, table.name
    assert FunderFactory().id == 1  # ids start again from 1, on PostgreSQL too
    assert UserFactory(funder=None, role="admin").id == 1
    assert app.config["QUALITY_MINORS_PER_MAJOR"] == 5
    assert "leftover" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert "LEFTOVER_KEY" not in current_app.config
    assert not getattr(app.extensions["mailman"], "outbox", [])
    assert mail is not None
    with client.session_transaction() as session:
        assert SESSION_KEY not in session
    assert client.get("/").status_code == 302  # nobody is logged in
