"""Who may see or do what: the one place that decides.

Views declare the roles that may reach them with `roles_required`; object-level rules
(this funder's users, this OF's data) are the `can_*` functions and the `*_scope`
queries below. Views and templates call these, never re-implement them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, NoReturn, TypeVar

from flask import abort, request
from flask_login import current_user
from sqlalchemy import Select, and_, exists, or_, select

from portal import audit
from portal.extensions import db, login_manager
from portal.models import (
    FUNDER_ROLES,
    AuditEvent,
    Dossier,
    DossierStatus,
    Funder,
    FunderProvider,
    Piece,
    Provider,
    QualityControl,
    QualityControlPartner,
    QualityControlStatus,
    Role,
    Signalement,
    SignalementState,
    Subcontract,
    User,
)

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = frozenset(Role)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Log-in required, and one of `roles`; others get 403 and an audit event."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                deny(current_user, "rôle non autorisé")
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def deny(user: User, reason: str, *, status: int = 403, **details: Any) -> NoReturn:
    """Record a refused access, then answer 403 (or 404 to hide what exists).

    The request's other pending changes are rolled back at the edge; the refusal's audit
    event is written after that rollback and committed on its own."""
    record_denial(user, reason, **details)
    abort(status)


def record_denial(user: User, reason: str, **details: Any) -> None:
    """The audit event of a refused access, kept whatever becomes of the request."""
    audit.record_refusal(
        "access.denied",
        actor=user,
        details={"reason": reason, "path": request.path, "method": request.method, **details},
    )


# --- Object-level rules ---------------------------------------------------------------


def is_funder_side(user: User) -> bool:
    return user.role in FUNDER_ROLES


def funds_provider(funder_id: int | None, provider_id: int | None) -> bool:
    if funder_id is None or provider_id is None:
        return False
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    FunderProvider.funder_id == funder_id,
                    FunderProvider.provider_id == provider_id,
                )
            )
        )
    )


def can_view_funder(user: User, funder: Funder) -> bool:
    return user.role == Role.ADMIN or (is_funder_side(user) and user.funder_id == funder.id)


def can_manage_funders(user: User) -> bool:
    return user.role == Role.ADMIN


def can_view_provider(user: User, provider: Provider) -> bool:
    if user.role in (Role.ADMIN, Role.MINISTRY):
        return True
    if user.role == Role.PROVIDER:
        return user.provider_id == provider.id
    return is_funder_side(user) and funds_provider(user.funder_id, provider.id)


def can_manage_providers(user: User) -> bool:
    """Add an OF to the funder's followed list."""
    return user.role == Role.FUNDER_ADMIN


def invitable_roles(user: User) -> tuple[Role, ...]:
    if user.role == Role.ADMIN:
        return (Role.FUNDER_ADMIN, Role.MINISTRY, Role.ADMIN)
    if user.role == Role.FUNDER_ADMIN:
        return (Role.CONTROLLER, Role.FUNDER_ADMIN, Role.PROVIDER)
    return ()


def can_invite(
    user: User, role: Role, *, funder_id: int | None = None, provider_id: int | None = None
) -> bool:
    if role not in invitable_roles(user):
        return False
    if user.role == Role.ADMIN:
        return role != Role.FUNDER_ADMIN or funder_id is not None
    # A funder admin: their own funder's staff, or users of an OF their funder funds.
    if role == Role.PROVIDER:
        return funds_provider(user.funder_id, provider_id)
    return funder_id == user.funder_id


def can_manage_user(user: User, target: User) -> bool:
    """Deactivate, reactivate, or send a new invitation."""
    return target.id in manageable_users(user, [target])


def manageable_users(user: User, targets: Iterable[User]) -> set[int]:
    """The ids of `targets` that `user` may manage, in one query at most (for lists)."""
    targets = [t for t in targets if t.id != user.id]
    if user.role == Role.ADMIN:
        return {t.id for t in targets}
    if user.role != Role.FUNDER_ADMIN:
        return set()
    funded = set(
        db.session.scalars(
            select(FunderProvider.provider_id).where(FunderProvider.funder_id == user.funder_id)
        )
    )
    return {
        t.id
        for t in targets
        if (t.role in FUNDER_ROLES and t.funder_id == user.funder_id)
        or (t.role == Role.PROVIDER and t.provider_id in funded)
    }


