"""Fixtures of the browser tests: the portal served over HTTP, driven by Debian's chromium.

Every test under tests/browser gets the `browser` marker (`pytest -m "not browser"` leaves
them out). Without /usr/bin/chromium they are skipped, unless PORTAL_REQUIRE_BROWSER=1,
which makes a missing browser an error (CI sets it, so that they cannot be skipped there).

Each pytest process (each pytest-xdist worker) serves the demo data once, from the first
browser test it runs to its end, on a database of its own: an SQLite file of its run
folder, or, when TEST_DATABASE_URL names PostgreSQL, the worker's database name followed
by `_browser` (created on first use, emptied at the end). The unit tests never see it, so
the browser tests can run on every worker, between the others (`--dist loadgroup` sends
each module to one worker; each part of the walk of tests/browser/test_every_page.py is a
group of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from portal import create_app
from portal.cli import (
    DEMO_PASSWORD,
    seed_demo,
    seed_demo_alerts,
    seed_demo_dossiers,
    seed_demo_list,
    seed_demo_quality,
    seed_demo_subcontracting,
)
from portal.extensions import db
from portal.signalements.demo import seed_demo_certifiers
from tests.support.apps import RunConfig
from tests.support.run import DATABASE_URL, RUN_DIR, ensure_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The browser in French, as our users': date fields read « jj/mm/aaaa » (Chromium takes its
# language from the environment, its French from Debian's chromium-l10n package).
CHROMIUM_ENV = {**os.environ, "LANGUAGE": "fr_FR:fr", "LANG": "fr_FR.UTF-8"}
EXPECT_TIMEOUT_MS = 10_000
BROWSER_DIR = Path(__file__).resolve().parent
# axe-core, a development dependency in package.json (`npm ci`, run by `make setup`).
AXE_SCRIPT = BROWSER_DIR.parents[1] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Runs axe on every page once loaded, on the whole page, and again after each htmx swap, on
# what the swap changed (the elements htmx settles, the out-of-band ones too; the whole page
# again if one of them has left it meanwhile); each result goes to Python through the
# `__portalAxeReport` binding. `window.__portalAxe` is the last run. One run at a time (axe
# cannot run twice at once), and at most one waiting: it checks every change made before
# it starts (swaps in a row, faster than axe, give one run, not one each).
AXE_RUNNER = """
(() => {
  if (window.top !== window) return;
  const tags = __TAGS__;
  const changed = new Set();
  let wholePage = false;
  let waiting = false;
  const run = () => {
    if (!window.axe || document.contentType !== "text/html") return null;
    const parts = [...changed];
    const context = wholePage || parts.some((e) => !e.isConnected) ? document : { include: parts };
    changed.clear();
    wholePage = false;
    return window.axe
      .run(context, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] })
      .then((result) => window.__portalAxeReport({
        url: location.pathname + location.search,
        violations: result.violations.map((v) => ({
          id: v.id,
          help: v.help,
          nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: " + n.html.slice(0, 160)),
        })),
      }))
      .catch(() => null);
  };
  const queue = () => {
    if (waiting) return;
    waiting = true;
    window.__portalAxe = Promise.resolve(window.__portalAxe).then(() => {
      waiting = false;
      return run();
    });
  };
  window.addEventListener("load", () => {
    wholePage = true;
    queue();
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target instanceof Element) changed.add(event.target);
    else wholePage = true;
    queue();
  });
})();
""".replace("__TAGS__", json.dumps(AXE_TAGS))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects on markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of this folder `browser`, and put them first, the parts of the walk
    of every page before the others: the longest pieces of work are then handed out to
    the pytest-xdist workers first, and the shorter ones fill in the end (`make test` turns
    off xdist's own order, by number of tests, in tests/conftest.py)."""
    in_folder: dict[Path, bool] = {}
    for item in items:
        path = Path(item.path)
        if path not in in_folder:
            in_folder[path] = BROWSER_DIR in path.resolve().parents
        if in_folder[path]:
            item.add_marker(pytest.mark.browser)

    def rank(item: pytest.Item) -> int:
        if not in_folder[Path(item.path)]:
            return 2
        return 0 if Path(item.path).name == "test_every_page.py" else 1

    items.sort(key=rank)  # stable: each module keeps its order


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PORTAL_REQUIRE_BROWSER=1: the browser tests must run)", False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _browser_unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    return CHROMIUM


