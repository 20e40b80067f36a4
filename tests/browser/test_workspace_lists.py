"""At 1366 × 768, with the demo data: the lists show at least 10 rows on the first screen,
their filter bars keep empty parameters out of the address, and the 360° page of an OF
fits the window (axe runs on every page through the `new_context` fixture)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_demo_logins import log_in
from tests.browser.test_every_page import VIEWPORT, overflow, unreadable

pytestmark = pytest.mark.browser

ROWS = 10
TWO_LINES = 40  # pixels: a row of two lines of a dense list
DEMO_NDAS = [
    "76311234567",
    "76340987654",
    "76310555123",
    "76341112223",
    "76320000011",
    "11750000022",
    "84690000033",
    "93130000044",
    "01970000055",
    "53350000066",
    "76310000077",
    "75330000088",
]


def _signed_in(new_context, email: str) -> Page:
    page = new_context(viewport=VIEWPORT).new_page()
    page.goto("/login")
    log_in(page, email)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    return page


def rows_on_first_screen(page: Page, table: str = "main table") -> tuple[int, int]:
    """(rows of the list fully inside the window on load, rows the first screen would
    hold at the height of the list's tallest row); the window is at the top."""
    return page.evaluate(
        """([selector, TWO_LINES]) => {
          const rows = [...document.querySelector(selector).tBodies].flatMap(b => [...b.rows]);
          const bottom = window.innerHeight;
          const inside = rows.filter(r => r.getBoundingClientRect().bottom <= bottom).length;
          const top = rows[0].getBoundingClientRect().top;
          // A row of the list is one or two lines: at least two lines are counted.
          const tallest = Math.max(TWO_LINES, ...rows.map(r => r.getBoundingClientRect().height));
          return [inside, Math.floor((bottom - top) / tallest)];
        }""",
        [table, TWO_LINES],
    )


def assert_ten_rows(page: Page, path: str, table: str = "main table") -> None:
    page.evaluate("window.scrollTo(0, 0)")
    inside, room = rows_on_first_screen(page, table)
    count = page.locator(f"{table} > tbody > tr").count()  # every body (rowgroups)
    if count >= ROWS:
        assert inside >= ROWS, f"{path}: {inside} rows on the first screen"
    else:  # fewer rows than that in the demo: the first screen holds 10 of them
        assert room >= ROWS, f"{path}: room for {room} rows on the first screen"
    assert overflow(page) <= 0, f"{path} is wider than the window"


@pytest.mark.parametrize(
    ("email", "path"),
    [
        ("controleur@demo.test", "/service-fait/?statut=tous"),
        ("controleur@demo.test", "/dossiers/"),
        ("admin-financeur@demo.test", "/admin/journal"),
        ("admin@demo.test", "/admin/journal"),
        ("ministere@demo.test", "/signalements/"),
    ],
)
def test_the_list_shows_ten_rows_on_the_first_screen(new_context, email, path) -> None:
    page = _signed_in(new_context, email)
    page.goto(path)
    assert_ten_rows(page, path)


def test_the_bulk_check_results_show_ten_rows_on_the_first_screen(new_context, tmp_path):
    page = _signed_in(new_context, "controleur@demo.test")
    upload = tmp_path / "organismes.csv"
    upload.write_text("identifiant\n" + "\n".join(DEMO_NDAS) + "\n", encoding="utf-8")
    page.goto("/qualiopi/verification-groupee")
    page.get_by_label(re.compile("^Fichier")).set_input_files(str(upload))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page).to_have_url(re.compile(r"/qualiopi/verification-groupee/\d+"))
    assert page.locator("main table > tbody > tr").count() >= ROWS
    assert_ten_rows(page, "résultats de la vérification groupée")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/service-fait/", "Organisme"), ("/dossiers/", "Organisme")],
)
def test_a_filter_sends_no_empty_parameter(new_context, path, field) -> None:
    page = _signed_in(new_context, "controleur@demo.test")
    page.goto(path)
    filters = page.locator("main form[method=get], main form:not([method])").first
    filters.get_by_label(re.compile(f"^{field}")).first.fill("76340987654")
    filters.get_by_label(re.compile(f"^{field}")).first.press("Enter")
    expect(page).to_have_url(re.compile("76340987654"))
    query = parse_qsl(urlsplit(page.url).query, keep_blank_values=True)
    assert query and all(value for _, value in query), page.url


def test_the_360_page_of_an_of_from_the_queue(new_context) -> None:
    page = _signed_in(new_context, "controleur@demo.test")
    page.goto("/service-fait/?statut=tous")
    page.get_by_role("link", name="Atelier des Compétences du Sud (démo)").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Atelier des Compétences du Sud (démo)"
    )
    expect(page.locator(".of360-timeline")).to_contain_text("Validation des acquis")
    expect(page.locator(".of360-alerts")).to_contain_text("catégorie perdue")
    expect(page.locator("#dossiers")).to_contain_text("DEMO-")
    assert overflow(page) <= 0
    assert unreadable(page.evaluate("document.body.innerText")) == []
    page.get_by_role("link", name=re.compile("^Voir les \\d+ dossiers")).click()
    expect(page).to_have_url(re.compile(r"/dossiers/\?organisme=76340987654"))
