"""(Named to run after the other browser tests that count the demo OF's requests.)
A double click on "Envoyer la demande" sends one request for documents: with HTMX the
button is disabled while the request is in flight. (Without JavaScript the one-time
submission key makes a second post land on the first result: tests/test_submission_keys.py.)"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_demo_logins import log_in
from tests.browser.test_service_fait_loop import dossier_id_of

pytestmark = pytest.mark.browser

REFERENCE = "DEMO-CPF-0003"
SEND = "Envoyer la demande à l'organisme"


def _waiting(page: Page) -> int:
    summary = page.locator("#requests-panel-summary").inner_text()
    match = re.search(r"(\d+) demande\(s\) en attente", summary)
    return int(match.group(1)) if match else 0


def _fill_request(page: Page) -> None:
    panel = page.locator("#requests-panel")
    panel.get_by_text("Demander des pièces complémentaires").click()
    expected = panel.locator("table.request-choices", has_text="Pièces attendues")
    expected.get_by_role("checkbox").first.check()
    panel.get_by_label("Message à l'organisme").fill("Bonjour, merci de compléter le dossier.")


def _open_control(page: Page) -> str:
    page.goto("/login")
    log_in(page, "controleur@demo.test")
    path = f"/service-fait/dossiers/{dossier_id_of(page, REFERENCE)}"
    page.goto(path)
    page.wait_for_load_state("load")
    return path


def _posts(page: Page) -> list[str]:
    posts: list[str] = []
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and "/demandes/" in r.url else None,
    )
    return posts


def test_a_double_click_on_send_sends_one_request(new_context) -> None:
    page = new_context().new_page()
    path = _open_control(page)
    before = _waiting(page)
    _fill_request(page)
    posts = _posts(page)
    page.get_by_role("button", name=SEND).dblclick()
    expect(page.locator("#messages")).to_contain_text("Demande de pièces envoyée")
    expect(page).to_have_url(re.compile(re.escape(path) + r"(#.*)?$"))
    assert len(posts) == 1
    assert _waiting(page) == before + 1
