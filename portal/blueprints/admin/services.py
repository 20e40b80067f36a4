"""Administration services: each takes the acting user, changes models, writes the audit
log, and leaves the commit to the route."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal import audit
from portal.access import can_invite, can_manage_user, users_scope
from portal.blueprints.auth.services import normalize_email, send_invitation
from portal.blueprints.auth.sessions import end_all_sessions
from portal.clock import utcnow
from portal.errors import NotAllowed, Stale
from portal.extensions import db
from portal.models import FUNDER_ROLES, Funder, FunderProvider, Provider, Role, User

FUNDER_FIELDS = ("name", "kind", "region_code")


def _funder_state(funder: Funder) -> dict[str, object]:
    return {name: getattr(funder, name) for name in FUNDER_FIELDS}


def create_funder(actor: User, *, name: str, kind: str, region_code: str | None) -> Funder:
    funder = Funder(name=name.strip(), kind=kind, region_code=region_code or None)
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
) -> Funder:
    """Apply an edit made on version `expected_version`; refuse it if that is stale."""
    if funder.version != expected_version:
        raise Stale
    before = _funder_state(funder)
    funder.name, funder.kind, funder.region_code = name.strip(), kind, region_code or None
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


def follow_provider(actor: User, *, nda: str, siret: str, name: str) -> FollowOutcome:
    """Add an OF to the actor's funder's followed list, creating the OF if it is new."""
    if actor.role != Role.FUNDER_ADMIN or actor.funder_id is None:
        raise NotAllowed
    provider = db.session.scalar(select(Provider).where(Provider.nda == nda))
    created = provider is None
    if provider is None:
        provider = Provider(nda=nda, siret=siret, siren=siret[:9], name=name.strip())
        db.session.add(provider)
        audit.record(
            "provider.created",
            actor=actor,
            target=provider,
            funder_id=actor.funder_id,
            details={"after": {"nda": nda, "siret": siret, "name": provider.name}},
        )
    link = db.session.scalar(
        select(FunderProvider).where(
            FunderProvider.funder_id == actor.funder_id, FunderProvider.provider_id == provider.id
        )
    )
    if link is not None:
        return FollowOutcome(provider, created, already_followed=True)
    db.session.add(FunderProvider(funder_id=actor.funder_id, provider_id=provider.id))
    audit.record(
        "provider.followed",
        actor=actor,
        target=provider,
        funder_id=actor.funder_id,
        details={"nda": provider.nda},
    )
    return FollowOutcome(provider, created, already_followed=False)


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
