"""One pagination macro: every paginated list uses `_pagination.html`'s pager, whose links
keep the list's filters and leave page 1 and empty parameters out of the address."""

from __future__ import annotations

from pathlib import Path

from flask import render_template_string

ROOT = Path(__file__).resolve().parent.parent / "portal"


def test_no_template_writes_its_own_pager() -> None:
    own = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.html")
        if 'class="pagination"' in path.read_text() and path.name != "_pagination.html"
    ]
    assert own == []


def _pager(app, page: int, pages: int, args: dict, target: str | None = None) -> str:
    with app.test_request_context():
        return render_template_string(
            '{% from "_pagination.html" import pager %}'
            "{{ pager(p, 'dossiers.index', args, target) }}",
            p={"page": page, "pages": pages},
            args=args,
            target=target,
        )


def test_the_pager_keeps_the_filters_and_leaves_page_one_out(app) -> None:
    html = _pager(app, 2, 3, {"tri": "reference"}, "results")
    assert 'href="/dossiers/?tri=reference"' in html  # back to page 1: no page=1
    assert 'href="/dossiers/?tri=reference&amp;page=3"' in html
    assert 'hx-target="#results"' in html and "Page 2 sur 3" in html
    assert _pager(app, 1, 1, {}).strip() == ""  # one page: no pager
    plain = _pager(app, 1, 2, {})
    assert "hx-get" not in plain and "Page précédente" not in plain


def test_every_template_that_uses_the_pager_compiles(app) -> None:
    users = [
        path
        for path in ROOT.rglob("*.html")
        if "pager(" in path.read_text() and path.name != "_pagination.html"
    ]
    assert len(users) >= 12
    for path in users:
        name = "/".join(path.parts[path.parts.index("templates") + 1 :])
        app.jinja_env.get_template(name)  # a syntax error raises
