"""Users, their login sessions and their one-time account links."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.organisations import Funder, Provider
from portal.models.types import UTCDateTime


class Role(enum.StrEnum):
    ADMIN = "admin"
    FUNDER_ADMIN = "funder_admin"
    CONTROLLER = "controller"
    PROVIDER = "provider"
    MINISTRY = "ministry"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Administrateur de la plateforme",
    Role.FUNDER_ADMIN: "Administrateur financeur",
    Role.CONTROLLER: "Contrôleur",
    Role.PROVIDER: "Organisme de formation",
    Role.MINISTRY: "Correspondant ministériel",
}

FUNDER_ROLES = frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER})

_ROLE_ATTACHMENT = (
    "(role IN ('funder_admin', 'controller') AND funder_id IS NOT NULL"
    " AND provider_id IS NULL AND region_code IS NULL)"
    " OR (role = 'provider' AND provider_id IS NOT NULL AND funder_id IS NULL"
    " AND region_code IS NULL)"
    " OR (role = 'ministry' AND funder_id IS NULL AND provider_id IS NULL)"
    " OR (role = 'admin' AND funder_id IS NULL AND provider_id IS NULL"
    " AND region_code IS NULL)"
)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_ROLE_ATTACHMENT, name="role_attachment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funders.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    # A ministry liaison may be limited to one region (INSEE region code).
    region_code: Mapped[str | None] = mapped_column(String(3))
    # None until the invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    funder: Mapped[Funder | None] = relationship()
    provider: Mapped[Provider | None] = relationship()

    # Flask-Login protocol.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_liaison(self) -> bool:
        """A ministry liaison (whose scope is a region, or every region)."""
        return self.role == Role.MINISTRY

    @property
    def is_pending(self) -> bool:
        """Invited but has not set a password yet."""
        return self.password_hash is None

    @property
    def status_label(self) -> str:
        if not self.is_active:
            return "Désactivé"
        return "Invitation en attente" if self.is_pending else "Actif"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class UserSession(db.Model):
    """A server-side record of one login, so that sessions can be ended from the server."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a password)


class AccountToken(db.Model):
    """One invitation or password-reset link: signed, expiring, usable once."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ApiScope(enum.StrEnum):
    """What a funder's API token may do (a personal token only reads Qualiopi)."""

    QUALIOPI_READ = "qualiopi:read"
    DOSSIERS_READ = "dossiers:read"
    DOSSIERS_WRITE = "dossiers:write"
    CONTROLS_READ = "controls:read"
    WEBHOOKS_MANAGE = "webhooks:manage"

    @property
    def label(self) -> str:
        return API_SCOPE_LABELS[self]


API_SCOPE_LABELS = {
    ApiScope.QUALIOPI_READ: "Consulter la certification Qualiopi et les alertes",
    ApiScope.DOSSIERS_READ: "Lire les dossiers et leurs pièces",
    ApiScope.DOSSIERS_WRITE: "Créer et modifier les dossiers",
    ApiScope.CONTROLS_READ: "Lire les contrôles de service fait et les décisions",
    ApiScope.WEBHOOKS_MANAGE: "Gérer les notifications (webhooks)",
}


class ApiToken(db.Model):
    """An API token; only its SHA-256 is kept.

    A personal token belongs to a user (`user_id`) and only reads Qualiopi; a funder's
    token (`funder_id`) belongs to the funder's systems, not to a person: it has scopes,
    an expiry, and sees what the funder's controllers see.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NOT NULL AND funder_id IS NULL)"
            " OR (user_id IS NULL AND funder_id IS NOT NULL)",
            name="owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funders.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, shown so that the owner recognises the token.
    prefix: Mapped[str] = mapped_column(String(12))
    # Space-separated `ApiScope` values (funder tokens only).
    scopes: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    funder: Mapped[Funder | None] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def state_label(self, now: datetime) -> str:
        """« Révoqué », « Expiré » or « Actif » at `now`."""
        if self.revoked_at is not None:
            return "Révoqué"
        return "Actif" if self.is_live(now) else "Expiré"
