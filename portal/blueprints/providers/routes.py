"""The 360° page of an OF for the funder's staff (portal.provider_overview)."""

from __future__ import annotations

from flask import render_template, url_for

from portal import clock
from portal.access import get_provider_or_404, roles_required
from portal.blueprints.providers import bp
from portal.models import FUNDER_ROLES, Provider
from portal.models.service_fait import ControlStatus
from portal.provider_overview import overview as provider_overview
from portal.service_fait import queue
from portal.web import actor


def full_lists(provider: Provider) -> dict[str, str]:
    """Each section's full list, filtered on the OF (by NDA where the list reads an
    identifier, by its id where it offers a choice of OF)."""
    nda, own = provider.nda, str(provider.id)
    return {
        "qualiopi": url_for("public_list.provider", nda=nda),
        "alerts": url_for("public_list.alerts"),
        "dossiers": url_for("dossiers.index", organisme=nda),
        "controls": url_for("service_fait.index", organisme=nda, statut=queue.STATUS_ALL),
        "decisions": url_for(
            "service_fait.index", organisme=nda, statut=ControlStatus.DECIDED.value
        ),
        "requests": url_for(
            "service_fait.index", organisme=nda, statut=ControlStatus.WAITING_PROVIDER.value
        ),
        "late_requests": url_for(
            "service_fait.index",
            organisme=nda,
            statut=queue.STATUS_ALL,
            demande=queue.REQUEST_LATE,
        ),
        "quality": url_for("quality.index", organisme=own),
        "nonconformities": url_for("quality.nonconformities", organisme=own),
        "subcontracts": url_for("subcontracting.provider_page", provider_id=provider.id),
        "certificate": url_for("certification.provider", provider_id=provider.id),
        "signalements": url_for("signalements.index", organisme=nda),
        "new_signalement": url_for("signalements.new", organisme=nda),
    }


@bp.get("/<int:provider_id>")
@roles_required(*FUNDER_ROLES)
def overview(provider_id: int) -> str:
    user = actor()
    provider = get_provider_or_404(provider_id, user)
    return render_template(
        "providers/overview.html",
        view=provider_overview(user, provider, clock.today()),
        lists=full_lists(provider),
    )
