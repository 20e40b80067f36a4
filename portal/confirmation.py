"""Irreversible actions are confirmed: deciding an invoice, validating dossiers in bulk,
transmitting a signalement (to the ministry, to the certifier), closing or filing it,
issuing a quality report.

The route asks `confirmed()`; when the post does not carry `confirme=oui`, it answers
`ask(...)` instead of doing the work: a page restating what is about to happen, with a form
that posts the same fields back with « Je confirme » (works without JavaScript). For an
HTMX post the same partial comes as a modal `<dialog>` swapped into `#confirmation` (the
page's container, never swapped away); portal/static/js/dialogs.js opens it, moves the
focus into it and closes it on Escape or « Annuler ».
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import render_template, request
from flask_htmx import make_response as htmx_response
from werkzeug.wrappers import Response

from portal.rendering import wants_fragment

FIELD = "confirme"
YES = "oui"
#: Fields never posted back as they were: the key is one-time, the CSRF token is rendered anew.
NOT_REPOSTED = {FIELD, "submission_key", "csrf_token"}


def confirmed() -> bool:
    return request.form.get(FIELD) == YES


def ask(
    title: str,
    lines: Sequence[str],
    button: str,
    cancel_url: str,
    *,
    action: str | None = None,
    submitter: tuple[str, str] | None = None,
) -> Response:
    """The confirmation of the action posted now: its restatement and « Je confirme »."""
    fields = [
        (name, value)
        for name in request.form
        if name not in NOT_REPOSTED
        for value in request.form.getlist(name)
    ]
    if submitter is not None and submitter not in fields:
        fields.append(submitter)
    context = {
        "title": title,
        "lines": list(lines),
        "button": button,
        "cancel_url": cancel_url,
        "action": action or request.path,
        "fields": fields,
    }
    if wants_fragment():
        body = render_template("confirmation/_confirm.html", dialog=True, **context)
        response = htmx_response(body, retarget="#confirmation", reswap="innerHTML")
    else:
        response = htmx_response(
            render_template("confirmation/confirm.html", dialog=False, **context)
        )
    response.vary.add("HX-Request")
    return response