def can_view_audit_log(user: User) -> bool:
    """The platform admin reads the whole log; a funder admin, their funder's trail."""
    return user.role in (Role.ADMIN, Role.FUNDER_ADMIN)


def can_verify_audit_chain(user: User) -> bool:
    """The seal covers the whole log: only the platform admin checks it."""
    return user.role == Role.ADMIN


def audit_scope(user: User) -> Select[tuple[AuditEvent]]:
    """The events of the log a user may read: all of them for the platform admin, those
    of their funder for a funder admin, none otherwise."""
    query = select(AuditEvent)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.FUNDER_ADMIN and user.funder_id is not None:
        return query.where(AuditEvent.funder_id == user.funder_id)
    return query.where(AuditEvent.id.is_(None))


def can_view_list_imports(user: User) -> bool:
    """The imports of the public list (and their detail)."""
    return user.role in (Role.ADMIN, Role.FUNDER_ADMIN)


def can_view_list_alerts(user: User) -> bool:
    """The alerts the public list raises on the funder's dossiers; the OF's Qualiopi
    history, reached from its subcontracts."""
    return is_funder_side(user)


def can_file_signalements(user: User) -> bool:
    """Write a signalement to the ministry about an OF."""
    return is_funder_side(user)


def can_review_signalements(user: User) -> bool:
    """Read the signalements received about an OF (the ministry's liaisons)."""
    return user.role == Role.MINISTRY


def can_change_signalement_settings(user: User) -> bool:
    return user.role == Role.FUNDER_ADMIN


def can_search(user: User) -> bool:
    """The search box of the header: dossiers, followed OF and the public list."""
    return is_funder_side(user)


def can_manage_service_fait(user: User) -> bool:
    """The sampling plan and the message templates of the service-fait controls."""
    return user.role == Role.FUNDER_ADMIN


def can_manage_api_access(user: User) -> bool:
    """The funder's API tokens and webhook endpoints (« Accès API »)."""
    return user.role == Role.FUNDER_ADMIN


def permissions(user: User | None) -> dict[str, bool]:
    """The permissions that depend on the user alone, as the `can_*` flags every template
    receives (no query). Permissions on an object are passed by its page."""
    if user is None or not getattr(user, "is_authenticated", False):
        return dict.fromkeys(USER_PERMISSIONS, False)
    return {name: check(user) for name, check in USER_PERMISSIONS.items()}


# --- Scopes: what a list page may show -------------------------------------------------


def users_scope(user: User) -> Select[tuple[User]]:
    """The users a user may see in the administration pages."""
    query = select(User)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.FUNDER_ADMIN:
        funded = select(FunderProvider.provider_id).where(
            FunderProvider.funder_id == user.funder_id
        )
        return query.where(
            or_(
                and_(
                    User.role.in_([r.value for r in FUNDER_ROLES]), User.funder_id == user.funder_id
                ),
                and_(User.role == Role.PROVIDER, User.provider_id.in_(funded)),
            )
        )
    return query.where(User.id == user.id)


def providers_scope(user: User) -> Select[tuple[Provider]]:
    """The OF a user may see."""
    query = select(Provider)
    if user.role in (Role.ADMIN, Role.MINISTRY):
        return query
    if user.role == Role.PROVIDER:
        return query.where(Provider.id == user.provider_id)
    if is_funder_side(user):
        return query.join(FunderProvider, FunderProvider.provider_id == Provider.id).where(
            FunderProvider.funder_id == user.funder_id
        )
    return query.where(Provider.id.is_(None))


def roles_of(view: Callable[..., Any]) -> Iterable[Role] | None:
    """The roles a view was declared for, or None when it is public."""
    return getattr(view, "allowed_roles", None)


# --- Dossiers --------------------------------------------------------------------------


def dossiers_scope(user: User) -> Select[tuple[Dossier]]:
    """The dossiers a user may see: their funder's, or every funder's for their OF."""
    query = select(Dossier)
    if is_funder_side(user):
        return query.where(Dossier.funder_id == user.funder_id)
    if user.role == Role.PROVIDER:
        return query.where(Dossier.provider_id == user.provider_id)
    return query.where(Dossier.id.is_(None))


