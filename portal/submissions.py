"""No double effect: every state-changing form is done once.

Every POST form renders `submission_fields()` (the CSRF token and a fresh one-time key,
`submission_key`). Before the view runs, the key is written into `submission_keys` (unique)
with the address posted to (unique together) in the request's transaction, so it is
committed with the work or not at all. A page draws one key for all its forms: each posts
to its own address.

- a key already there (a double click, a replay, the back button and a new submit) does no
  work: the request lands on the result of the first one (its redirect, or the page it was
  posted from), with a 303 or, for HTMX, an `HX-Redirect`;
- two submissions at the same moment: the second one's insert waits for the first
  transaction (PostgreSQL's unique index, SQLite's single writer) and then finds the key;
- a submission whose work is not kept (a refusal or a conflict, rolled back at the edge) or
  that did nothing (a confirmation asked, a form sent back with its errors) leaves no key:
  the same form may be sent again.

Endpoints that post without changing anything (inline validation, previews) are marked
with `@keyless` and never consume the key of the form they read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, has_request_context, redirect, request, url_for
from flask_htmx import make_response as htmx_response
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.models import SubmissionKey
from portal.rendering import wants_fragment

FIELD = "submission_key"
ALREADY_DONE = (
    "Ce formulaire avait déjà été envoyé : il n'a été traité qu'une fois, voici le résultat."
)

View = TypeVar("View", bound=Callable[..., object])


def keyless(view: View) -> View:
    """Mark a POST endpoint that changes nothing (it reads the form to answer)."""
    view._keyless = True  # type: ignore[attr-defined]
    return view


def new_key() -> str:
    return secrets.token_hex(16)


def page_key() -> str:
    """The key of the page being rendered: one for all its forms (each posts to its own
    address, and a key is used once per address), drawn anew for every page."""
    if not has_request_context():
        return new_key()
    key = g.get("_page_submission_key")
    if key is None:
        key = g._page_submission_key = new_key()
    return key


def submission_fields(form: object | None = None) -> Markup:
    """The hidden fields of a state-changing form: its CSRF token (the form's own, which
    may be prefixed, or the session's) and a fresh one-time submission key."""
    hidden = Markup('<input type="hidden" name="{}" value="{}">')
    if form is not None and getattr(form, "csrf_token", None) is not None:
        csrf = form.csrf_token()  # type: ignore[attr-defined]
    else:
        csrf = hidden.format("csrf_token", generate_csrf())
    key = hidden.format(FIELD, page_key())
    return csrf + key


def _posted_key() -> str | None:
    if request.method != "POST":
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "_keyless", False):
        return None
    key = (request.form.get(FIELD) or "").strip()
    if not key or len(key) > 64:
        return None
    return key


def _local(url: str | None) -> str | None:
    """`url` when it points into this site (a path, or this host), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and parts.scheme not in ("http", "https"):
        return None
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    query = f"?{parts.query}" if parts.query else ""
    return path + query + (f"#{parts.fragment}" if parts.fragment else "")


def _origin() -> str | None:
    """The page the form was posted from."""
    return _local(request.headers.get("HX-Current-URL")) or _local(request.referrer)


def _replay(found: SubmissionKey | None) -> Response:
    target = (found.result_url if found is not None else None) or _origin() or url_for("home.index")
    flash(ALREADY_DONE, "info")
    if wants_fragment() or request.headers.get("HX-Request"):
        return htmx_response("", redirect=target)
    return redirect(target, code=303)


def _target() -> str:
    return request.path[:500]


def _find(key: str) -> SubmissionKey | None:
    return db.session.scalar(
        select(SubmissionKey).where(SubmissionKey.key == key, SubmissionKey.target == _target())
    )


def _claim() -> Response | None:
    key = _posted_key()
    if key is None:
        return None
    found = _find(key)
    if found is not None:
        return _replay(found)
    user_id = current_user.id if current_user and current_user.is_authenticated else None
    row = SubmissionKey(
        key=key, target=_target(), user_id=user_id, endpoint=(request.endpoint or "")[:120]
    )
    try:
        with db.session.begin_nested():  # a savepoint: a duplicate leaves the request clean
            db.session.add(row)
    except IntegrityError:
        # Another submission with this key was committed while this one waited for it.
        return _replay(_find(key))
    g._submission = row
    g._submission_worked = False
    return None


def _result_url(response: Response) -> str | None:
    for header in ("HX-Redirect", "HX-Location"):
        if response.headers.get(header):
            value = response.headers[header]
            if header == "HX-Location" and value.startswith("{"):
                continue
            return _local(value)
    if 300 <= response.status_code < 400 and response.location:
        return _local(response.location)
    return None


def _seal(response: Response) -> Response:
    """Before the edge commits (portal.unit_of_work): keep the key, with where the request
    led, when the work is kept; otherwise take it back, so that the same form may be sent
    again (a confirmation asked, a form sent back with its errors, a preview)."""
    row: SubmissionKey | None = g.pop("_submission", None)
    worked = g.pop("_submission_worked", False)
    if row is None or response.status_code >= 400:
        return response  # a refusal: the edge rolls everything back
    if inspect(row).detached or inspect(row).transient:
        return response  # rolled back by the view itself
    redirected = _result_url(response)
    if redirected is None and not worked:
        db.session.delete(row)
        db.session.flush()
        return response
    row.result_url = (redirected or _origin() or "")[:2000] or None
    db.session.flush()
    return response


def _work_flushed(session: Session, flush_context, instances) -> None:
    """A flush of this request that writes something besides its key: work was done."""
    if not has_request_context() or g.get("_submission") is None:
        return
    changed = [*session.new, *session.dirty, *session.deleted]
    if any(not isinstance(obj, SubmissionKey) for obj in changed):
        g._submission_worked = True


def init_app(app: Flask) -> None:
    """Register after portal.unit_of_work: Flask runs the after_request hooks in reverse
    order, so the key is settled before the edge commits."""
    app.before_request(_claim)
    app.after_request(_seal)
    app.add_template_global(submission_fields)
    event.listen(Session, "before_flush", _work_flushed)
