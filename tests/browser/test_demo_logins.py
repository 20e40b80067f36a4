"""The demo accounts in a real browser: login, home page, menu, logout, CSP, HTMX."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from portal.cli import DEMO_FUNDER, DEMO_PASSWORD, DEMO_PROVIDERS
from portal.navigation import SECTIONS

pytestmark = pytest.mark.browser

DEMO_PROVIDER = DEMO_PROVIDERS[0][2]
ALL_MENU_LABELS = {label for s in SECTIONS for label in (s.label, *s.labels_by_role.values())}

# email, name, <h1>, the menu they see (the other sections' labels must not show).
ACCOUNTS = [
    (
        "admin@demo.test",
        "Alice Admin",
        "Administration de la plateforme",
        ["Vérifier Qualiopi", "Administration"],
    ),
    (
        "admin-financeur@demo.test",
        "Fabien Financeur",
        DEMO_FUNDER,
        [
            "Dossiers",
            "Service fait",
            "Vérifier Qualiopi",
            "Sous-traitance",
            "Contrôles qualité",
            "Certification",
            "Signalements",
            "Administration",
        ],
    ),
    (
        "controleur@demo.test",
        "Claire Contrôle",
        DEMO_FUNDER,
        [
            "Dossiers",
            "Service fait",
            "Vérifier Qualiopi",
            "Sous-traitance",
            "Contrôles qualité",
            "Certification",
            "Signalements",
        ],
    ),
    (
        "organisme@demo.test",
        "Olivier Organisme",
        DEMO_PROVIDER,
        ["Mes dossiers", "Ma sous-traitance", "Mes contrôles qualité", "Ma certification"],
    ),
    (
        "ministere@demo.test",
        "Marie Ministère",
        "Correspondant ministériel — Occitanie",
        ["Vérifier Qualiopi", "Signalements"],
    ),
]

CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const report = {
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    page: location.pathname,
  };
  window.__cspViolations.push(report);
  // The binding answers once Python has the report: awaiting window.__cspReported waits for it.
  if (window.__reportCspViolation) window.__cspReported = window.__reportCspViolation(report);
});
"""


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Fill and send the login form of the page, which must be /login."""
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def main_navigation(page: Page):
    return page.get_by_role("navigation", name="Navigation principale")


@pytest.mark.parametrize(
    ("email", "name", "heading", "menu"), ACCOUNTS, ids=[a[0].split("@")[0] for a in ACCOUNTS]
)
def test_demo_account_logs_in_to_its_home_page_and_out(
    page: Page, live_server: str, email: str, name: str, heading: str, menu: list[str]
) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")

    log_in(page, email)

    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("#messages")).to_contain_text(f"Bonjour {name}.")
    expect(page.locator(".role-line")).to_contain_text(email)
    navigation = main_navigation(page)
    for label in menu:
        expect(navigation.get_by_role("link", name=label, exact=True)).to_be_visible()
    for label in sorted(ALL_MENU_LABELS - set(menu)):
        expect(navigation.get_by_role("link", name=label, exact=True)).to_have_count(0)
    tools = page.get_by_role("navigation", name="Outils du compte")
    expect(tools.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(tools.get_by_role("link", name=re.compile("^Nouveautés"))).to_be_visible()

    page.get_by_role("button", name="Se déconnecter").click()

    expect(page).to_have_url(f"{live_server}/login")
    expect(page.locator("#messages")).to_contain_text("Vous êtes déconnecté.")
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    # The session is over on the server too: the home page asks to log in again.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login(\?|$)"))


def test_no_csp_violation_on_login_home_and_htmx(page: Page, live_server: str) -> None:
    console: list[str] = []
    page_errors: list[str] = []
    reported: list[dict] = []
    documents: list[Response] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            documents.append(response) if response.request.resource_type == "document" else None
        ),
    )
    page.expose_function("__reportCspViolation", lambda report: reported.append(report))
    page.add_init_script(CSP_PROBE)

    def violations_on_this_page() -> list:
        return page.evaluate("window.__cspViolations")

    page.goto("/login")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"
    assert violations_on_this_page() == []

    log_in(page, "admin-financeur@demo.test")
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("h1")).to_have_text(DEMO_FUNDER)
    page.wait_for_load_state("load")  # htmx is a deferred script
    assert page.evaluate("typeof htmx") == "object"
    assert violations_on_this_page() == []

    page.goto("/admin/utilisateurs")
    with page.expect_response(
        lambda r: "/admin/utilisateurs?" in r.url and r.request.headers.get("hx-request") == "true"
    ) as htmx_response:
        page.get_by_label("Rechercher", exact=True).fill("claire")
    assert htmx_response.value.ok
    expect(page.locator("#results")).not_to_contain_text("Olivier Organisme")
    expect(page.locator("#results")).to_contain_text("Claire Contrôle")
    assert violations_on_this_page() == []

    csp_console = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert csp_console == [], csp_console
    assert reported == []
    assert page_errors == []

    pages = [r for r in documents if r.status == 200]
    assert {urlsplit(r.url).path for r in pages} == {"/login", "/", "/admin/utilisateurs"}
    for response in pages:
        csp = response.all_headers().get("content-security-policy", "")
        assert "script-src 'self'" in csp, (response.url, csp)
        assert "'unsafe-eval'" not in csp, (response.url, csp)
        assert "'unsafe-inline'" not in csp, (response.url, csp)

    # The probes themselves work: an inline script is refused, reported, and logged.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__inline = 1'; document.head.appendChild(s); }"
        )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert violations_on_this_page()[0]["directive"].startswith("script-src")
    page.evaluate("window.__cspReported")
    assert len(reported) == 1


def test_wrong_password_is_refused_and_the_email_kept(page: Page, live_server: str) -> None:
    page.goto("/login")
    log_in(page, "controleur@demo.test", "pas-le-bon-mot-de-passe")

    expect(page.get_by_text("Adresse électronique ou mot de passe incorrect.")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_label("Adresse électronique")).to_have_value("controleur@demo.test")
    expect(page.get_by_label("Mot de passe")).to_have_value("")
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)


def test_user_search_updates_the_results_with_htmx(page: Page, live_server: str) -> None:
    page.goto("/login")
    log_in(page, "admin-financeur@demo.test")
    expect(page).to_have_url(f"{live_server}/")
    page.goto("/admin/utilisateurs")
    results = page.locator("#results")
    expect(results).to_contain_text("Claire Contrôle")
    expect(results).to_contain_text("Olivier Organisme")
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    page.evaluate("window.__sameDocument = 'oui'")

    with page.expect_request(
        lambda r: "/admin/utilisateurs?" in r.url and r.headers.get("hx-request") == "true"
    ):
        page.get_by_label("Rechercher", exact=True).fill("claire")

    expect(results).not_to_contain_text("Olivier Organisme")
    expect(results).to_contain_text("Claire Contrôle")
    expect(page).to_have_url(re.compile(r"/admin/utilisateurs\?(.*&)?q=claire(&|$)"))
    assert page.evaluate("window.__sameDocument") == "oui", "the whole page was reloaded"
    assert loads == []
    expect(page.locator("#results")).to_have_count(1)  # swapped, not nested
    expect(page.get_by_role("heading", level=1)).to_have_text("Comptes")


def test_user_search_works_without_javascript(new_context, live_server: str) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/login")
    log_in(page, "admin-financeur@demo.test")
    expect(page).to_have_url(f"{live_server}/")
    page.goto("/admin/utilisateurs")
    expect(page.locator("#results")).to_contain_text("Olivier Organisme")

    page.get_by_label("Rechercher", exact=True).fill("claire")
    page.get_by_role("button", name="Filtrer").click()

    expect(page).to_have_url(re.compile(r"/admin/utilisateurs\?(.*&)?q=claire(&|$)"))
    expect(page.locator("#results")).to_contain_text("Claire Contrôle")
    expect(page.locator("#results")).not_to_contain_text("Olivier Organisme")
    expect(page.get_by_role("heading", level=1)).to_have_text("Comptes")


def test_anonymous_visitor_is_sent_to_the_login_page(page: Page, live_server: str) -> None:
    page.goto("/dossiers/")

    expect(page).to_have_url(re.compile(r"/login\?"))
    assert path_of(page) == "/login"
    assert parse_qs(urlsplit(page.url).query).get("next") == ["/dossiers/"]
    expect(page.locator("#messages")).to_contain_text("Veuillez vous connecter")

    # Once logged in, the visitor is taken where they were going.
    log_in(page, "controleur@demo.test")
    expect(page).to_have_url(f"{live_server}/dossiers/")
