"""Each dossier's page: its figures, the expected-pieces calendar, its pieces and their
versions, and the Qualiopi status on the start date.

The dossier is loaded with `get_dossier_or_404`: another OF's or another funder's dossier
answers 404, and the refusal is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import render_template
from sqlalchemy import select

from portal import clock
from portal.access import can_add_pieces, get_dossier_or_404, is_funder_side, roles_required
from portal.blueprints.dossiers import SECTION, bp
from portal.dossiers import locks
from portal.dossiers import pieces as service
from portal.dossiers.calendar import DUE_AFTER_DAYS, SLOT_STATUS_LABELS, slots
from portal.dossiers.rules import CATEGORY_LABELS
from portal.extensions import db
from portal.identifiers import Identifier
from portal.models import (
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    PIECE_KIND_LABELS,
    SCHEME_LABELS,
    Category,
    Dossier,
    PieceKind,
    User,
)
from portal.public_list import lookup
from portal.service_fait import document_requests as requests_service
from portal.uploads import STORED_TYPES
from portal.web import actor

VIEWERS = tuple(SECTION.roles)


@dataclass(frozen=True)
class QualiopiStatus:
    on: date
    list_as_of: date | None  # the list the answer comes from
    on_start_date: bool  # False: no list was in force then, the answer is today's list's
    found: bool
    certified: bool  # for the dossier's category
    category_label: str


def _qualiopi_status(dossier: Dossier, today: date) -> QualiopiStatus:
    """What the public list in force on the start date said of the OF, for the dossier's
    category; when no list imported was in force then, what today's list says."""
    ident = Identifier("nda", dossier.provider.nda)
    result = lookup.check(ident, dossier.start_date)
    on_start_date = result.list_as_of is not None
    if not on_start_date:
        result = lookup.check(ident, today)
    match = result.matches[0] if result.matches else None
    return QualiopiStatus(
        on=dossier.start_date,
        list_as_of=result.list_as_of,
        on_start_date=on_start_date,
        found=match is not None,
        certified=bool(match and match.categories.get(dossier.category)),
        category_label=CATEGORY_LABELS.get(Category(dossier.category), dossier.category),
    )


def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all()
    )


@bp.get("/<int:dossier_id>")
@roles_required(*VIEWERS)
def detail(dossier_id: int) -> str:
    user = actor()
    dossier = get_dossier_or_404(dossier_id, user)
    today = clock.today()
    pieces = service.dossier_pieces(dossier)
    current = [p for p in pieces if p.superseded_at is None]
    by_id = {p.id: p for p in pieces}
    funder_side = is_funder_side(user)
    return render_template(
        "dossiers/detail.html",
        section=SECTION,
        dossier=dossier,
        today=today,
        slots=slots(service.expected_for(dossier), current, today),
        pieces_by_id=by_id,
        versions=service.with_versions(pieces),
        figures=service.figures,
        provenance=service.provenance,
        duplicates=(
            service.duplicates_by_sha(
                {p.document.sha256 for p in pieces}, dossier.id, funder_id=dossier.funder_id
            )
            if funder_side
            else {}
        ),
        history=service.history(dossier, pieces) if funder_side else None,
        qualiopi=_qualiopi_status(dossier, today),
        can_add=can_add_pieces(user, dossier),
        locks=locks.locking_decisions(p.id for p in current),
        funder_side=funder_side,
        requests_thread=None if funder_side else requests_service.provider_thread(dossier, today),
        kinds=list(PieceKind),
        kind_labels=PIECE_KIND_LABELS,
        slot_status_labels=SLOT_STATUS_LABELS,
        due_after_days=DUE_AFTER_DAYS,
        labels={
            "category": CATEGORY_LABELS.get(Category(dossier.category), dossier.category),
            "scheme": SCHEME_LABELS.get(dossier.scheme, dossier.scheme),
            "modality": MODALITY_LABELS.get(dossier.modality, dossier.modality),
            "rhythm": PAYMENT_RHYTHM_LABELS.get(dossier.payment_rhythm, dossier.payment_rhythm),
            "status": DOSSIER_STATUS_LABELS.get(dossier.status, dossier.status),
        },
        uploaders=_names({p.created_by_id for p in pieces if p.created_by_id}),
        type_labels=STORED_TYPES,
    )
