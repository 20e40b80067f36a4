"""The whole service-fait loop in a real browser, with the demo accounts: the controller
asks the OF for a document (from a message template), the OF sees exactly what is asked and
answers with a file, the controller sees the answer and decides on an invoice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.cli import demo_pdf
from tests.browser.dialogs import confirm_in_dialog
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import watch_console

pytestmark = pytest.mark.browser

REFERENCE = "DEMO-PTP-0001"


def dossier_id_of(page: Page, reference: str) -> int:
    """The id of a dossier, from its link in the funder's list."""
    page.goto(f"/dossiers/?q={reference}")
    page.get_by_role("link", name=reference, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dossier {reference}")
    match = re.search(r"/dossiers/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def test_the_controller_asks_the_of_answers_the_controller_decides(new_context, tmp_path) -> None:
    # --- The controller asks for a document, from the control page. ---------------------
    controller = new_context().new_page()
    problems = watch_console(controller)
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    dossier_id = dossier_id_of(controller, REFERENCE)
    control_path = f"/service-fait/dossiers/{dossier_id}"
    controller.goto(control_path)
    controller.wait_for_load_state("load")
    panel = controller.locator("#requests-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(
        "Demandes de pièces et échanges avec l'organisme"
    )
    panel.get_by_text("Demander des pièces complémentaires").click()

    # The first expected piece not received, whatever the other tests sent before.
    expected = panel.locator("table.request-choices", has_text="Pièces attendues")
    checkbox = expected.get_by_role("checkbox").first
    checkbox.check()
    item_label = expected.locator("tbody tr").first.locator("td").first.inner_text().strip()
    assert item_label.startswith(("Facture du", "Certificat de réalisation du", "Feuille"))
    expected.locator("tbody tr").first.locator("input[type=text]").fill("Pièce absente du dossier.")
    # A template fills the message (HTMX), then the controller completes it.
    panel.get_by_label("Partir d'un modèle de message").select_option(
        label="Pièces manquantes (modèle du portail)"
    )
    message = panel.get_by_label("Message à l'organisme")
    expect(message).to_have_value(re.compile(r"^Bonjour,"))
    message.fill(message.input_value() + "\nClaire Contrôle")
    expect(panel.get_by_label("Date limite de réponse")).not_to_have_value("")
    panel.get_by_role("button", name="Envoyer la demande à l'organisme").click()

    expect(controller.locator("#messages")).to_contain_text("Demande de pièces envoyée")
    expect(controller).to_have_url(re.compile(re.escape(control_path) + r"(#.*)?$"))
    panel = controller.locator("#requests-panel")
    expect(panel.locator("#requests-panel-summary")).to_contain_text(
        "1 demande(s) en attente de l'organisme."
    )
    expect(panel).to_contain_text(item_label)

    # --- The OF sees the request and answers with a file. --------------------------------
    provider = new_context().new_page()
    problems += watch_console(provider)
    provider.goto("/login")
    log_in(provider, "organisme@demo.test")
    notice = provider.get_by_role("region", name=re.compile("demandes? de pièces"))
    expect(notice).to_contain_text("1 demande de pièces attend votre réponse")
    notice.get_by_role("link", name=f"Dossier {REFERENCE}").click()
    expect(provider.get_by_role("heading", level=1)).to_have_text(
        f"Demande de pièces — dossier {REFERENCE}"
    )
    items = provider.locator("table.requested-items tbody tr")
    expect(items).to_have_count(1)
    expect(items.first.locator("td").nth(0)).to_have_text(item_label)
    expect(items.first.locator("td").nth(1)).to_have_text("Pièce absente du dossier.")
    expect(provider.locator(".thread")).to_contain_text("Claire Contrôle")

    answer_file = tmp_path / "certificat-signe.pdf"
    answer_file.write_bytes(demo_pdf("Piece demandee"))
    provider.get_by_label("Votre réponse").fill("Voici la pièce demandée, signée.")
    provider.get_by_label("Fichiers joints à la réponse (facultatif)").set_input_files(
        str(answer_file)
    )
    provider.get_by_role("button", name="Envoyer la réponse").click()
    expect(provider.locator("#messages")).to_contain_text("Réponse envoyée au financeur")
    expect(provider.locator(".thread")).to_contain_text("Voici la pièce demandée, signée.")
    expect(provider.locator(".thread")).to_contain_text("certificat-signe.pdf")
    expect(provider.locator(".role-line")).to_contain_text("Réponse reçue")

    # --- The controller sees the answer, and decides on an invoice. ------------------------
    controller.goto(control_path)
    panel = controller.locator("#requests-panel")
    expect(panel).to_contain_text("Voici la pièce demandée, signée.")
    expect(panel.get_by_role("link", name="certificat-signe.pdf")).to_be_visible()
    expect(panel.locator("#requests-panel-summary")).to_contain_text("Aucune demande en attente.")
    expect(controller.locator("body")).to_contain_text("À contrôler")
    with controller.expect_download() as download:
        panel.get_by_role("link", name="certificat-signe.pdf").click()
    assert download.value.suggested_filename == "certificat-signe.pdf"

    undecided = controller.locator(
        "#decisions article.invoice-decision", has=controller.locator("form")
    ).first
    article_id = undecided.get_attribute("id")
    invoice_article = controller.locator(f"#{article_id}")
    first = invoice_article.locator("form")
    first.get_by_label("Conforme", exact=True).check()
    first.get_by_role("button", name="Enregistrer la décision").click()
    confirm_in_dialog(controller)
    expect(invoice_article.locator("p.decision")).to_contain_text("Conforme")
    expect(invoice_article.locator("p.decision")).to_contain_text("validés")

    # The request can now be closed as settled.
    controller.goto(control_path)
    panel = controller.locator("#requests-panel")
    panel.get_by_role("button", name="Clore la demande").click()
    expect(controller.locator("#messages")).to_contain_text("Demande close.")
    expect(controller.locator("#requests-panel")).to_contain_text("Demande close — Réglée")
    assert problems == []
