"""Administration services: each takes the acting user, changes models, writes the audit
log, and leaves the commit to the route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from portal import audit, audit_labels, clock, following
from portal.access import audit_scope, can_invite, can_manage_user, users_scope
from portal.blueprints.auth.services import normalize_email, send_invitation
from portal.blueprints.auth.sessions import end_all_sessions
from portal.clock import utcnow
from portal.errors import NotAllowed, Stale
from portal.extensions import db
from portal.models import (
    FUNDER_ROLES,
    AuditEvent,
    Funder,
    FunderProvider,
    Provider,
    Role,
    User,
)

FUNDER_FIELDS = ("name", "kind", "region_code", "retention_years", "retention_confirmed")


def _funder_state(funder: Funder) -> dict[str, object]:
    return {name: getattr(funder, name) for name in FUNDER_FIELDS}


def create_funder(
    actor: User,
    *,
    name: str,
    kind: str,
    region_code: str | None,
    retention_years: int = 3,
    retention_confirmed: bool = False,
) -> Funder:
    funder = Funder(
        name=name.strip(),
        kind=kind,
        region_code=region_code or None,
        retention_years=retention_years,
        retention_confirmed=retention_confirmed,
    )
    db.session.add(funder)
    audit.record(
        "funder.created",
        actor=actor,
        target=funder,
        funder_id=None,
        details={"after": _funder_state(funder)},
    )
    return funder


def update_funder(
    actor: User,
    funder: Funder,
    *,
    expected_version: int,
    name: str,
    kind: str,
    region_code: str | None,
    retention_years: int | None = None,
    retention_confirmed: bool | None = None,
) -> Funder:
    """Apply an edit made on version `expected_version`; refuse it if that is stale."""
    if funder.version != expected_version:
        raise Stale
    before = _funder_state(funder)
    funder.name, funder.kind, funder.region_code = name.strip(), kind, region_code or None
    if retention_years is not None:
        funder.retention_years = retention_years
    if retention_confirmed is not None:
        funder.retention_confirmed = retention_confirmed
    after = _funder_state(funder)
    if before != after:
        audit.record(
            "funder.updated",
            actor=actor,
            target=funder,
            funder_id=funder.id,
            details={"before": before, "after": after},
        )
    return funder


def invite_user(
    actor: User,
    *,
    email: str,
    full_name: str,
    role: Role,
    funder_id: int | None = None,
    provider_id: int | None = None,
    region_code: str | None = None,
) -> User:
    """Create a pending account and mail its invitation link."""
    if actor.role == Role.FUNDER_ADMIN and role in FUNDER_ROLES:
        funder_id = actor.funder_id
    if role not in FUNDER_ROLES:
        funder_id = None
    if role != Role.PROVIDER:
        provider_id = None
    if role != Role.MINISTRY:
        region_code = None
    if not can_invite(actor, role, funder_id=funder_id, provider_id=provider_id):
        raise NotAllowed
    user = User(
        email=normalize_email(email),
        full_name=full_name.strip(),
        role=role.value,
        funder_id=funder_id,
        provider_id=provider_id,
        region_code=region_code or None,
    )
    db.session.add(user)
    db.session.flush()
    send_invitation(user, invited_by=actor)
    audit.record(
        "user.invited",
        actor=actor,
        target=user,
        funder_id=actor.funder_id or funder_id,
        details={
            "email": user.email,
            "role": user.role,
            "funder_id": funder_id,
            "provider_id": provider_id,
            "region_code": user.region_code,
        },
    )
    return user


def deactivate_user(actor: User, target: User) -> int:
    """Deactivate an account and end its sessions; returns how many sessions ended."""
    if not can_manage_user(actor, target):
        raise NotAllowed
    if not target.is_active:
        return 0
    target.is_active = False
    target.deactivated_at = utcnow()
    ended = end_all_sessions(target)
    audit.record(
        "user.deactivated",
        actor=actor,
        target=target,
        funder_id=actor.funder_id,
        details={
            "before": {"is_active": True},
            "after": {"is_active": False},
            "sessions_ended": ended,
        },
    )
    return ended


def reactivate_user(actor: User, target: User) -> None:
    if not can_manage_user(actor, target):
        raise NotAllowed
    if target.is_active:
        return
    target.is_active = True
    target.deactivated_at = None
    audit.record(
        "user.reactivated",
        actor=actor,
        target=target,
        funder_id=actor.funder_id,
        details={"before": {"is_active": False}, "after": {"is_active": True}},
    )


def resend_invitation(actor: User, target: User) -> None:
    if not can_manage_user(actor, target) or not target.is_active or not target.is_pending:
        raise NotAllowed
    send_invitation(target, invited_by=actor)
    audit.record("user.invitation_resent", actor=actor, target=target, funder_id=actor.funder_id)


@dataclass(frozen=True)
class FollowOutcome:
    provider: Provider
    created: bool
    already_followed: bool
    label: str | None = None  # this funder's own name for the OF, if it typed one

    @property
    def shown_name(self) -> str:
        return self.label or self.provider.name


def follow_provider(actor: User, *, nda: str, siret: str, name: str) -> FollowOutcome:
    """Add an OF to the actor's funder's followed list, creating the OF if it is new.

    A new OF takes its name from the public list; when it is not there, the name typed
    stays this funder's label and the OF is named by its NDA for everyone else."""
    if not following.may_follow(actor):
        raise NotAllowed
    provider = db.session.scalar(select(Provider).where(Provider.nda == nda))
    created = provider is None
    typed = name.strip()
    label = None
    if provider is None:
        listed = following.list_name(nda)
        label = None if listed else typed
        provider = Provider(
            nda=nda,
            siret=siret,
            siren=siret[:9],
            name=listed or following.placeholder_name(nda),
        )
        db.session.add(provider)
        audit.record(
            "provider.created",
            actor=actor,
            target=provider,
            funder_id=actor.funder_id,
            details={
                "after": {"nda": nda, "siret": siret, "name": provider.name},
                "source": "liste publique" if listed else "NDA (hors liste publique)",
            },
        )
    elif typed and typed != provider.name:
        label = typed
    link = following.follow(actor, provider, reason="administration", label=label)
    return FollowOutcome(provider, created, already_followed=link is None, label=label)


