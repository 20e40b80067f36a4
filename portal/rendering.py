"""One template for a full page and its HTMX fragment.

A list page names the block that HTMX swaps; `render_page` returns just that block for an
HTMX request that is not a boosted navigation nor a history restore, the whole page
otherwise, and says so in `Vary` so that caches keep both apart.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template
from jinja2_fragments.flask import render_block

from portal.extensions import htmx


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(template: str, block: str | None = None, **context: Any) -> Response:
    if block is not None and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response
