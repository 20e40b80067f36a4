"""The small toolkit every route uses: who is acting, and where to go after a POST."""

from __future__ import annotations

from flask import redirect
from flask_htmx import make_response as htmx_response
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.models import User
from portal.rendering import wants_fragment


def actor() -> User:
    """The signed-in user as a model instance (not Flask-Login's proxy)."""
    return current_user._get_current_object()


def redirect_after_post(url: str, anchor: str | None = None) -> Response:
    """303 for a plain form; for HTMX, a full navigation (HX-Redirect), without the anchor:
    the page posting is often the very page to show again, and a change of anchor alone
    would only scroll it, not reload it."""
    if wants_fragment():
        return htmx_response("", redirect=url)
    return redirect(url + (f"#{anchor}" if anchor else ""), code=303)