def funder_labels(actor: User) -> dict[int, tuple[str | None, object]]:
    """For the actor's funder: each followed OF's label (if typed) and since when."""
    if actor.funder_id is None:
        return {}
    rows = db.session.execute(
        select(FunderProvider.provider_id, FunderProvider.label, FunderProvider.created_at).where(
            FunderProvider.funder_id == actor.funder_id
        )
    ).all()
    return {provider_id: (label, since) for provider_id, label, since in rows}


@dataclass(frozen=True)
class UserFilters:
    q: str = ""
    role: str = ""
    status: str = ""


def list_users(actor: User, filters: UserFilters):
    """The users the actor may see, filtered, with their funder and OF loaded."""
    query = users_scope(actor).options(joinedload(User.funder), joinedload(User.provider))
    if filters.q:
        needle = filters.q.strip().lower()
        query = query.where(
            func.lower(User.email).contains(needle, autoescape=True)
            | func.lower(User.full_name).contains(needle, autoescape=True)
        )
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.status == "active":
        query = query.where(User.is_active.is_(True), User.password_hash.is_not(None))
    elif filters.status == "pending":
        query = query.where(User.is_active.is_(True), User.password_hash.is_(None))
    elif filters.status == "inactive":
        query = query.where(User.is_active.is_(False))
    return query.order_by(User.full_name, User.id)


# --- The audit log -------------------------------------------------------------------------


AUDIT_FIRST_DAY, AUDIT_LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters (query-string names are French): who, which action, which
    kind of object (and its number), over which days (Paris)."""

    who: str = ""  # part of the actor's address or label
    action: str = ""  # an action code
    object_type: str = ""  # a table name (OBJECT_LABELS)
    object_id: str = ""
    start: date | None = None
    end: date | None = None

    @classmethod
    def read(cls, args: Mapping[str, str]) -> AuditFilters:
        def day(name: str) -> date | None:
            try:
                value = date.fromisoformat((args.get(name) or "").strip())
            except ValueError:
                return None
            # Beyond these, a day has no instant in UTC (and no event of the log).
            return value if AUDIT_FIRST_DAY <= value <= AUDIT_LAST_DAY else None

        object_type = (args.get("objet") or "").strip()
        return cls(
            who=" ".join((args.get("qui") or "").split())[:100],
            action=(args.get("action") or "").strip()[:64],
            object_type=object_type if object_type in audit_labels.OBJECT_LABELS else "",
            object_id=(args.get("numero") or "").strip()[:64] if object_type else "",
            start=day("du"),
            end=day("au"),
        )

    def args(self) -> dict[str, str]:
        values = {
            "qui": self.who,
            "action": self.action,
            "objet": self.object_type,
            "numero": self.object_id,
            "du": self.start.isoformat() if self.start else "",
            "au": self.end.isoformat() if self.end else "",
        }
        return {key: value for key, value in values.items() if value}


def audit_events(actor: User, filters: AuditFilters) -> Select:
    """The events the actor may read (`access.audit_scope`), filtered, newest first."""
    query = audit_scope(actor)
    if filters.who:
        query = query.where(
            func.lower(AuditEvent.actor_label).contains(filters.who.lower(), autoescape=True)
        )
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
        if filters.object_id:
            query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.start:
        query = query.where(AuditEvent.occurred_at >= clock.start_of_day(filters.start))
    if filters.end:
        query = query.where(AuditEvent.occurred_at < clock.end_of_day(filters.end))
    return query.order_by(AuditEvent.id.desc())


def audit_actions(actor: User) -> list[tuple[str, str]]:
    """The actions found in the actor's part of the log, labelled (the action filter)."""
    scope = audit_scope(actor).with_only_columns(AuditEvent.action).distinct()
    return audit_labels.action_choices(db.session.scalars(scope))
