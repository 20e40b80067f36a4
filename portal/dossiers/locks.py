"""Which pieces an active decision on an invoice locks.

A decision of service fait relies on the invoice and on the pieces of the same period: while
it is active (not reopened), the OF cannot replace them. The decisions themselves are the
service-fait domain's; reading the lock needs only the shared models, so that the dossiers
domain can refuse a replacement without importing that domain.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from portal import formatting
from portal.extensions import db
from portal.models import InvoiceDecision, Piece
from portal.models.service_fait import decision_pieces

LOCKED = (
    "Cette pièce ne peut pas être remplacée : la décision du {date} sur la facture{number} "
    "s'appuie sur elle. Si elle doit l'être, demandez au financeur de rouvrir cette décision."
)


def locking_decisions(piece_ids: Iterable[int]) -> dict[int, InvoiceDecision]:
    """For each piece id locked by an active decision, that decision (one query)."""
    wanted = sorted(set(piece_ids))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(decision_pieces.c.piece_id, InvoiceDecision)
        .join(InvoiceDecision, InvoiceDecision.id == decision_pieces.c.decision_id)
        .where(decision_pieces.c.piece_id.in_(wanted), InvoiceDecision.reopened_at.is_(None))
    )
    return {piece_id: decision for piece_id, decision in rows}


def locked_message(piece: Piece) -> str | None:
    """A French message when an active decision relies on `piece` (it may not be
    replaced), else None."""
    decision = locking_decisions([piece.id]).get(piece.id)
    if decision is None:
        return None
    invoice = db.session.get(Piece, decision.invoice_id)
    number = invoice.invoice_number if invoice is not None and invoice.invoice_number else ""
    return LOCKED.format(
        date=formatting.date_fr(decision.decided_at),
        number=f" n° {number}" if number else "",
    )
