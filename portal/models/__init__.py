"""The models shared by several blueprints."""

from portal.models.accounts import (
    FUNDER_ROLES,
    ROLE_LABELS,
    AccountToken,
    ApiToken,
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
from portal.models.public_list import (
    BulkCheck,
    ImportStatus,
    ListChange,
    ListImport,
    ListVersion,
    PreviousNda,
    QualiopiAlert,
)

__all__ = [
    "FUNDER_KIND_LABELS",
    "FUNDER_ROLES",
    "ROLE_LABELS",
    "AccountToken",
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "BulkCheck",
    "Funder",
    "FunderKind",
    "FunderProvider",
    "ImportStatus",
    "ListChange",
    "ListImport",
    "ListVersion",
    "PreviousNda",
    "Provider",
    "QualiopiAlert",
    "Role",
    "TokenPurpose",
    "User",
    "UserSession",
]
