"""Every page of every demo role at 1366 × 768: none is wider than the window.

The walk logs in as the role and follows, from the home page, every link of the portal it
finds (breadth first), one page per kind of address (the digits of an address, ids, NDA,
are one kind: /dossiers/1 and /dossiers/2 are the same page). Downloads and files are left
out. axe-core runs on each page too (the `new_context` fixture), so that every page of
every role is also checked for WCAG 2.1 AA violations.

Each role's walk is shared out among `SHARDS[role]` tests, which pytest-xdist runs side by side:
the links are first followed over HTTP (the browser context's own session, no rendering),
which gives the role's pages; each kind of page then belongs to one shard (a hash of the
kind), which shows it in chromium. A shard also checks that every link the rendered page
shows leads to a page of that list, so that the list is the one the browser would walk.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import APIRequestContext, Error, Page, expect

from tests.browser.test_demo_logins import log_in

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
ROLES = {
    "admin": "admin@demo.test",
    "admin-financeur": "admin-financeur@demo.test",
    "controleur": "controleur@demo.test",
    "organisme": "organisme@demo.test",
    "ministere": "ministere@demo.test",
}
# Into how many tests each role's walk is cut (about 15 pages each).
SHARDS = {"admin": 2, "admin-financeur": 4, "controleur": 4, "organisme": 3, "ministere": 1}
# Downloads and files: not pages.
NOT_PAGES = re.compile(r"(\.(csv|xlsx|zip|json|pdf)$)|/fichiers?(/|$)|/preuves/\d+$|^/api/")
MAX_PAGES = 120
# Pages that must be among the walked ones, per role (so the walk cannot silently shrink).
MUST_SEE = {
    "admin": {"/admin/", "/admin/utilisateurs", "/admin/journal", "/qualiopi/"},
    "admin-financeur": {"/service-fait/", "/dossiers/", "/admin/utilisateurs", "/qualite/"},
    "controleur": {"/service-fait/", "/service-fait/dossiers/#", "/dossiers/#", "/qualite/"},
    "organisme": {"/dossiers/", "/dossiers/#", "/sous-traitance/", "/certification/"},
    "ministere": {"/signalements/", "/qualiopi/"},
}
# Per role, found once per pytest process: the kinds of addresses its links lead to, and its
# pages (kind → the address shown).
_WALKS: dict[str, tuple[set[str], dict[str, str]]] = {}


def kind_of(path: str) -> str:
    return re.sub(r"\d+", "#", path)


def shard_of(kind: str, role: str) -> int:
    return zlib.crc32(kind.encode()) % SHARDS[role]


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and (href := dict(attrs).get("href")) is not None:
            self.hrefs.append(href)


def _target(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def pages_of_the_role(
    request: APIRequestContext, live_server: str
) -> tuple[set[str], dict[str, str]]:
    """The kinds of addresses the role's links lead to, and its pages (kind → the first
    address found), following the links breadth first over HTTP as the browser did (same
    session, same limits, same addresses left out)."""
    seen: set[str] = set()
    pages: dict[str, str] = {}
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        path = urlsplit(url).path
        if kind_of(path) in seen or NOT_PAGES.search(path):
            continue
        seen.add(kind_of(path))
        response = request.get(url)
        if "text/html" not in response.headers.get("content-type", ""):
            continue  # a download, not a page
        pages[kind_of(path)] = url
        parser = _Links()
        parser.feed(response.text())
        for href in parser.hrefs:
            link = urljoin(response.url, href)
            if link.startswith(live_server) and kind_of(urlsplit(link).path) not in seen:
                queue.append(_target(link))
    return seen, pages


def walk(page: Page, seen: set[str], pages: dict[str, str], role: str, shard: int) -> list[str]:
    """Show the shard's pages; return the too-wide ones. Fails on a page that answers an
    error, or that shows a link the walk over HTTP did not follow."""
    too_wide: list[str] = []
    complete = len(seen) < MAX_PAGES
    for kind, url in pages.items():
        if shard_of(kind, role) != shard:
            continue
        try:
            response = page.goto(url)
        except Error:  # a download starts instead of a page
            continue
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        assert response.status < 400, f"{url}: {response.status}"
        page.evaluate("() => window.__portalAxe || null")  # let axe finish on this page
        if (extra := overflow(page)) > 0:
            too_wide.append(f"{url} ({extra} px too wide)")
        links = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.href).filter(h => h.startsWith(location.origin))"
        )
        if complete:
            unknown = {
                kind_of(urlsplit(link).path)
                for link in links
                if not NOT_PAGES.search(urlsplit(link).path)
            } - seen
            assert not unknown, f"{url} links to pages the walk did not list: {unknown}"
    return too_wide


@pytest.mark.parametrize(
    ("role", "shard"),
    [
        pytest.param(role, shard, marks=pytest.mark.xdist_group(f"every-page-{role}-{shard}"))
        for role in ROLES
        for shard in range(SHARDS[role])
    ],
    ids=[f"{role}-{shard + 1}of{SHARDS[role]}" for role in ROLES for shard in range(SHARDS[role])],
)
def test_every_page_of_the_role_fits_a_1366_pixel_screen(
    new_context, live_server, role, shard
) -> None:
    context = new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/login")
    log_in(page, ROLES[role])
    expect(page).to_have_url(f"{live_server}/")
    if role not in _WALKS:
        _WALKS[role] = pages_of_the_role(context.request, live_server)
    seen, pages = _WALKS[role]

    too_wide = walk(page, seen, pages, role, shard)

    assert MUST_SEE[role] <= seen, f"pages not reached: {MUST_SEE[role] - seen}"
    assert any(shard_of(kind, role) == shard for kind in pages), "this part of the walk is empty"
    assert not too_wide, "pages wider than the window at 1366 px:\n" + "\n".join(too_wide)
