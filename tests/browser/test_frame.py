"""The frame of every page in a real browser: the focus ring, the error summary of a refused
form, filter addresses without empty parameters, back links that keep the list's filters,
the header's search (HTMX and without JavaScript) and its news count."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_demo_logins import log_in

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: tuple[int, ...], other: tuple[int, ...]) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rgb(css: str) -> tuple[int, ...]:
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    if len(values) == 4 and values[3] == 0:  # transparent: the white of the page shows
        return (255, 255, 255)
    return tuple(int(v) for v in values[:3])


def logged_in(new_context, email: str, **options) -> Page:
    page = new_context(viewport=VIEWPORT, **options).new_page()
    page.goto("/login")
    log_in(page, email)
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_the_focus_ring_is_visible_with_a_3_to_1_contrast(new_context) -> None:
    page = logged_in(new_context, "controleur@demo.test")
    for _ in range(3):  # the skip link, the brand, then the search box
        page.keyboard.press("Tab")
        ring = page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
                return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor,
                        getComputedStyle(document.body).backgroundColor]; }"""
        )
        style, width, color, background = ring
        assert style != "none" and width >= 2, ring
        assert contrast(rgb(color), rgb(background)) >= 3, ring


def test_a_refused_form_opens_with_its_error_summary_focused(new_context) -> None:
    page = logged_in(new_context, "admin-financeur@demo.test")
    page.goto("/dossiers/nouveau")
    page.get_by_role("button", name=re.compile("^Enregistrer|^Créer")).click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_contain_text("Le formulaire n'a pas été enregistré")
    links = summary.get_by_role("link")
    assert links.count() >= 2
    # Each link leads to its field, which carries the same message once, next to it.
    first = links.first
    target = first.get_attribute("href")
    assert page.locator(target).count() == 1
    first.click()
    expect(page.locator(target)).to_be_focused()
    assert page.locator(f"{target}-erreur").count() == 1


def test_filters_leave_empty_parameters_out_and_the_back_link_keeps_them(new_context) -> None:
    page = logged_in(new_context, "controleur@demo.test")
    page.goto("/dossiers/")
    filters = page.locator("#dossier-filters")
    filters.locator("input[type=search], input[type=text]").first.fill("DEMO-PTP")
    filters.get_by_role("button").first.click()
    expect(page).to_have_url(re.compile(r"/dossiers/\?[^#]*DEMO-PTP"))
    query = page.url.split("?", 1)[1]
    assert not re.search(r"(^|&)[^=&]+=(&|$)", query), page.url  # no empty parameter
    listed = page.url.split(page.url.split("/dossiers/")[0], 1)[1]

    page.get_by_role("link", name="DEMO-PTP-0001").first.click()
    crumb = page.get_by_role("navigation", name="Fil d'Ariane")
    expect(crumb.get_by_role("link", name="Dossiers")).to_have_attribute("href", listed)
    crumb.get_by_role("link", name="Dossiers").click()
    expect(page).to_have_url(re.compile(re.escape(listed) + "$"))


def test_the_header_search_previews_with_htmx_and_works_without_javascript(new_context) -> None:
    page = logged_in(new_context, "controleur@demo.test")
    page.get_by_label(re.compile("^Rechercher un dossier")).fill("DEMO-CPF-0003")
    preview = page.locator("#recherche-entete-resultats")
    expect(preview.get_by_role("link", name="DEMO-CPF-0003", exact=True)).to_be_visible()
    expect(preview).to_contain_text("Dossiers (1)")

    plain = logged_in(new_context, "controleur@demo.test", java_script_enabled=False)
    plain.get_by_label(re.compile("^Rechercher un dossier")).fill("Formapro")
    plain.get_by_role("search", name="Recherche dans le portail").get_by_role(
        "button", name="Rechercher"
    ).click()
    expect(plain).to_have_url(re.compile(r"/recherche/\?q=Formapro"))
    expect(plain.get_by_role("heading", level=1)).to_have_text("Recherche")
    expect(plain.locator("#results")).to_contain_text("Organismes suivis par votre financeur")


def test_each_role_has_its_news_link(new_context) -> None:
    for email in ("controleur@demo.test", "organisme@demo.test", "ministere@demo.test"):
        page = logged_in(new_context, email)
        tools = page.get_by_role("navigation", name="Outils du compte")
        tools.get_by_role("link", name=re.compile("^Nouveautés")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Nouveautés")
        page.context.close()
