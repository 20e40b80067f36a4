"""The test configuration, the application factory of the tests, and what a test may
change on an application that the next test must not see."""

from __future__ import annotations

import copy
import os

from flask import Flask

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db, limiter
from portal.public_list import name_index
from tests.support.run import DATABASE_URL, RUN_DIR


class RunConfig(TestConfig):
    SQLALCHEMY_DATABASE_URI = DATABASE_URL
    STORAGE_DIR = os.path.join(RUN_DIR, "files")


def make_app(config: type[TestConfig] = RunConfig) -> Flask:
    return create_app(config)


class AppState:
    """An application's configuration as built, to put back after each test (a test may
    set `app.config[...]`, or change a value in place); and its mail outbox emptied."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config = copy.deepcopy(dict(app.config))
        # Its own copies: a dict or list of the configuration class, changed in place by a
        # test, would otherwise be changed for every application built after.
        app.config.update(copy.deepcopy(self.config))

    def restore(self) -> None:
        config = self.app.config
        for key in list(config):
            if key not in self.config:
                del config[key]
        for key, value in self.config.items():
            if key not in config or (config[key] is not value and config[key] != value):
                config[key] = copy.deepcopy(value)
        mailman = self.app.extensions["mailman"]
        if hasattr(mailman, "outbox"):
            del mailman.outbox  # the locmem backend makes a new one, as on a new app

    def dispose(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def reset_process_state() -> None:
    """What lives outside the applications: the limiter's counters, the in-memory names
    of the public list."""
    limiter.reset()
    name_index.forget()
