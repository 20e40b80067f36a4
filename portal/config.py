"""Configuration read from the environment, with safe defaults for a laptop.

`create_app` picks `ProductionConfig` when `PORTAL_ENV=production`, `Config` otherwise.
Values that depend on the instance folder (the SQLite file, the storage folder, the
generated secret key) are filled in by the factory, not here.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

DEFAULT_QUALIOPI_LIST_URL = (
    "https://www.data.gouv.fr/fr/datasets/r/ac59a0f5-fa83-4b82-bf12-3c5806d4f19f"
)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "oui", "on"}


def normalize_database_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out and route PostgreSQL to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    PORTAL_ENV = os.environ.get("PORTAL_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # The key of the audit log's seals (HMAC-SHA256): never in the database. Required in
    # production; generated once into instance/audit_key otherwise.
    AUDIT_KEY = os.environ.get("AUDIT_KEY")
    # The Ed25519 private key (PEM) that signs the daily anchors of the audit log's head:
    # instance/audit_signing_key.pem by default (generated outside production).
    AUDIT_SIGNING_KEY_FILE = os.environ.get("AUDIT_SIGNING_KEY_FILE")
    # `flask audit anchor` appends each anchor to this file as well (one JSON line a day).
    AUDIT_ANCHOR_FILE = os.environ.get("AUDIT_ANCHOR_FILE")
    SQLALCHEMY_DATABASE_URI = (
        normalize_database_url(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else None
    )
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {"pool_pre_ping": True}
    STORAGE_DIR = os.environ.get("STORAGE_DIR") or None
    QUALIOPI_LIST_URL = os.environ.get("QUALIOPI_LIST_URL", DEFAULT_QUALIOPI_LIST_URL)
    QUALIOPI_DOWNLOAD_RETRIES = 3
    QUALIOPI_DOWNLOAD_BACKOFF = 2.0  # seconds, doubled at each retry

    # Mail: printed to the console unless an SMTP server is configured.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "portail@localhost")

    # Links in mails are absolute: say where the portal is served.
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")

    # Sessions: cookie flags, and how long a login lasts.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = timedelta(hours=10)
    REMEMBER_COOKIE_HTTPONLY = True

    # Invitations and password resets.
    INVITATION_MAX_AGE = timedelta(days=7)
    PASSWORD_RESET_MAX_AGE = timedelta(hours=2)

    # Argon2id cost (argon2-cffi's RFC 9106 low-memory profile by default).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    # Login throttling (Flask-Limiter). Several workers need a shared store, e.g.
    # RATELIMIT_STORAGE_URI=redis://localhost:6379/0 or memcached://localhost:11211.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # No X-RateLimit-* headers (they would tell an attacker how many tries are left); a
    # refusal (429) still says when to try again, in Retry-After (portal/errors.py).
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes")

    # The JSON API (portal/blueprints/api): requests per token (Flask-Limiter syntax), the
    # largest JSON body, and the OpenAPI document written by flask-smorest.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_KB") or "64") * 1024
    API_TITLE = "API du portail qualité des financeurs"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    # Webhooks (portal/webhooks): how long a receiver has to answer, how long a delivery
    # is retried (exponential back-off) before it is given up, and a worker's poll period.
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS") or "10")
    WEBHOOK_RETRY_HOURS = float(os.environ.get("WEBHOOK_RETRY_HOURS") or "24")
    WEBHOOK_POLL_SECONDS = float(os.environ.get("WEBHOOK_POLL_SECONDS") or "2")

    WTF_I18N_ENABLED = False  # use WTForms' own French messages (see portal.forms.Form)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_HEADERS: ClassVar[list[str]] = ["X-CSRFToken"]
    FORCE_HTTPS = False

    # Pièces justificatives (portal.storage, portal.uploads). STORAGE_BACKEND is "local"
    # (files under STORAGE_DIR) or "s3" (S3_BUCKET, with S3_ENDPOINT_URL for MinIO, Scaleway,
    # OVH…; credentials from the standard AWS_* variables read by boto3).
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local").strip().lower() or "local"
    S3_BUCKET = os.environ.get("S3_BUCKET") or None
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_REGION = os.environ.get("S3_REGION") or None
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    MAX_UPLOAD_BYTES = int(float(os.environ.get("MAX_UPLOAD_MB") or "10") * 1024 * 1024)
    MAX_FILES_PER_UPLOAD = 10
    # The request limit follows: several files per request, plus 1 MB for the other fields.
    MAX_CONTENT_LENGTH = MAX_FILES_PER_UPLOAD * MAX_UPLOAD_BYTES + 1024 * 1024

    # Subcontracting (portal.subcontracting.rules). A micro-entrepreneur subcontractor whose
    # turnover is at most the threshold of its year (the micro-social regime's ceiling for
    # services: 77,700 € for 2023–2025; revised every three years, 2026–2028 to confirm) is
    # exempt from Qualiopi and from the certifier's authorisation. The dated table adds or
    # changes years ("2026=83600,2027=83600"); MICRO_ENTREPRENEUR_THRESHOLD, when set, is
    # one threshold for every year. The CPF ceiling (80 %) warns from this rate.
    MICRO_ENTREPRENEUR_THRESHOLDS = os.environ.get("MICRO_ENTREPRENEUR_THRESHOLDS", "")
    MICRO_ENTREPRENEUR_THRESHOLD = (
        Decimal(os.environ["MICRO_ENTREPRENEUR_THRESHOLD"])
        if os.environ.get("MICRO_ENTREPRENEUR_THRESHOLD")
        else None
    )
    CPF_CEILING_WARNING = Decimal(os.environ.get("CPF_CEILING_WARNING", "0.70"))

    # Signalements (portal.signalements): one sent longer ago than this, and not closed, is
    # highlighted in the ministry's inbox.
    SIGNALEMENT_STALE_DAYS = int(os.environ.get("SIGNALEMENT_STALE_DAYS", "30"))
    # Quality controls: how many minor non-conformities count as one major (5,
    # "to confirm"); 0 turns the requalification off.
    QUALITY_MINORS_PER_MAJOR = int(os.environ.get("QUALITY_MINORS_PER_MAJOR", "5"))


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    FORCE_HTTPS = _env_bool("FORCE_HTTPS", False)  # usually done by the reverse proxy


class TestConfig(Config):
    TESTING = True
    PORTAL_ENV = "testing"
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    AUDIT_KEY = "test-audit-key-not-for-production"
    MAIL_BACKEND = "locmem"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite://")
    )
    RATELIMIT_STORAGE_URI = "memory://"
    QUALIOPI_DOWNLOAD_BACKOFF = 0.0
    # Cheap hashing keeps the suite fast; production keeps the defaults above.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
