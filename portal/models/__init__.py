"""The models shared by several blueprints."""

from portal.models.accounts import (
    FUNDER_ROLES,
    ROLE_LABELS,
    AccountToken,
    Role,
    TokenPurpose,
    User,
    UserSession,
)
from portal.models.audit import AuditEvent, AuditHead
from portal.models.organisations import (
    FUNDER_KIND_LABELS,
    Funder,
    FunderKind,
    FunderProvider,
    Provider,
)

__all__ = [
    "FUNDER_KIND_LABELS",
    "FUNDER_ROLES",
    "ROLE_LABELS",
    "AccountToken",
    "AuditEvent",
    "AuditHead",
    "Funder",
    "FunderKind",
    "FunderProvider",
    "Provider",
    "Role",
    "TokenPurpose",
    "User",
    "UserSession",
]
