"""Security headers, error pages, configuration."""

from __future__ import annotations

import pytest

from portal import ConfigurationError, create_app
from portal.models import Role
from tests.support.apps import RunConfig


@pytest.mark.parametrize("path", ["/login", "/", "/page-inexistante", "/static/css/portal.css"])
def test_security_headers_on_every_response(client, path: str) -> None:
    response = client.get(path)
    response.close()
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # development


def test_hsts_and_secure_cookies_in_production(monkeypatch, tmp_path) -> None:
    from portal.config import ProductionConfig

    config = type(
        "Prod",
        (ProductionConfig,),
        {
            "SECRET_KEY": "x" * 64,
            "SQLALCHEMY_DATABASE_URI": RunConfig.SQLALCHEMY_DATABASE_URI,
            "PORTAL_ENV": "production",
            "PROXY_FIX": 1,
            "MAIL_BACKEND": "smtp",
            "AUDIT_KEY": "k" * 64,
        },
    )
    app = create_app(config)
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    assert "Secure" in response.headers["Set-Cookie"]


def test_production_requires_a_secret_key() -> None:
    from portal.config import ProductionConfig

    config = type("Prod", (ProductionConfig,), {"SECRET_KEY": None, "PORTAL_ENV": "production"})
    with pytest.raises(ConfigurationError, match="SECRET_KEY doit être défini"):
        create_app(config)


def test_production_requires_an_audit_key() -> None:
    from portal.config import ProductionConfig

    config = type(
        "Prod",
        (ProductionConfig,),
        {"SECRET_KEY": "x" * 64, "AUDIT_KEY": None, "PORTAL_ENV": "production"},
    )
    with pytest.raises(ConfigurationError, match="AUDIT_KEY doit être défini"):
        create_app(config)


def test_production_refuses_the_console_mail_backend() -> None:
    from portal.config import ProductionConfig

    config = type(
        "Prod",
        (ProductionConfig,),
        {
            "SECRET_KEY": "x" * 64,
            "AUDIT_KEY": "k" * 64,
            "PORTAL_ENV": "production",
            "MAIL_BACKEND": "console",
        },
    )
    with pytest.raises(ConfigurationError, match="MAIL_BACKEND=console est refusé"):
        create_app(config)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1 - - "GET /invitation/eyJ1IjoxfQ.Zx9-abc HTTP/1.1" 200 -',
            '127.0.0.1 - - "GET /invitation/*** HTTP/1.1" 200 -',
        ),
        (
            '"POST /mot-de-passe/nouveau/eyJ1IjoyfQ.Qw_1?x=1 HTTP/1.1" 303',
            '"POST /mot-de-passe/nouveau/***?x=1 HTTP/1.1" 303',
        ),
        ('"GET /mot-de-passe/oublie HTTP/1.1" 200', '"GET /mot-de-passe/oublie HTTP/1.1" 200'),
        ('"GET /dossiers/12 HTTP/1.1" 200', '"GET /dossiers/12 HTTP/1.1" 200'),
    ],
)
def test_request_log_masks_the_tokens_of_secret_links(app, caplog, line, expected) -> None:
    import logging

    with (
        caplog.at_level(logging.INFO, logger="werkzeug"),
        caplog.at_level(logging.INFO, logger="gunicorn.access"),
    ):
        logging.getLogger("werkzeug").info("%s", line)
        logging.getLogger("gunicorn.access").info(line)
    assert [record.getMessage() for record in caplog.records] == [expected, expected]


def test_development_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    config = type("Dev", (RunConfig,), {"SECRET_KEY": None, "PORTAL_ENV": "development"})
    first = create_app(config).config["SECRET_KEY"]
    second = create_app(config).config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_urls_use_psycopg_3() -> None:
    from portal.config import normalize_database_url

    assert normalize_database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_server_error_shows_an_incident_id_not_a_traceback(
    fresh_app, app, client, login_as, caplog
) -> None:
    assert app is fresh_app  # a route is added: not on the application of the whole run
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boum")
    def boom():
        raise RuntimeError("secret interne")

    response = client.get("/boum")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Numéro d'incident" in page
    assert "secret interne" not in page and "Traceback" not in page
    incident = page.split("<code>")[1].split("</code>")[0]
    assert incident in caplog.text


def test_not_found_page_is_french(client) -> None:
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_api_errors_are_json(client, login_as) -> None:
    response = client.get("/api/v1/nulle-part")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_base_page_configures_htmx_without_eval(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '"allowEval": false' in page
    assert '"historyCacheSize": 0' in page
    assert '"includeIndicatorStyles": false' in page
    assert "/static/vendor/htmx.min.js" in page
    assert "<script>" not in page  # no inline script
    assert 'aria-live="polite"' in page


@pytest.mark.parametrize(
    ("role", "heading", "present", "absent"),
    [
        (Role.ADMIN, "Administration de la plateforme", ["Administration"], ["Dossiers"]),
        (Role.CONTROLLER, None, ["Dossiers", "Service fait"], ["Administration"]),
        (Role.FUNDER_ADMIN, None, ["Dossiers", "Administration"], []),
        (
            Role.PROVIDER,
            None,
            ["Mes dossiers", "Ma sous-traitance", "Mes contrôles qualité", "Ma certification"],
            ["Signalements", "Contrôles qualité"],
        ),
        (
            Role.MINISTRY,
            "Correspondant ministériel",
            ["Signalements"],
            ["Dossiers", "Contrôles qualité", "Certification"],
        ),
    ],
)
def test_home_and_navigation_depend_on_the_role(client, login_as, role, heading, present, absent):
    user = login_as(role)
    page = client.get("/").get_data(as_text=True)
    nav = page.split('aria-label="Navigation principale"')[1].split("</nav>")[0]
    expected_heading = heading or (user.funder or user.provider).name
    assert f"<h1>{expected_heading}" in page
    for label in present:
        assert f">{label}</a>" in nav
    for label in absent:
        assert f">{label}</a>" not in nav
