"""The OF's notice of the requests for documents waiting for its answer (home page and
"Mes dossiers"), registered with `portal.notices` by the service-fait blueprint."""

from __future__ import annotations

from portal.models import Role, User
from portal.notices import Notice
from portal.service_fait import document_requests as service


def open_requests(user: User) -> list[Notice]:
    if user.role != Role.PROVIDER or user.provider_id is None:
        return []
    waiting = service.open_requests_for_provider(user.provider_id)
    if not waiting:
        return []
    return [Notice("document_requests", "service_fait/_provider_notice.html", {"waiting": waiting})]
