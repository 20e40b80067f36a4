"""The portal's application factory."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import (
    audit,  # noqa: F401  (registers the append-only guard)
    cli,
    errors,
    formatting,
    lists,
    request_log,
    submissions,
    unit_of_work,
    views,
)
from portal.blueprints.admin import bp as admin_bp
from portal.blueprints.api import bp as api_bp
from portal.blueprints.api import spec as api_spec
from portal.blueprints.api.docs import bp as api_docs_bp
from portal.blueprints.auth import bp as auth_bp
from portal.blueprints.auth.sessions import init_login_manager
from portal.blueprints.certification import bp as certification_bp
from portal.blueprints.dossiers import bp as dossiers_bp
from portal.blueprints.notifications import bp as notifications_bp
from portal.blueprints.public_list import bp as public_list_bp
from portal.blueprints.quality import bp as quality_bp
from portal.blueprints.search import bp as search_bp
from portal.blueprints.service_fait import bp as service_fait_bp
from portal.blueprints.signalements import bp as signalements_bp
from portal.blueprints.subcontracting import bp as subcontracting_bp
from portal.config import Config, ProductionConfig
from portal.extensions import (
    csrf,
    db,
    htmx,
    limiter,
    login_manager,
    mail,
    migrate,
    talisman,
)
from portal.routing import DatabaseIdConverter
from portal.service_fait import runner  # noqa: F401  (subscribes the checks to the dossiers' signals)
from portal.webhooks import subscriptions  # noqa: F401  (subscribes the outbox to the dossiers' signals)

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class ConfigurationError(RuntimeError):
    pass


def create_app(config_class: type[Config] | None = None) -> Flask:
    if config_class is None:
        production = os.environ.get("PORTAL_ENV") == "production"
        config_class = ProductionConfig if production else Config
    app = Flask(__name__, instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or None)
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    app.config.from_object(config_class)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _complete_config(app)

    if app.config.get("PROXY_FIX"):
        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    production = app.config["PORTAL_ENV"] == "production"
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=production,
        strict_transport_security_max_age=31536000,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="strict-origin-when-cross-origin",
        x_content_type_options=True,
    )

    init_login_manager(login_manager)
    for blueprint in (
        views.bp,
        auth_bp,
        admin_bp,
        public_list_bp,
        dossiers_bp,
        service_fait_bp,
        signalements_bp,
        subcontracting_bp,
        quality_bp,
        certification_bp,
        search_bp,
        notifications_bp,
    ):
        app.register_blueprint(blueprint)
    # The JSON API through flask-smorest, which writes its OpenAPI document; its error
    # handler is replaced by portal.errors' (registered after).
    openapi = api_spec.PortalApi(app, spec_kwargs=api_spec.SPEC)
    api_spec.prepare(openapi)
    openapi.register_blueprint(api_bp)
    api_spec.complete(openapi)
    app.register_blueprint(api_docs_bp)
    csrf.exempt(api_bp)  # token-authenticated JSON API, never cookie-authenticated writes
    errors.init_app(app)
    formatting.init_app(app)
    cli.init_app(app)
    views.init_app(app)
    lists.init_app(app)
    unit_of_work.init_app(app)  # its after_request hook runs after the keys' (below)
    submissions.init_app(app)  # after CSRF and the unit of work: see portal.submissions

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    request_log.install()
    return app


def _complete_config(app: Flask) -> None:
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'portal.db'}"
    if not app.config.get("STORAGE_DIR"):
        app.config["STORAGE_DIR"] = str(instance / "files")
    Path(app.config["STORAGE_DIR"]).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        if app.config["PORTAL_ENV"] == "production":
            raise ConfigurationError(
                "SECRET_KEY doit être défini quand PORTAL_ENV=production "
                '(par exemple : python -c "import secrets; print(secrets.token_hex(32))").'
            )
        app.config["SECRET_KEY"] = _instance_secret_key(instance / "secret_key")
    if not app.config.get("AUDIT_KEY"):
        if app.config["PORTAL_ENV"] == "production":
            raise ConfigurationError(
                "AUDIT_KEY doit être défini quand PORTAL_ENV=production : c'est la clé qui "
                "scelle le journal d'audit, gardée hors de la base (par exemple : "
                'python -c "import secrets; print(secrets.token_hex(32))").'
            )
        app.config["AUDIT_KEY"] = _instance_secret_key(instance / "audit_key")
    if not app.config.get("AUDIT_SIGNING_KEY_FILE"):
        app.config["AUDIT_SIGNING_KEY_FILE"] = str(instance / "audit_signing_key.pem")
    if app.config["PORTAL_ENV"] == "production" and app.config.get("MAIL_BACKEND") == "console":
        raise ConfigurationError(
            "MAIL_BACKEND=console est refusé quand PORTAL_ENV=production : les courriels, et "
            "avec eux les liens d'invitation et de réinitialisation du mot de passe, seraient "
            "écrits dans le journal. Définissez MAIL_BACKEND=smtp et MAIL_SERVER, MAIL_PORT, "
            "MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER."
        )
    app.config.setdefault("PROXY_FIX", int(os.environ.get("PROXY_FIX", "0") or 0))


def _instance_secret_key(path: Path) -> str:
    """A key generated once per machine and kept in instance/, readable by its owner only."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the base (SQLite's documented advice): a commit
        # no longer waits for the disk (FULL synced the log at each one, ~4 ms here), and
        # only a power cut or a crash of the machine (not of the portal) may undo the
        # last commits before the next checkpoint. PostgreSQL is the choice for more.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA temp_store=MEMORY")  # sorts (index builds) stay in memory
        # Read through the OS page cache mapping, and keep more pages per connection: the
        # list pages of 100,000 dossiers read many index pages.
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()
