"""The compact quality grid in a real browser: a control of the 32 RNQ indicators is filled
« tout conforme sauf » two indicators in a few clicks, the progress bar follows, and a line
opens in place to record the two non-conformities."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal import clock
from portal.cli import DEMO_PROVIDERS
from portal.models.quality import PROFILE_FIELDS
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import watch_console
from tests.browser.test_quality_control import save_row

pytestmark = pytest.mark.browser

_NDA, _SIRET, OF_NAME = DEMO_PROVIDERS[0]
FLAGS = dict(PROFILE_FIELDS)


def test_a_32_indicator_grid_is_filled_all_conforming_but_two(new_context):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    problems = watch_console(page)
    page.goto("/login")
    log_in(page, "controleur@demo.test")
    page.goto("/qualite/nouveau")
    page.wait_for_load_state("load")
    option = page.locator("#provider option", has_text=OF_NAME).first.inner_text()
    page.get_by_label("Organisme contrôlé").select_option(label=option.strip())
    page.get_by_role("radio", name="Sur site").check()
    page.get_by_role("checkbox", name=re.compile("^DEMO-PTP-0001 ")).check()
    page.get_by_label("Date du contrôle").fill((clock.today() - timedelta(days=2)).isoformat())
    page.get_by_label("Périmètre : actions contrôlées").fill("Titre professionnel, apprentissage")
    page.get_by_label("Participants").fill("Claire Contrôle")
    for name in ("certifying", "apprenticeship", "work_based", "subcontracting"):
        page.get_by_label(FLAGS[name]).check()
    page.get_by_role("button", name="Planifier le contrôle").click()
    page.wait_for_load_state("load")
    expect(page.locator("article[id^=indicateur-]")).to_have_count(32)
    progress = page.locator("#qc-progress")
    expect(progress).to_contain_text("0 / 32 constats")
    # The whole grid fits in a few screens: one line per indicator.
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 768 * 6, height

    # « Tout conforme sauf… »: open, tick two, send, confirm — four clicks and two ticks.
    page.get_by_text("Tout conforme sauf…", exact=True).click()
    page.get_by_role("checkbox", name=re.compile(r"^Indicateur 2 —")).check()
    page.get_by_role("checkbox", name=re.compile(r"^Indicateur 11 —")).check()
    page.get_by_role("button", name="Tout conforme sauf les indicateurs cochés…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer « Conforme »")
    expect(page.locator("main")).to_contain_text("pour 30 indicateurs")
    page.get_by_role("button", name="Confirmer : 30 « Conforme »").click()
    page.wait_for_load_state("load")
    expect(page.locator("main")).to_contain_text("30 indicateurs enregistrés « Conforme »")
    expect(progress).to_contain_text("30 / 32 constats")
    expect(page.locator("#indicateur-1 .qc-line")).to_contain_text("Conforme")
    expect(page.locator("#indicateur-2 .qc-line")).to_contain_text("À renseigner")

    # The two left open in place (HTMX): the progress bar follows without a reload.
    save_row(page, "2", "nc_mineure")
    expect(progress).to_contain_text("31 / 32 constats")
    save_row(page, "11", "nc_majeure")
    expect(progress).to_contain_text("32 / 32 constats")
    expect(page.locator("#resultat")).to_contain_text("Non-conformités majeures : 1")
    expect(page).to_have_url(re.compile(r"/qualite/controles/\d+#titre-grille$"))
    assert not problems