def can_view_dossier(user: User, dossier: Dossier) -> bool:
    if is_funder_side(user):
        return dossier.funder_id == user.funder_id
    return user.role == Role.PROVIDER and dossier.provider_id == user.provider_id


def can_edit_dossier(user: User, dossier: Dossier) -> bool:
    """Change the dossier itself (funder side)."""
    return is_funder_side(user) and dossier.funder_id == user.funder_id


def can_add_pieces(user: User, dossier: Dossier) -> bool:
    """Upload or replace pieces: the OF of the dossier, while it is open."""
    return (
        user.role == Role.PROVIDER
        and dossier.provider_id == user.provider_id
        and dossier.status == DossierStatus.OPEN
    )


def get_dossier_or_404(dossier_id: int, user: User, need: str = "view") -> Dossier:
    """The dossier if `user` may `need` ("view", "edit" or "add_pieces") it; otherwise 404,
    so that guessing identifiers reveals nothing, and the refusal is audited."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        abort(404)
    allowed = {
        "view": can_view_dossier,
        "edit": can_edit_dossier,
        "add_pieces": can_add_pieces,
    }[need](user, dossier)
    if not allowed:
        if can_view_dossier(user, dossier):
            deny(user, f"dossier : droit « {need} » refusé", dossier_id=dossier_id)
        deny(user, "dossier hors périmètre", status=404, dossier_id=dossier_id)
    return dossier


def get_piece_or_404(dossier: Dossier, piece_id: int, user: User) -> Piece:
    """A piece of this dossier (already loaded with `get_dossier_or_404`); 404 for a piece
    of another dossier, and the attempt is audited as a refused access."""
    piece = db.session.get(Piece, piece_id)
    if piece is None:
        abort(404)
    if piece.dossier_id != dossier.id:
        deny(user, "pièce d'un autre dossier", status=404, dossier_id=dossier.id, piece_id=piece_id)
    return piece


# --- Subcontracting --------------------------------------------------------------------


def _funder_dossiers_needing(funder_id: int | None):
    """The condition "one of this funder's dossiers needs this contract": linked to it, or
    with its principal, of one of its categories, over a period that meets the contract's."""
    linked = select(Dossier.id).where(
        Dossier.funder_id == funder_id, Dossier.subcontract_id == Subcontract.id
    )
    covered = select(Dossier.id).where(
        Dossier.funder_id == funder_id,
        Dossier.provider_id == Subcontract.principal_id,
        Subcontract.categories.contains(Dossier.category),
        Dossier.start_date <= Subcontract.end_date,
        Dossier.end_date >= Subcontract.start_date,
    )
    return or_(linked.exists(), covered.exists())


def subcontracts_scope(user: User) -> Select[tuple[Subcontract]]:
    """The subcontracting contracts a user may see: those their OF declared (as the
    principal); for a funder, those of the OF it follows that one of its dossiers needs
    (linked to it, or covering its category and period); never another OF's."""
    query = select(Subcontract)
    if user.role == Role.PROVIDER:
        return query.where(Subcontract.principal_id == user.provider_id)
    if is_funder_side(user):
        followed = select(FunderProvider.provider_id).where(
            FunderProvider.funder_id == user.funder_id
        )
        return query.where(
            Subcontract.principal_id.in_(followed), _funder_dossiers_needing(user.funder_id)
        )
    return query.where(Subcontract.id.is_(None))


def can_view_subcontract(user: User, contract: Subcontract) -> bool:
    if user.role == Role.PROVIDER:
        return contract.principal_id == user.provider_id
    if not is_funder_side(user) or contract.id is None:
        return False
    return (
        db.session.scalar(
            subcontracts_scope(user)
            .where(Subcontract.id == contract.id)
            .with_only_columns(Subcontract.id)
        )
        is not None
    )


