"""Back links that return to a list as it was left: with its filters and its page.

Each GET of a list page (its full page or its HTMX refresh, whose address htmx pushes) is
remembered in the session, per list; `back_to(endpoint)` gives it back, or the bare list
when the user has not been there. Only the list's own path is ever stored, so a back link
cannot lead elsewhere.
"""

from __future__ import annotations

from flask import Flask, Response, request, session, url_for

#: The lists whose state the back links keep (endpoint: the session key's suffix).
LISTS = (
    "service_fait.index",
    "dossiers.index",
    "signalements.index",
    "public_list.index",
)
SESSION_KEY = "listes"
MAX_LENGTH = 600


def remember(response: Response) -> Response:
    if (
        request.method == "GET"
        and request.endpoint in LISTS
        and response.status_code == 200
        and len(request.full_path) <= MAX_LENGTH
    ):
        query = request.query_string.decode("utf-8", "replace")
        url = request.path + (f"?{query}" if query else "")
        saved = dict(session.get(SESSION_KEY) or {})
        if saved.get(request.endpoint) != url:
            saved[request.endpoint] = url
            session[SESSION_KEY] = saved
    return response


def back_to(endpoint: str) -> str:
    """The list as the user left it, or the list itself."""
    bare = url_for(endpoint)
    saved = (session.get(SESSION_KEY) or {}).get(endpoint)
    if isinstance(saved, str) and saved.split("?", 1)[0] == bare:
        return saved
    return bare


def init_app(app: Flask) -> None:
    app.after_request(remember)
    app.jinja_env.globals["back_to"] = back_to
