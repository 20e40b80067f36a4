"""Every page of every demo role at 1366 × 768: none is wider than the window.

The walk logs in as the role and follows, from the home page, every link of the portal it
finds (breadth first), one page per kind of address (the digits of an address, ids, NDA,
are one kind: /dossiers/1 and /dossiers/2 are the same page). Downloads and files are left
out. axe-core runs on each page too (the `new_context` fixture), so that every page of
every role is also checked for WCAG 2.1 AA violations. And the words a user reads: no
internal code (`INVOICE_WITHOUT_CERTIFICATE`) and no ISO date (`2026-12-07`) in the
visible text of any page.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error, Page, expect

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
# Downloads and files: not pages.
NOT_PAGES = re.compile(r"(\.(csv|xlsx|zip|json|pdf)$)|/fichiers?(/|$)|/preuves/\d+$|^/api/")
MAX_PAGES = 120
# Pages that must be among the walked ones, per role (so the walk cannot silently shrink).
MUST_SEE = {
    "admin": {"/admin/", "/admin/utilisateurs", "/admin/journal", "/qualiopi/"},
    "admin-financeur": {
        "/service-fait/",
        "/dossiers/",
        "/admin/utilisateurs",
        "/qualite/",
        "/organismes/#",
    },
    "controleur": {
        "/service-fait/",
        "/service-fait/dossiers/#",
        "/dossiers/#",
        "/qualite/",
        "/organismes/#",
    },
    "organisme": {"/dossiers/", "/dossiers/#", "/sous-traitance/", "/certification/"},
    "ministere": {"/signalements/", "/qualiopi/"},
}


# What a user never reads: an internal code (upper case words joined by `_`) or an ISO date.
INTERNAL_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def unreadable(text: str) -> list[str]:
    """The internal codes and ISO dates of a page's visible text."""
    return sorted(set(INTERNAL_CODE.findall(text)) | set(ISO_DATE.findall(text)))


def kind_of(path: str) -> str:
    return re.sub(r"\d+", "#", path)


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def walk(page: Page, live_server: str) -> tuple[set[str], list[str], list[str]]:
    """Visit the role's pages; return the kinds of pages seen, the too-wide ones and those
    whose visible text shows a code or an ISO date."""
    seen: set[str] = set()
    too_wide: list[str] = []
    coded: list[str] = []
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        path = urlsplit(url).path
        if kind_of(path) in seen or NOT_PAGES.search(path):
            continue
        seen.add(kind_of(path))
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
        if found := unreadable(page.evaluate("document.body.innerText")):
            coded.append(f"{url}: {', '.join(found[:5])}")
        links = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.href).filter(h => h.startsWith(location.origin))"
        )
        for link in links:
            parts = urlsplit(link)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if kind_of(parts.path) not in seen:
                queue.append(target)
    return seen, too_wide, coded


def test_the_patterns_find_codes_and_iso_dates_only() -> None:
    assert unreadable("Anomalie INVOICE_WITHOUT_CERTIFICATE le 2026-12-07") == [
        "2026-12-07",
        "INVOICE_WITHOUT_CERTIFICATE",
    ]
    assert unreadable("Reçue le 07/12/2026 à 14 h 05 · NDA 76311234567 · RNCP37674") == []


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_the_role_fits_a_1366_pixel_screen(new_context, live_server, role) -> None:
    page = new_context(viewport=VIEWPORT).new_page()
    page.goto("/login")
    log_in(page, ROLES[role])
    expect(page).to_have_url(f"{live_server}/")

    seen, too_wide, coded = walk(page, live_server)

    assert MUST_SEE[role] <= seen, f"pages not reached: {MUST_SEE[role] - seen}"
    assert not too_wide, "pages wider than the window at 1366 px:\n" + "\n".join(too_wide)
    assert not coded, "codes or ISO dates shown to the user:\n" + "\n".join(coded)
