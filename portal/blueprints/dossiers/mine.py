"""The OF's space "Mes dossiers": its dossiers from every funder, each with what is still
to send (served at /dossiers/ for OF users, see `routes.index`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import clock, following, notices
from portal.blueprints.dossiers import SECTION
from portal.blueprints.dossiers.piece_forms import (
    MineFilterForm,
)
from portal.dossiers import pieces as service
from portal.dossiers.calendar import DUE_AFTER_DAYS
from portal.extensions import db
from portal.forms import choices
from portal.models import (
    DOSSIER_STATUS_LABELS,
    SCHEME_LABELS,
    Dossier,
    Funder,
    FunderProvider,
)
from portal.pagination import page_from
from portal.rendering import render_page, wants_fragment
from portal.web import actor

PER_PAGE = 20


@dataclass(frozen=True)
class MineRow:
    dossier: Dossier
    to_send: list[service.PeriodToSend]
    upcoming: service.PeriodToSend | None


def my_dossiers() -> Response:
    """The OF's space: its dossiers from every funder, each with what is still to send."""
    user = actor()
    today = clock.today()
    form = MineFilterForm(request.args)
    funders = db.session.execute(
        select(Funder.id, Funder.name)
        .join(FunderProvider, FunderProvider.funder_id == Funder.id)
        .where(FunderProvider.provider_id == user.provider_id)
        .order_by(Funder.name)
    ).all()
    form.financeur.choices = choices([(0, "Tous les financeurs"), *funders])
    form.validate()
    filters = service.MineFilters(
        q=(form.q.data or "") if not form.q.errors else "",
        funder_id=(form.financeur.data or None) if not form.financeur.errors else None,
        missing_only=bool(form.manquantes.data),
    )
    page = db.paginate(
        service.provider_dossiers(user, filters, today),
        page=page_from(request.args),
        per_page=PER_PAGE,
        error_out=False,
    )
    by_dossier = service.slots_for_many(page.items, today)
    rows = [
        MineRow(d, service.to_send(by_dossier[d.id]), service.next_upcoming(by_dossier[d.id]))
        for d in page.items
    ]
    return render_page(
        "dossiers/mine.html",
        block="results",
        section=SECTION,
        form=form,
        page=page,
        rows=rows,
        filters=filters,
        page_args=filters.args(),
        today=today,
        due_after_days=DUE_AFTER_DAYS,
        status_labels=DOSSIER_STATUS_LABELS,
        scheme_labels=SCHEME_LABELS,
        notices=[] if wants_fragment() else notices.notices_for(user, notices.MY_DOSSIERS),
        followers=[] if wants_fragment() else following.followers(user.provider_id),
    )
