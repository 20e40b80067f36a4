"""Electronic invoices in a real browser: the demo OF drops the demo's Factur-X invoice on
the upload form, sees the form fill itself, changes one amount and sends; the demo
controller sees the blocking difference naming both amounts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal import clock
from portal.cli import DEMO_FUNDER, DEMO_PROVIDERS
from portal.einvoice.demo import last_month, write_demo_documents
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import open_dossier, watch_console
from tests.browser.test_service_fait_loop import dossier_id_of

pytestmark = pytest.mark.browser

REFERENCE = "DEMO-PTP-0002"  # running last month, nothing received


def test_the_demo_of_drops_a_facturx_and_the_controller_sees_the_difference(
    new_context, tmp_path: Path
) -> None:
    _nda, siret, name = DEMO_PROVIDERS[0]
    invoice, _certificate = write_demo_documents(
        tmp_path,
        seller_name=name.removesuffix(" (démo)"),
        siren=siret[:9],
        siret=siret,
        buyer_name=DEMO_FUNDER,
        today=clock.today(),
    )
    start, end = last_month(clock.today())
    number = f"FX{start:%Y%m}-DEMO"

    page = new_context().new_page()
    problems = watch_console(page)
    page.goto("/login")
    log_in(page, "organisme@demo.test")
    open_dossier(page, REFERENCE)
    dossier_path = re.sub(r"^https?://[^/]+", "", page.url)
    page.goto(dossier_path + "/pieces/nouvelle?type=facture")
    expect(page.get_by_role("heading", level=1)).to_have_text("Envoyer une facture")
    page.wait_for_load_state("load")

    # The file chosen: the form fills itself from the invoice's XML (HTMX).
    with page.expect_response(lambda r: "/pieces/lire" in r.url):
        page.set_input_files("#files", str(invoice))
    expect(page.locator("#piece-prefill")).to_contain_text(
        "Champs remplis d'après la facture électronique (EN 16931, « facture-facturx-demo.pdf »)"
    )
    expect(page.get_by_label("Numéro de facture")).to_have_value(number)
    expect(page.get_by_label("Début de la période couverte")).to_have_value(start.isoformat())
    expect(page.get_by_label("Fin de la période couverte")).to_have_value(end.isoformat())
    expect(page.get_by_label("Date de la facture")).to_have_value(end.isoformat())
    expect(page.get_by_label("Montant HT (€)")).to_have_value("1500,10")
    expect(page.get_by_label("Montant TTC (€)")).to_have_value("1500,10")
    expect(page.get_by_label("Heures facturées")).to_have_value("70")
    expect(page.locator("[data-file-list]")).to_contain_text("facture-facturx-demo.pdf")

    # The OF types another total, and sends.
    page.get_by_label("Montant TTC (€)").fill("1 600")
    page.get_by_role("button", name="Envoyer").click()
    expect(page).to_have_url(re.compile(re.escape(dossier_path) + "$"))
    expect(page.locator("#messages")).to_contain_text("fichier envoyé")
    piece = page.locator("article.piece", has_text="facture-facturx-demo.pdf")
    expect(piece).to_contain_text("facture-facturx-demo.xml")
    assert problems == []

    # The controller sees the blocking difference, naming both amounts.
    controller = new_context().new_page()
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    dossier_id = dossier_id_of(controller, REFERENCE)
    controller.goto(f"/service-fait/dossiers/{dossier_id}")
    findings = controller.locator("main")
    expect(findings).to_contain_text(
        "Numéro, date ou montants saisis différents de la facture électronique"
    )
    expect(findings).to_contain_text(
        re.compile(r"montant TTC saisi 1\s600,00\s€, la facture électronique indique 1\s500,10\s€")
    )
    row = controller.locator("tr[id^=piece-]", has_text="facture-facturx-demo.pdf")
    expect(row).to_contain_text("Saisies par l'organisme, différentes de celles de la facture")

    # The queue's filter finds the dossier.
    controller.goto("/service-fait/?statut=tous&differents=y")
    expect(controller.locator("main")).to_contain_text(REFERENCE)
