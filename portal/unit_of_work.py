"""One unit of work per request, committed (or rolled back) in one place: the edge.

Services change models and flush; they never commit. At the end of every request,
`_finish` (an ``after_request`` hook, the portal's only commit point for the web):

- commits when the response is a success (status < 400) and the unit was not voided
  (`void`), then sends the mail queued during the request;
- otherwise rolls everything back, deletes the files stored for the request, and drops
  the queued mail;
- in both cases writes the records *kept* for the request (`keep`): the audit events of
  refusals (`audit.record_refusal`, `access.deny`), which must survive the rollback of
  the work they refused, committed on their own after it.

A commit that fails (a concurrent edit, a broken constraint) is rolled back too, its
files deleted, and answered 409 (`Stale`) or 500. An exception that escapes even the
error handlers is cleaned up by `_teardown`.

Outside a request (CLI commands, the batch runners), the caller is its own edge: it
commits with `commit()`, mail is sent at once, and kept records are written at once in the
caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, session

from portal.extensions import db
from portal.storage import storage_for

log = logging.getLogger(__name__)


@dataclass
class UnitOfWork:
    voided: bool = False
    stored_keys: list[str] = field(default_factory=list)
    mails: list[Any] = field(default_factory=list)  # flask_mailman messages, sent after commit
    kept: list[Callable[[], object]] = field(default_factory=list)
    finished: bool = False


def current() -> UnitOfWork | None:
    """The request's unit of work (created on first use), or None outside a request."""
    if not has_request_context():
        return None
    unit = g.get("_unit_of_work")
    if unit is None:
        unit = g._unit_of_work = UnitOfWork()
    return unit


def void() -> None:
    """Roll the request's changes back at the edge, whatever the answer's status."""
    unit = current()
    if unit is not None:
        unit.voided = True


def stored(keys: Iterable[str]) -> None:
    """Files put in the store for this request: deleted again if its changes are rolled
    back (nothing in the database points to them then)."""
    unit = current()
    if unit is not None:
        unit.stored_keys.extend(keys)


def queue_mail(message: Any) -> None:
    """Send `message` (with ``.send()``) after the request's commit, never for a rolled
    back request; outside a request, at once."""
    unit = current()
    if unit is None:
        message.send()
    else:
        unit.mails.append(message)


def keep(write: Callable[[], object]) -> None:
    """A write that must happen whether or not the request's changes are committed (the
    audit event of a refusal): run at the edge after the rollback, and committed on its
    own; outside a request, run at once (the caller commits)."""
    unit = current()
    if unit is None:
        write()
    else:
        unit.kept.append(write)


def commit() -> None:
    """Commit outside a request: the CLI commands and the batch runners, which are their
    own edge (one transaction per batch). Inside a request the edge commits."""
    if has_request_context():
        raise RuntimeError("inside a request, the edge commits (portal.unit_of_work)")
    db.session.commit()


# --- The edge ------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    # Registered last: Flask runs the app's after_request hooks in reverse order, so the
    # commit comes before the others (security headers, rate-limit headers) decorate the
    # answer, which may be an error page if the commit fails.
    app.after_request(_finish)
    app.teardown_request(_teardown)


def _finish(response: Response) -> Response:
    unit = g.get("_unit_of_work")
    if unit is None:
        unit = UnitOfWork()
    unit.finished = True
    if response.status_code < 400 and not unit.voided:
        try:
            for write in unit.kept:
                write()
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            _discard(unit)
            session.pop("_flashes", None)  # "saved" was not saved
            unit.mails.clear()
            response = _failed_commit(error)
            _write_kept(unit, commit=True)
            return response
        _send(unit)
        return response
    db.session.rollback()
    _discard(unit)
    unit.mails.clear()
    _write_kept(unit, commit=True)
    return response


def _teardown(error: BaseException | None) -> None:
    unit = g.get("_unit_of_work")
    if unit is not None and not unit.finished:
        db.session.rollback()
        _discard(unit)


def _write_kept(unit: UnitOfWork, *, commit: bool = False) -> None:
    if not unit.kept:
        return
    for write in unit.kept:
        write()
    if commit:
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


def _discard(unit: UnitOfWork) -> None:
    keys, unit.stored_keys = unit.stored_keys, []
    if not keys:
        return
    storage = storage_for(current_app)
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            log.exception("Impossible d'effacer le fichier %s d'une requête annulée.", key)


def _send(unit: UnitOfWork) -> None:
    mails, unit.mails = unit.mails, []
    for message in mails:
        try:
            message.send()
        except Exception:
            # The change is committed: say so in the log rather than answer an error.
            log.exception("Courriel non envoyé : %s", getattr(message, "subject", ""))


def _failed_commit(error: Exception) -> Response:
    """The answer of the error handlers of `portal.errors` (409 for `Stale`, 500 with an
    incident number otherwise)."""
    return current_app.make_response(current_app.handle_user_exception(error))