def has_open_dossier(funder_id: int | None, provider_id: int | None) -> bool:
    """The funder has a dossier in progress with this OF (what opens its certificate)."""
    return (
        db.session.scalar(
            select(Dossier.id)
            .where(
                Dossier.funder_id == funder_id,
                Dossier.provider_id == provider_id,
                Dossier.status == DossierStatus.OPEN.value,
            )
            .limit(1)
        )
        is not None
    )


def can_view_certificate(user: User, provider_id: int) -> bool:
    """An OF's Qualiopi certificate: the OF's own; for a funder, while it has an open dossier
    with the OF; the platform admin and the ministry."""
    if user.role == Role.PROVIDER:
        return provider_id == user.provider_id
    if is_funder_side(user):
        return has_open_dossier(user.funder_id, provider_id)
    return user.role in (Role.ADMIN, Role.MINISTRY)


def can_edit_subcontract(user: User, contract: Subcontract) -> bool:
    """Declare, change, link dossiers: the principal OF only."""
    return user.role == Role.PROVIDER and contract.principal_id == user.provider_id


def get_subcontract_or_404(contract_id: int, user: User, need: str = "view") -> Subcontract:
    """The contract if `user` may `need` ("view" or "edit") it; otherwise 404 (403 when they
    may see it but not change it), audited, as for dossiers."""
    contract = db.session.get(Subcontract, contract_id)
    if contract is None:
        abort(404)
    allowed = {"view": can_view_subcontract, "edit": can_edit_subcontract}[need](user, contract)
    if not allowed:
        if can_view_subcontract(user, contract):
            deny(user, f"sous-traitance : droit « {need} » refusé", subcontract_id=contract_id)
        deny(user, "sous-traitance hors périmètre", status=404, subcontract_id=contract_id)
    return contract


def get_provider_or_404(provider_id: int, user: User) -> Provider:
    """An OF the user may see (`can_view_provider`); otherwise 404, audited."""
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        abort(404)
    if not can_view_provider(user, provider):
        deny(user, "organisme hors périmètre", status=404, provider_id=provider_id)
    return provider


# --- Signalements ----------------------------------------------------------------------

#: What the ministry never sees: the funder's drafts and those awaiting its approval.
SIGNALEMENT_FUNDER_ONLY = (SignalementState.DRAFT.value, SignalementState.AWAITING_APPROVAL.value)


def signalements_scope(user: User) -> Select[tuple[Signalement]]:
    """The signalements a user may see: their funder's (drafts included); for the ministry,
    those sent, of every funder, limited to the liaison's region when it has one (the OF's
    region in the public list); never any for an OF, whatever it is about."""
    query = select(Signalement)
    if is_funder_side(user):
        return query.where(Signalement.funder_id == user.funder_id)
    if user.role == Role.MINISTRY:
        query = query.where(Signalement.state.not_in(SIGNALEMENT_FUNDER_ONLY))
        if user.region_code:
            query = query.where(Signalement.region_code == user.region_code)
        return query
    return query.where(Signalement.id.is_(None))


def can_view_signalement(user: User, signalement: Signalement) -> bool:
    if is_funder_side(user):
        return signalement.funder_id == user.funder_id
    if user.role == Role.MINISTRY:
        return signalement.state not in SIGNALEMENT_FUNDER_ONLY and (
            not user.region_code or signalement.region_code == user.region_code
        )
    return False


def get_signalement_or_404(signalement_id: int, user: User) -> Signalement:
    """The signalement if `user` may see it; otherwise 404 (audited), so that guessing
    identifiers reveals nothing. What they may *do* with it is the workflow's business."""
    signalement = db.session.get(Signalement, signalement_id)
    if signalement is None:
        abort(404)
    if not can_view_signalement(user, signalement):
        deny(user, "signalement hors périmètre", status=404, signalement_id=signalement_id)
    return signalement


# --- Quality controls ----------------------------------------------------------------------

#: What the OF sees of its quality controls: once the report is issued.
QUALITY_VISIBLE_TO_PROVIDER = (
    QualityControlStatus.REPORTED.value,
    QualityControlStatus.CLOSED.value,
)


