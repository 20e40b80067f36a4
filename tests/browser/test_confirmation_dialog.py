"""The confirmation of an irreversible action in a browser: with JavaScript a modal dialog
in the page, labelled by its heading, that takes the focus, closes on Escape or « Annuler »
and gives the focus back; without JavaScript a page of its own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dialogs import confirmation_dialog
from tests.browser.test_demo_logins import log_in

pytestmark = pytest.mark.browser

VALIDATE = "Valider conformes"


def _queue(page: Page) -> None:
    page.goto("/login")
    log_in(page, "controleur@demo.test")
    page.goto("/service-fait/")
    page.wait_for_load_state("load")
    page.locator("#queue-bulk tbody input[type=checkbox]").first.check()


def _focus_in_dialog(page: Page) -> bool:
    return page.evaluate("() => !!document.activeElement.closest('dialog[open]')")


def test_the_dialog_takes_the_focus_and_closes_on_escape_or_cancel(new_context) -> None:
    page = new_context().new_page()
    _queue(page)
    button = page.get_by_role("button", name=VALIDATE)
    button.click()
    dialog = confirmation_dialog(page)
    expect(dialog.get_by_role("heading", level=2)).to_have_text(
        "Confirmer la validation des dossiers cochés"
    )
    expect(dialog).to_contain_text("Cette action est définitive.")
    assert page.get_by_role("dialog", name="Confirmer la validation des dossiers cochés").count()
    assert _focus_in_dialog(page)
    page.keyboard.press("Escape")
    expect(page.locator("dialog")).to_have_count(0)
    expect(button).to_be_focused()

    button.click()
    dialog = confirmation_dialog(page)
    assert _focus_in_dialog(page)
    dialog.get_by_role("button", name="Annuler").click()
    expect(page.locator("dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/service-fait/$"))


def test_without_javascript_the_confirmation_is_a_page(new_context) -> None:
    page = new_context(java_script_enabled=False).new_page()
    _queue(page)
    page.get_by_role("button", name=VALIDATE).click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer")
    expect(page.locator("main")).to_contain_text("Cette action est définitive.")
    expect(page.get_by_role("button", name="Je confirme : valider conformes")).to_be_visible()
    page.get_by_role("button", name="Annuler").click()
    expect(page).to_have_url(re.compile(r"/service-fait/"))
