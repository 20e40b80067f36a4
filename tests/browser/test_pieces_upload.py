"""The demo OF sends a certificat de réalisation in a real browser (drag and drop, inline
validation, HTMX upload with its progress bar), and the demo controller sees it; the same
without JavaScript, with a refused file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portal import clock
from portal.cli import demo_pdf
from tests.browser.test_demo_logins import log_in

pytestmark = pytest.mark.browser


def watch_console(page: Page) -> list[str]:
    """Page errors and CSP refusals seen by the page."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return problems


def open_dossier(page: Page, reference: str) -> None:
    page.goto("/dossiers/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes dossiers")
    page.get_by_role("link", name=f"Dossier {reference}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dossier {reference}")


def test_the_demo_of_sends_a_certificate_and_the_controller_sees_it(new_context) -> None:
    page = new_context().new_page()
    problems = watch_console(page)
    page.goto("/login")
    log_in(page, "organisme@demo.test")
    open_dossier(page, "DEMO-PTP-0001")
    dossier_path = re.sub(r"^https?://[^/]+", "", page.url)

    # The calendar's first missing certificate: its link proposes the period.
    page.get_by_role(
        "link", name=re.compile(r"^Envoyer : Certificat de réalisation, période du ")
    ).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Envoyer un certificat de réalisation"
    )
    page.wait_for_load_state("load")  # uploads.js is deferred
    period_end = page.get_by_label("Fin de la période couverte").input_value()
    assert period_end, "the calendar's link fills the period in"

    # Inline validation while typing: a signature in the future is refused at once.
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    page.get_by_label("Date de signature").fill(tomorrow)
    expect(page.locator("#signed_on-erreur")).to_have_text(
        "La date de signature ne peut pas être dans le futur."
    )
    expect(page.get_by_label("Date de signature")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Date de signature").fill(period_end)
    expect(page.locator("#signed_on-erreur")).to_have_text("")
    page.get_by_label("Durée réalisée (heures)").fill("68h30")
    page.get_by_label("Signataire").fill("Sophie Martin, directrice")

    # The file, dropped on the zone.
    expect(page.get_by_text("glisser-déposer vos fichiers dans ce cadre")).to_be_visible()
    transfer = page.evaluate_handle(
        """([bytes, name]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "application/pdf"}));
            return transfer;
        }""",
        [list(demo_pdf("Certificat de realisation")), "certificat-signe.pdf"],
    )
    page.dispatch_event("[data-drop-zone]", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("[data-drop-zone]", "drop", {"dataTransfer": transfer})
    expect(page.locator("[data-file-list]")).to_contain_text("certificat-signe.pdf")

    with page.expect_response(
        lambda r: (
            "/pieces/nouvelle" in r.url
            and r.request.method == "POST"
            and r.request.headers.get("hx-request") == "true"
        )
    ) as sent:
        page.get_by_role("button", name="Envoyer").click()
    assert sent.value.headers.get("hx-redirect") == dossier_path

    expect(page).to_have_url(re.compile(re.escape(dossier_path) + "$"))
    expect(page.locator("#messages")).to_contain_text("Certificat de réalisation du ")
    expect(page.locator("#messages")).to_contain_text("fichier envoyé")
    piece = page.locator("article.piece", has_text="certificat-signe.pdf")
    expect(piece).to_contain_text("68 h 30")
    assert problems == []

    # The demo controller sees it, with its figures, and where it came from.
    controller = new_context().new_page()
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    controller.goto(dossier_path)
    piece = controller.locator("article.piece", has_text="certificat-signe.pdf")
    expect(piece).to_contain_text("Certificat de réalisation")
    expect(piece).to_contain_text("68 h 30")
    expect(piece).to_contain_text("Sophie Martin, directrice")
    expect(piece).to_contain_text("par Olivier Organisme")
    history = controller.locator("section", has=controller.locator("#historique"))
    expect(history).to_contain_text("Pièce envoyée")
    expect(history).to_contain_text("organisme@demo.test")
    with controller.expect_download() as download:
        piece.get_by_role("link", name="certificat-signe.pdf").click()
    assert download.value.suggested_filename == "certificat-signe.pdf"
    # The demo data flags the CPF's invoice sent again as the PTP's expense statement.
    expect(controller.get_by_text("Fichier identique (même empreinte SHA-256)")).to_be_visible()


def test_the_upload_form_works_without_javascript(new_context, tmp_path: Path) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/login")
    log_in(page, "organisme@demo.test")
    open_dossier(page, "DEMO-PTP-0002")
    page.get_by_role("link", name="Envoyer : relevé de dépenses").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Envoyer un relevé de dépenses")
    expect(page.get_by_text("glisser-déposer")).to_be_hidden()  # only with JavaScript

    today = clock.today()
    first = today.replace(day=1)
    for _ in range(3):
        first = (first - timedelta(days=1)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    page.get_by_label("Début de la période couverte").fill(first.isoformat())
    page.get_by_label("Fin de la période couverte").fill(last.isoformat())
    page.get_by_label("Montant des dépenses (€)").fill("1 234,50")

    # A page disguised as an image is refused, in French, and what was typed stays.
    fake = tmp_path / "ticket.png"
    fake.write_text("<!doctype html><title>piège</title>")
    page.set_input_files("#files", str(fake))
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#files-erreur")).to_contain_text("« ticket.png »")
    expect(page.locator("#files-erreur")).to_contain_text("choisissez de nouveau vos fichiers")
    expect(page.get_by_label("Montant des dépenses (€)")).to_have_value("1 234,50")

    real = tmp_path / "releve.pdf"
    real.write_bytes(demo_pdf("Releve de depenses"))
    page.set_input_files("#files", str(real))
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#messages")).to_contain_text("Relevé de dépenses du ")
    expect(page.locator("article.piece", has_text="releve.pdf")).to_contain_text(
        "1\u202f234,50\u00a0€"
    )
