"""Subcontracting in a real browser: the demo OF declares a contract (the subcontractor
looked up as it is typed, the signed contract uploaded), sees what is missing, and the demo
controller sees its compliance; the CPF turnover typed without JavaScript moves the gauge."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portal import clock
from portal.cli import demo_pdf
from portal.models import CONTRACT_MENTIONS
from portal.subcontracting.fields import FIELD_LABELS
from tests.browser.test_demo_logins import log_in
from tests.browser.test_pieces_upload import watch_console

pytestmark = pytest.mark.browser

SUBCONTRACTOR = "Institut Méditerranée Formation (démo)"  # certified in the demo list


def open_space(page: Page) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Ma sous-traitance"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ma sous-traitance")


def test_the_demo_of_declares_a_contract_and_the_controller_sees_its_compliance(
    new_context, tmp_path: Path
) -> None:
    page = new_context().new_page()
    problems = watch_console(page)
    page.goto("/login")
    log_in(page, "organisme@demo.test")
    open_space(page)
    # The demo contracts and the gauge, drawn and written.
    expect(
        page.get_by_role("img", name=re.compile(r"Plafond de sous-traitance CPF \d{4}"))
    ).to_be_visible()
    expect(
        page.get_by_text("Le contrat ne mentionne pas : la sanction de la formation.")
    ).to_be_visible()

    page.get_by_role("button", name="Déclarer un contrat").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Déclarer un contrat de sous-traitance"
    )
    page.wait_for_load_state("load")  # htmx is deferred

    # The subcontractor is looked up in the public list as it is typed.
    with page.expect_response(
        lambda r: (
            "/sous-traitance/sous-traitant?" in r.url
            and "76341112223" in r.url
            and r.request.headers.get("hx-request") == "true"
        )
    ):
        page.get_by_label(FIELD_LABELS["subcontractor_nda"]).fill("76341112223")
    check = page.locator("#subcontractor-check")
    expect(check).to_contain_text(SUBCONTRACTOR)
    expect(check).to_contain_text("Actions de formation : certifié")
    page.get_by_label(FIELD_LABELS["subcontractor_siret"]).fill("44455566800012")
    expect(check).to_contain_text("clé de contrôle")  # not a SIRET
    page.get_by_label(FIELD_LABELS["subcontractor_siret"]).fill("44455566800011")
    expect(check).not_to_contain_text("clé de contrôle")

    today = clock.today()
    page.get_by_label(FIELD_LABELS["actions"]).fill("Bureautique : les modules Excel avancé")
    page.get_by_label("Action de formation", exact=True).check()
    page.get_by_label(FIELD_LABELS["start_date"]).fill((today - timedelta(days=10)).isoformat())
    page.get_by_label(FIELD_LABELS["end_date"]).fill((today + timedelta(days=50)).isoformat())
    page.get_by_label(FIELD_LABELS["is_cpf"]).check()
    page.get_by_label(FIELD_LABELS["price"]).fill("4 500,00")
    signed = tmp_path / "contrat-excel-signe.pdf"
    signed.write_bytes(demo_pdf("Contrat de sous-traitance Excel"))
    page.get_by_label("Contrat signé", exact=True).set_input_files(str(signed))
    for name, _label in CONTRACT_MENTIONS:
        if name != "mentions_sanction":  # forgotten: the contract will say so
            page.get_by_label(FIELD_LABELS[name]).check()
    page.get_by_role("button", name="Déclarer le contrat").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Contrat avec {SUBCONTRACTOR}")
    expect(page.locator("#messages")).to_contain_text("enregistré")
    expect(page.locator("#conformite")).to_contain_text("Contrat non conforme")
    expect(
        page.get_by_text("Le contrat ne mentionne pas : la sanction de la formation.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="contrat-excel-signe.pdf")).to_be_visible()
    contract_path = re.sub(r"^https?://[^/]+", "", page.url)
    assert problems == []

    # The demo controller finds the OF among those to watch, and the contract's compliance.
    controller = new_context().new_page()
    controller.goto("/login")
    log_in(controller, "controleur@demo.test")
    controller.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Sous-traitance"
    ).click()
    expect(controller.get_by_role("heading", level=1)).to_have_text("Sous-traitance")
    results = controller.locator("#results")
    expect(results).to_contain_text("Organismes à surveiller")
    expect(results).to_contain_text("2 non conformes")
    results.get_by_role("link", name="Formapro Occitanie (démo)").click()
    expect(controller.get_by_role("heading", level=1)).to_have_text("Formapro Occitanie (démo)")
    card = controller.locator("article", has_text=f"Contrat avec {SUBCONTRACTOR}")
    expect(card).to_contain_text("Non conforme")
    expect(card).to_contain_text("Certifié Qualiopi pour « Actions de formation »")
    expect(card).to_contain_text("Le contrat ne mentionne pas : la sanction de la formation.")
    card.get_by_role("link", name=f"Contrat avec {SUBCONTRACTOR}").click()
    expect(controller).to_have_url(re.compile(re.escape(contract_path) + "$"))
    with controller.expect_download() as download:
        controller.get_by_role("link", name="contrat-excel-signe.pdf").click()
    assert download.value.suggested_filename == "contrat-excel-signe.pdf"
    expect(controller.get_by_role("link", name="Modifier le contrat")).to_have_count(0)


def test_the_cpf_turnover_typed_without_javascript_moves_the_gauge(new_context) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/login")
    log_in(page, "organisme@demo.test")
    page.goto("/sous-traitance/")
    page.get_by_role("button", name="Chiffre d'affaires CPF").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chiffre d'affaires CPF")
    year = clock.today().year
    page.get_by_label("Année civile").fill(str(year))
    page.get_by_label("Chiffre d'affaires CPF via Mon Compte Formation / EDOF (€)").fill("1 000")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ma sous-traitance")
    expect(page.locator("#messages")).to_contain_text(f"Chiffre d'affaires CPF {year} enregistré")
    # The demo's CPF contracts on 1,000 € of CPF turnover: far above the ceiling.
    expect(page.locator("figure", has_text=f"{year} : Plafond dépassé")).to_be_visible()
