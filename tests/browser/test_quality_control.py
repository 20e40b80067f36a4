"""A quality control in a real browser, with the demo accounts: the controller plans a
control of the demo OF, fills the grid row by row (HTMX; the major-only rule refused
inline), records a minor non-conformity with a file as evidence, issues the report; the OF
answers with its action plan and a proof; the controller lifts the non-conformity and the
control is closed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from portal import clock
from portal.cli import DEMO_PROVIDERS, demo_pdf
from portal.quality.rules import Finding, nc_deadline
from tests.browser.dialogs import confirm_in_dialog
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import watch_console

pytestmark = pytest.mark.browser

_NDA, _SIRET, OF_NAME = DEMO_PROVIDERS[0]
OBSERVATION = "Les résultats publiés ne disent pas le nombre de répondants aux enquêtes."
PLAN = "Nous publions désormais le nombre de répondants à côté de chaque taux, depuis ce mois."


def open_row(page: Page, code: str):
    """The grid's line of an indicator, opened (each line opens in place to edit)."""
    row = page.locator(f"#indicateur-{code}")
    if row.locator("details").first.get_attribute("open") is None:
        row.locator("summary").first.click()
    return row


def save_row(page: Page, code: str, finding: str) -> None:
    row = open_row(page, code)
    row.locator(f"#ind{code}-finding").select_option(finding)
    row.locator(f"#ind{code}-enregistrer").click()
    expect(page.locator(f"#indicateur-{code} [role=status]")).to_contain_text("constat enregistré")


def test_a_control_from_planning_to_the_lifting_of_a_nonconformity(new_context, tmp_path):
    control_day = clock.today() - timedelta(days=7)
    deadline = nc_deadline(control_day, Finding.MINOR)

    # --- The controller plans the control. ------------------------------------------------
    controller = new_context().new_page()
    problems = watch_console(controller)
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    controller.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Contrôles qualité"
    ).click()
    controller.get_by_role("button", name="Planifier un contrôle").click()
    expect(controller.get_by_role("heading", level=1)).to_have_text("Planifier un contrôle qualité")
    controller.wait_for_load_state("load")
    option = controller.locator("#provider option", has_text=OF_NAME).first.inner_text()
    controller.get_by_label("Organisme contrôlé").select_option(label=option.strip())
    controller.get_by_role("radio", name="À distance").check()
    # The OF's dossiers of the funder come with the OF chosen (HTMX): sample one.
    controller.get_by_role("checkbox", name=re.compile("^DEMO-PTP-0001 ")).check()
    controller.get_by_label("Date du contrôle").fill(control_day.isoformat())
    controller.get_by_label("Périmètre : actions contrôlées").fill("Anglais professionnel")
    controller.get_by_label("Participants").fill("Claire Contrôle ; la directrice de l'OF")
    controller.get_by_role("button", name="Planifier le contrôle").click()
    expect(controller.get_by_role("heading", level=1)).to_have_text(
        f"Contrôle qualité de {OF_NAME} du {control_day:%d/%m/%Y}"
    )
    controller.wait_for_load_state("load")  # htmx is deferred
    # Only the indicators that apply: no certifying action, no apprenticeship.
    expect(controller.locator("main")).to_contain_text("DEMO-PTP-0001")
    expect(controller.locator("#indicateur-3")).to_have_count(0)
    expect(controller.locator("#indicateur-13")).to_have_count(0)
    codes = [
        element.get_attribute("id").removeprefix("indicateur-")
        for element in controller.locator("article[id^=indicateur-]").all()
    ]
    assert len(codes) == 22 and "12" in codes

    # Indicator 4 can only give a major non-conformity: a minor is refused, inline.
    save_url = re.compile(r"/indicateurs/4$")
    open_row(controller, "4")
    with controller.expect_response(save_url):
        controller.locator("#ind4-finding").select_option(Finding.MINOR.value)
        controller.locator("#ind4-enregistrer").click()
    expect(controller.locator("#indicateur-4")).to_contain_text(
        "ne peut donner qu'une non-conformité majeure"
    )
    expect(controller).to_have_url(re.compile(r"/qualite/controles/\d+$"))  # no reload

    # Indicator 2: a minor non-conformity, with its observation and a file as evidence.
    row = open_row(controller, "2")
    row.locator("#ind2-observations").fill(OBSERVATION)
    save_row(controller, "2", Finding.MINOR.value)
    expect(controller.locator("#indicateur-2")).to_contain_text(
        f"Échéance de l'action corrective : {deadline:%d/%m/%Y}"
    )
    evidence = tmp_path / "captures-site-resultats.pdf"
    evidence.write_bytes(demo_pdf("Captures du site"))
    open_row(controller, "2")
    controller.locator("#ev2-files").set_input_files(str(evidence))
    controller.locator("#ev2-joindre").click()
    expect(controller.locator("#indicateur-2 .qc-evidence")).to_contain_text(
        "captures-site-resultats.pdf"
    )

    # Every other indicator conforms; the result and the report button follow (HTMX).
    for code in codes:
        if code != "2":
            save_row(controller, code, Finding.CONFORMING.value)
    result = controller.locator("#resultat")
    expect(result).to_contain_text("Non-conformités mineures : 1")
    controller.get_by_role("button", name="Émettre le rapport").click()
    confirm_in_dialog(controller)
    expect(controller.locator("main")).to_contain_text("Rapport émis")
    expect(controller.locator(".nonconformity")).to_have_count(1)
    control_url = controller.url.split("#")[0]

    # --- The OF answers in its space with its action plan and a proof. ----------------------
    provider = new_context().new_page()
    provider_problems = watch_console(provider)
    provider.goto("/login")
    log_in(provider, "organisme@demo.test")
    provider.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mes contrôles qualité"
    ).click()
    expect(provider.get_by_role("heading", level=1)).to_have_text("Mes contrôles qualité")
    provider.wait_for_load_state("load")
    article = provider.locator("article", has_text=f"Contrôle du {control_day:%d/%m/%Y}").filter(
        has_text="À distance"
    )
    expect(article).to_contain_text(OBSERVATION)
    expect(article).to_contain_text(f"{deadline:%d/%m/%Y}")
    article.get_by_label("Votre plan d'action").fill(PLAN)
    proof = tmp_path / "page-resultats-corrigee.pdf"
    proof.write_bytes(demo_pdf("Page corrigée"))
    article.get_by_label("Preuves (facultatif)").set_input_files(str(proof))
    article.get_by_role("button", name="Envoyer ma réponse").click()
    expect(article).to_contain_text("Votre réponse est en cours d'examen")
    expect(article).to_contain_text("page-resultats-corrigee.pdf")

    # --- The controller lifts the non-conformity: the control is closed. -----------------
    controller.goto(control_url)
    controller.wait_for_load_state("load")
    nc = controller.locator(".nonconformity")
    expect(nc).to_contain_text(PLAN)
    expect(nc).to_contain_text("Réponse de l'organisme à examiner")
    nc.get_by_label(re.compile("^Commentaire")).fill("Vérifié sur le site : corrigé.")
    nc.get_by_role("button", name="Lever la non-conformité").click()
    expect(controller.locator(".nonconformity")).to_contain_text("Levée")
    controller.reload()
    expect(controller.locator("main")).to_contain_text("Clos")
    expect(controller.locator("#resultat")).to_contain_text("Non-conformités non levées : 0")

    assert problems == [] and provider_problems == []
