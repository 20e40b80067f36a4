"""The "Vérifier Qualiopi" active search, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_demo_logins import log_in

pytestmark = pytest.mark.browser


def test_active_search_shows_cards_as_you_type(page: Page, live_server: str) -> None:
    page.goto("/login")
    log_in(page, "controleur@demo.test")
    expect(page).to_have_url(f"{live_server}/")
    page.get_by_role("link", name="Vérifier Qualiopi").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifier Qualiopi")
    results = page.locator("#results")
    expect(results).to_contain_text("Liste en vigueur")
    page.evaluate("window.__sameDocument = 'oui'")

    with page.expect_request(
        lambda r: "/qualiopi/?" in r.url and r.headers.get("hx-request") == "true"
    ):
        page.get_by_label("SIRET, SIREN, NDA ou nom de l'organisme").fill("formapro")

    card = results.get_by_role("article")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Formapro Occitanie (démo)")
    expect(card).to_contain_text("Certifié Qualiopi")
    expect(card).to_contain_text("Actions de formation par apprentissage : oui")
    expect(page).to_have_url(re.compile(r"/qualiopi/\?(.*&)?q=formapro"))
    assert page.evaluate("window.__sameDocument") == "oui", "the whole page was reloaded"

    # A name without accents finds one with; an identifier finds its OF.
    page.get_by_label("SIRET, SIREN, NDA ou nom de l'organisme").fill("competences pyrenees")
    expect(results.get_by_role("article")).to_contain_text("Compétences Pyrénées (démo)")
    expect(results.get_by_role("article")).to_contain_text("Non certifié")
    page.get_by_label("SIRET, SIREN, NDA ou nom de l'organisme").fill("76310555123")
    expect(results.get_by_role("article")).to_contain_text("Bilans & Parcours Toulouse (démo)")

    # The card leads to the OF's page.
    results.get_by_role("link", name="Bilans & Parcours Toulouse (démo)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bilans & Parcours Toulouse (démo)")
    expect(page.get_by_text("Historique de la certification")).to_be_visible()


def test_search_works_without_javascript(new_context, live_server: str) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/login")
    log_in(page, "ministere@demo.test")
    page.goto("/qualiopi/")
    page.get_by_label("SIRET, SIREN, NDA ou nom de l'organisme").fill("academie")
    page.get_by_role("button", name="Vérifier").click()
    expect(page.locator("#results")).to_contain_text("Académie du Numérique Paris (démo)")