def _browser_database_url(run_dir: Path) -> str:
    parsed = make_url(DATABASE_URL)
    if parsed.get_backend_name() != "postgresql":
        return f"sqlite:///{run_dir / 'browser.db'}"
    url = parsed.set(database=f"{parsed.database}_browser").render_as_string(hide_password=False)
    ensure_database(url)
    return url


@pytest.fixture(scope="session")
def live_server(chromium_path: str) -> Iterator[str]:
    """The portal with the demo data, served on 127.0.0.1; yields its base URL."""
    run_dir = Path(tempfile.mkdtemp(prefix="portal-browser-", dir=RUN_DIR))
    url = _browser_database_url(run_dir)
    config = type(
        "BrowserConfig",
        (RunConfig,),
        {"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(run_dir / "files")},
    )
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo(DEMO_PASSWORD)
        db.session.commit()
        seed_demo_list()
        seed_demo_dossiers()
        seed_demo_alerts()
        db.session.commit()
        seed_demo_subcontracting()
        db.session.commit()
        seed_demo_certifiers()
        db.session.commit()
        seed_demo_quality()
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="portal-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright(chromium_path: str) -> Iterator[Playwright]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    try:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, env=CHROMIUM_ENV
        )
    except Exception as error:  # a broken install is as bad as a missing one
        _browser_unavailable(f"{chromium_path} does not start: {error}")
    yield browser
    browser.close()


class AxeViolations(list):
    """WCAG 2.1 AA violations found by axe-core on the pages a browser context shows."""

    def watch(self, context: BrowserContext) -> None:
        if not AXE_SCRIPT.is_file():
            pytest.fail(f"{AXE_SCRIPT} is missing: run `npm ci` (or `make setup`)", False)
        context.add_init_script(path=str(AXE_SCRIPT))
        context.add_init_script(AXE_RUNNER)
        context.expose_binding("__portalAxeReport", lambda _source, report: self.record(report))

    def record(self, report: dict) -> None:
        for violation in report["violations"]:
            self.append(
                f"{report['url']}: {violation['id']} ({violation['help']}) {violation['nodes']}"
            )

    def flush(self, context: BrowserContext) -> None:
        """Wait for the runs still going on the open pages."""
        for page in context.pages:
            # A closed or crashed page has nothing more to say.
            with contextlib.suppress(Exception):
                page.evaluate("() => window.__portalAxe || null")


class ServerErrors(list):
    """Responses of the portal with a 5xx status, seen by a browser context."""

    def watch(self, context: BrowserContext) -> None:
        context.on(
            "response",
            lambda response: (
                self.append(f"{response.status} {response.request.method} {response.url}")
                if response.status >= 500
                else None
            ),
        )


@pytest.fixture
def new_context(browser: Browser, live_server: str) -> Iterator:
    """`new_context(**options)`: a fresh browser context on the live server (closed after)."""
    contexts: list[BrowserContext] = []
    errors = ServerErrors()
    violations = AxeViolations()

    def _new_context(**options) -> BrowserContext:
        context = browser.new_context(base_url=live_server, locale="fr-FR", **options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        errors.watch(context)
        if options.get("java_script_enabled", True):
            violations.watch(context)
        contexts.append(context)
        return context

    yield _new_context
    for context in contexts:
        violations.flush(context)
        context.close()
    assert not errors, f"the server answered with errors: {errors}"
    unique = list(dict.fromkeys(violations))
    assert not unique, "axe-core found WCAG 2.1 AA violations:\n" + "\n".join(unique)


@pytest.fixture
def context(new_context) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
