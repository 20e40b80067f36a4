"""A signalement in a real browser, with the demo accounts: the controller drafts it from
the OF's Qualiopi page (the checklist follows the typing), sends it; the demo liaison
(Occitanie) takes it in charge and asks for more; the controller answers with a file; the
liaison forwards it to a certifier and downloads the transmission pack."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from portal.cli import DEMO_PROVIDERS, demo_pdf
from portal.packs import read_manifest
from tests.browser.dialogs import confirm_in_dialog
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import watch_console

pytestmark = pytest.mark.browser

NDA, _SIRET, OF_NAME = DEMO_PROVIDERS[0]
REFERENCE = "DEMO-PTP-0001"
FACTS = (
    "Lors de la visite du 12 du mois, la formatrice était absente : les stagiaires "
    "travaillaient seuls sur des exercices, alors que l'émargement indique une séance."
)


def state_line(page: Page):
    return page.locator(".role-line .sig-state")


def test_the_controller_sends_the_liaison_asks_for_more_and_forwards(new_context, tmp_path):
    # --- The controller drafts the signalement from the OF's Qualiopi page. ---------------
    controller = new_context().new_page()
    problems = watch_console(controller)
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    controller.goto(f"/qualiopi/organismes/{NDA}")
    controller.get_by_role("button", name="Signaler cet organisme au ministère").click()
    expect(controller.get_by_role("heading", level=1)).to_have_text("Nouveau signalement")
    expect(controller.get_by_label("Organisme de formation signalé")).to_have_value(NDA)
    controller.get_by_label(re.compile(rf"Dossier {REFERENCE} ")).check()
    controller.get_by_role("button", name="Commencer le signalement").click()
    expect(controller.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"^Brouillon SIG-\d{{5}} — {re.escape(OF_NAME)}$")
    )
    reference = controller.get_by_role("heading", level=1).inner_text().split()[1]
    controller.wait_for_load_state("load")  # htmx is deferred
    checklist = controller.locator("#etayage")
    expect(checklist).to_contain_text("Les faits : décrivez ce qui a été constaté")

    # The checklist follows the typing (HTMX), field by field.
    controller.get_by_label("Ce qui a été constaté").fill(FACTS)
    controller.get_by_label("Quand").fill("le 12 du mois dernier, de 9 h à 12 h")
    expect(checklist).not_to_contain_text("Les faits : décrivez")
    expect(checklist).to_contain_text("Indicateurs : choisissez au moins un indicateur")
    controller.locator("summary", has_text="Critère 3 —").click()
    controller.get_by_label(re.compile(r"Indicateur 10 — adaptation de la prestation")).check()
    controller.locator("summary", has_text="Critère 4 —").click()
    controller.get_by_label(re.compile(r"Indicateur 17 — moyens humains et techniques")).check()
    expect(checklist).to_contain_text("Indicateurs 10 et 17.")
    expect(checklist).to_contain_text("Preuves : joignez au moins un élément")
    # Evidence: a piece of the dossier.
    evidence = controller.locator("#candidates")
    evidence.get_by_label(re.compile(r"Pièce : Feuille d'émargement")).first.check()
    expect(checklist).to_contain_text("Signalement étayé")
    controller.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(controller.locator("#messages")).to_contain_text("il est étayé et peut être transmis")
    expect(state_line(controller)).to_have_text("Brouillon")
    signalement_path = re.sub(r"^https?://[^/]+", "", controller.url)
    controller.get_by_role("button", name="Transmettre au ministère").click()
    confirm_in_dialog(controller)
    expect(controller.locator("#messages")).to_contain_text(f"{reference} transmis au ministère")
    expect(state_line(controller)).to_have_text("Transmis au ministère")

    # --- The liaison takes it in charge and asks for more. --------------------------------
    liaison = new_context().new_page()
    problems += watch_console(liaison)
    liaison.goto("/login")
    log_in(liaison, "ministere@demo.test")
    liaison.goto("/signalements/")
    expect(liaison.get_by_role("heading", level=1)).to_have_text("Signalements reçus — Occitanie")
    liaison.get_by_role("link", name=reference).click()
    expect(liaison.get_by_role("heading", level=1)).to_have_text(
        f"Signalement {reference} — {OF_NAME}"
    )
    liaison.get_by_role("button", name="Prendre en charge").click()
    expect(state_line(liaison)).to_have_text("En examen")
    liaison.locator("summary", has_text="Demander un complément au financeur").click()
    question = "Pouvez-vous joindre la feuille d'émargement de la séance du 12 ?"
    liaison.get_by_label("Votre demande au financeur").fill(question)
    liaison.get_by_role("button", name="Demander un complément au financeur").click()
    expect(state_line(liaison)).to_have_text("Complément demandé")
    expect(liaison.locator("#fil")).to_contain_text(question)

    # --- The controller answers, with a file. ---------------------------------------------
    controller.goto("/signalements/notifications")
    controller.get_by_role("link", name=re.compile(rf"^{reference} .*complément")).first.click()
    expect(controller).to_have_url(re.compile(re.escape(signalement_path) + "$"))
    expect(
        controller.get_by_role("heading", name="Le ministère demande un complément")
    ).to_be_visible()
    expect(controller.get_by_text(question).first).to_be_visible()
    controller.get_by_label("Votre réponse au ministère").fill("La voici, signée d'avance.")
    sheet = tmp_path / "emargement-12.pdf"
    sheet.write_bytes(demo_pdf("Emargement du 12"))
    controller.set_input_files("#repondre-fichiers", str(sheet))
    controller.get_by_role("button", name="Envoyer la réponse").click()
    expect(state_line(controller)).to_have_text("En examen")
    expect(controller.locator("#fil")).to_contain_text("emargement-12.pdf")

    # --- The liaison gets it and forwards it to a certifier. ------------------------------
    liaison.reload()
    expect(liaison.locator("#fil")).to_contain_text("La voici, signée d'avance.")
    liaison.locator("summary", has_text="Transmettre au certificateur").click()
    liaison.get_by_label("… ou son nom, s'il n'est pas dans la liste").fill("Certif'Région")
    liaison.get_by_label("Référence de la transmission").fill("DREETS-OCC-2026-007")
    liaison.get_by_role("button", name="Transmettre au certificateur").click()
    confirm_in_dialog(liaison)
    expect(state_line(liaison)).to_have_text("Transmis au certificateur")
    expect(liaison.locator("#issue-titre + p")).to_contain_text("Certif'Région")
    expect(liaison.locator("#issue-titre + p")).to_contain_text("DREETS-OCC-2026-007")
    with liaison.expect_download() as download:
        liaison.get_by_role("link", name="Télécharger le dossier de transmission").click()
    assert download.value.suggested_filename == f"{reference}-dossier-de-transmission.zip"
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    manifest = read_manifest(archive)
    assert "resume.html" in manifest
    assert any(path.endswith("emargement-12.pdf") for path in manifest)
    for path, (sha256, _size) in manifest.items():
        assert hashlib.sha256(archive.read(path)).hexdigest() == sha256

    # The controller sees the outcome.
    controller.reload()
    expect(controller.locator("#issue-titre + p")).to_contain_text(
        "Transmis au certificateur : à Certif'Région"
    )
    assert problems == []
