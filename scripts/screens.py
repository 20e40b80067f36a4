"""Screenshots of the portal at 1366 × 768, into docs/screens/ (shown in the README).

    .venv/bin/python scripts/screens.py [--out docs/screens] [--base-url URL] [--full-page]
        [--only NAME ...] [--shot ROLE:PATH:NAME ...]

Without --base-url it builds the demo (`flask demo seed`) in a fresh SQLite file of a
temporary folder, serves it on 127.0.0.1 and shoots it there, so that the pictures can be
made again on any clone; with --base-url it shoots a portal already running with the demo
accounts. Drives Debian's /usr/bin/chromium through Playwright. --shot adds a picture of
any page: `--shot controleur:/service-fait/?statut=a_controler:file-filtree`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}
ACCOUNTS = {
    "admin": "admin@demo.test",
    "admin-financeur": "admin-financeur@demo.test",
    "controleur": "controleur@demo.test",
    "organisme": "organisme@demo.test",
    "ministere": "ministere@demo.test",
}
# name, role, path: the pictures of the README.
SHOTS = [
    ("accueil-admin", "admin", "/"),
    ("accueil-admin-financeur", "admin-financeur", "/"),
    ("accueil-controleur", "controleur", "/"),
    ("accueil-organisme", "organisme", "/"),
    ("accueil-ministere", "ministere", "/"),
    ("file-des-controles", "controleur", "/service-fait/"),
    ("page-de-controle", "controleur", "/service-fait/dossiers/1"),
    ("grille-qualite", "controleur", "/qualite/controles/1"),
    ("organisme-360", "controleur", "/organismes/1"),
]


def serve_demo() -> tuple[str, callable]:
    """Build the demo in a temporary folder and serve it; return its URL and a stopper."""
    from werkzeug.serving import make_server

    from portal import create_app
    from portal.config import Config

    folder = Path(tempfile.mkdtemp(prefix="portal-screens-"))
    config = type(
        "ScreensConfig",
        (Config,),
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'portal.db'}",
            "STORAGE_DIR": str(folder / "files"),
            "MAIL_BACKEND": "locmem",
            "SECRET_KEY": "screens",
            "AUDIT_KEY": "screens",
        },
    )
    app = create_app(config)
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "seed"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} : {result.output}")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)

    return f"http://127.0.0.1:{server.server_port}", stop


def shoot(base_url: str, shots: list[tuple[str, str, str]], out: Path, full_page: bool) -> None:
    from playwright.sync_api import sync_playwright

    from portal.cli import DEMO_PASSWORD

    password = os.environ.get("DEMO_PASSWORD") or DEMO_PASSWORD
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--lang=fr-FR"],
            # French date fields (« jj/mm/aaaa »): the language comes from the environment,
            # the translation from Debian's chromium-l10n package.
            env={**os.environ, "LANGUAGE": "fr_FR:fr", "LANG": "fr_FR.UTF-8"},
        )
        pages = {}
        for name, role, path in shots:
            if role not in pages:
                context = browser.new_context(
                    base_url=base_url, viewport=VIEWPORT, locale="fr-FR", timezone_id="Europe/Paris"
                )
                page = context.new_page()
                page.goto("/login")
                page.get_by_label("Adresse électronique").fill(ACCOUNTS[role])
                page.get_by_label("Mot de passe").fill(password)
                page.get_by_role("button", name="Se connecter").click()
                page.wait_for_url(f"{base_url}/")
                pages[role] = page
            page = pages[role]
            page.goto(path)
            page.wait_for_load_state("networkidle")
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=full_page)
            width = page.evaluate("document.documentElement.scrollWidth")
            height = page.evaluate("document.documentElement.scrollHeight")
            print(
                f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                f" : {role} {path} ({width} × {height} px)"
            )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screens")
    parser.add_argument("--base-url")
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--only", nargs="*", help="names of the README's pictures to make")
    parser.add_argument("--shot", action="append", default=[], help="ROLE:PATH:NAME")
    args = parser.parse_args()

    shots = [s for s in SHOTS if not args.only or s[0] in args.only] if not args.shot else []
    for spec in args.shot:
        role, path, name = spec.split(":", 2)
        shots.append((name, role, path))
    if args.base_url:
        shoot(args.base_url, shots, args.out, args.full_page)
        return
    base_url, stop = serve_demo()
    try:
        shoot(base_url, shots, args.out, args.full_page)
    finally:
        stop()


if __name__ == "__main__":
    main()
