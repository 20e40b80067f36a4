"""Helpers of the requests-for-documents tests: a dossier with its funder's controller and
its OF's user, and the web client's steps of the loop."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import unescape
from typing import Any

from portal import clock
from portal.models import Dossier, Role, User
from tests.dossiers.piece_helpers import make_dossier, make_pdf  # noqa: F401  (re-exported)
from tests.factories import FunderFactory, ProviderFactory, UserFactory


@dataclass
class Setup:
    dossier: Dossier
    controller: User
    provider_user: User


def setup_dossier(**values: Any) -> Setup:
    funder = FunderFactory()
    provider = ProviderFactory()
    dossier = make_dossier(funder, provider, **values)
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    provider_user = UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None)
    return Setup(dossier, controller, provider_user)


def first_slot_key(dossier: Dossier, kind: str = "facture") -> str:

    from portal.service_fait.document_requests import item_choices

    for choice in item_choices(dossier, clock.today()):
        if choice.group == "attendue" and choice.kind == kind:
            return choice.key
    raise AssertionError(f"no expected {kind}")


def ask(auth, dossier: Dossier, items: list[str], headers: dict | None = None, **values: Any):
    """The controller's request form, posted (with the CSRF token of the form page)."""
    from datetime import timedelta

    data: dict[str, Any] = {
        "items": items,
        "due_date": (clock.today() + timedelta(days=15)).isoformat(),
        "message": "Merci de nous envoyer la facture.",
        "action": "envoyer",
    }
    data.update(values)
    return auth.post(
        f"/service-fait/dossiers/{dossier.id}/demandes/nouvelle",
        data,
        token_from=f"/service-fait/dossiers/{dossier.id}/demandes/nouvelle",
        headers=headers or {},
    )


def answer(auth, request_id: int, message: str, files: list[tuple[str, bytes]] = (), **kw):
    path = f"/service-fait/organisme/demandes/{request_id}"
    data: dict[str, Any] = {"message": message}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return auth.post(path, data, content_type="multipart/form-data", token_from=path, **kw)


def text_of(html: str) -> str:
    """The visible text of a page, whitespace collapsed (for assertions on sentences)."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