def quality_controls_scope(user: User) -> Select[tuple[QualityControl]]:
    """The quality controls a user may see: for a funder, those it leads or takes part in,
    and those another funder shared (pooled) about an OF it follows; for an OF, its own
    once the report is issued; nobody else."""
    query = select(QualityControl)
    if is_funder_side(user):
        partner = select(QualityControlPartner.control_id).where(
            QualityControlPartner.funder_id == user.funder_id
        )
        followed = select(FunderProvider.provider_id).where(
            FunderProvider.funder_id == user.funder_id
        )
        return query.where(
            or_(
                QualityControl.funder_id == user.funder_id,
                QualityControl.id.in_(partner),
                and_(QualityControl.shared.is_(True), QualityControl.provider_id.in_(followed)),
            )
        )
    if user.role == Role.PROVIDER:
        return query.where(
            QualityControl.provider_id == user.provider_id,
            QualityControl.status.in_(QUALITY_VISIBLE_TO_PROVIDER),
        )
    return query.where(QualityControl.id.is_(None))


def takes_part_in(user: User, control: QualityControl) -> bool:
    """The user's funder leads the control or controls with the lead (a joint control)."""
    if not is_funder_side(user) or user.funder_id is None:
        return False
    return control.funder_id == user.funder_id or any(
        p.funder_id == user.funder_id for p in control.partners
    )


def can_view_quality_control(user: User, control: QualityControl) -> bool:
    if user.role == Role.PROVIDER:
        return (
            control.provider_id == user.provider_id
            and control.status in QUALITY_VISIBLE_TO_PROVIDER
        )
    if takes_part_in(user, control):
        return True
    return (
        is_funder_side(user)
        and control.shared
        and funds_provider(user.funder_id, control.provider_id)
    )


def withheld_quality_evidence(user: User, control: QualityControl) -> set[int]:
    """The evidence of a control `user` may not open: pieces of dossiers they may not see,
    for a funder that only reads a shared control (the funders taking part see the whole
    control; the OF sees the pieces of its own dossiers)."""
    if takes_part_in(user, control):
        return set()
    return {
        evidence.id
        for finding in control.findings
        for evidence in finding.evidence
        if evidence.piece is not None and not can_view_dossier(user, evidence.piece.dossier)
    }


def can_edit_quality_control(user: User, control: QualityControl) -> bool:
    """Record findings, evidence, decisions on corrective actions: the funders taking part;
    a funder that only reads a shared control may not."""
    return takes_part_in(user, control)


def can_answer_quality_control(user: User, control: QualityControl) -> bool:
    """Answer its non-conformities (action plan, proof): the controlled OF."""
    return user.role == Role.PROVIDER and can_view_quality_control(user, control)


def get_quality_control_or_404(control_id: int, user: User, need: str = "view") -> QualityControl:
    """The control if `user` may `need` ("view", "edit" or "answer") it; otherwise 404
    (403 when they may see it but not do that), audited."""
    control = db.session.get(QualityControl, control_id)
    if control is None:
        abort(404)
    rule = {
        "view": can_view_quality_control,
        "edit": can_edit_quality_control,
        "answer": can_answer_quality_control,
    }[need]
    if not rule(user, control):
        if can_view_quality_control(user, control):
            deny(user, f"contrôle qualité : droit « {need} » refusé", control_id=control_id)
        deny(user, "contrôle qualité hors périmètre", status=404, control_id=control_id)
    return control


USER_PERMISSIONS: dict[str, Callable[[User], bool]] = {
    "can_manage_api_access": can_manage_api_access,
    "can_manage_funders": can_manage_funders,
    "can_manage_providers": can_manage_providers,
    "can_view_audit_log": can_view_audit_log,
    "can_verify_audit_chain": can_verify_audit_chain,
    "can_invite_providers": lambda user: Role.PROVIDER in invitable_roles(user),
    "can_invite_liaisons": lambda user: Role.MINISTRY in invitable_roles(user),
    "can_view_list_imports": can_view_list_imports,
    "can_view_list_alerts": can_view_list_alerts,
    "can_file_signalements": can_file_signalements,
    "can_review_signalements": can_review_signalements,
    "can_change_signalement_settings": can_change_signalement_settings,
    "can_manage_service_fait": can_manage_service_fait,
    "can_search": can_search,
    "provider_side": lambda user: user.role == Role.PROVIDER,
}
