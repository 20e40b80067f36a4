"""The state of a dossier's control in the queue, shared by the checks, the requests for
documents and the decisions.

`control_for` gives (creating it if needed) the dossier's `ServiceFaitControl`;
`refresh_state` derives its status and totals from what the dossier holds:

- an open request for documents: the dossier waits for the OF;
- otherwise, every current invoice has an active decision (and there is at least one):
  controlled;
- otherwise: to control.

`derive_status` is the rule itself, pure, for the tests and for batch updates.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    ControlStatus,
    DocumentRequest,
    Dossier,
    Invoice,
    InvoiceDecision,
    RequestStatus,
    ServiceFaitControl,
)


def derive_status(*, open_requests: int, invoices: int, decided_invoices: int) -> ControlStatus:
    """Where a dossier stands, from counts of what it holds."""
    if open_requests:
        return ControlStatus.WAITING_PROVIDER
    if invoices and decided_invoices >= invoices:
        return ControlStatus.DECIDED
    return ControlStatus.TO_CONTROL


def control_for(dossier: Dossier) -> ServiceFaitControl:
    """The dossier's control, created (not committed) on first use."""
    control = db.session.scalar(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == dossier.id)
    )
    if control is None:
        control = ServiceFaitControl(
            dossier_id=dossier.id,
            funder_id=dossier.funder_id,
            status=ControlStatus.TO_CONTROL.value,
            blocking_count=0,
            warning_count=0,
            info_count=0,
            invoiced_total=Decimal("0"),
            validated_total=Decimal("0"),
        )
        db.session.add(control)
        db.session.flush()
    return control


def refresh_state(control: ServiceFaitControl) -> ServiceFaitControl:
    """Recompute the control's status and totals (within the caller's transaction)."""
    dossier_id = control.dossier_id
    invoices = db.session.execute(
        select(func.count(Invoice.id), func.coalesce(func.sum(Invoice.amount_incl_tax), 0)).where(
            Invoice.dossier_id == dossier_id, Invoice.superseded_at.is_(None)
        )
    ).one()
    decided = db.session.execute(
        select(
            func.count(InvoiceDecision.id),
            func.coalesce(func.sum(InvoiceDecision.amount_validated), 0),
        )
        .join(Invoice, Invoice.id == InvoiceDecision.invoice_id)
        .where(
            InvoiceDecision.dossier_id == dossier_id,
            InvoiceDecision.reopened_at.is_(None),
            Invoice.superseded_at.is_(None),
        )
    ).one()
    open_requests = db.session.scalar(
        select(func.count(DocumentRequest.id)).where(
            DocumentRequest.dossier_id == dossier_id,
            DocumentRequest.status == RequestStatus.OPEN.value,
        )
    )
    status = derive_status(
        open_requests=open_requests or 0, invoices=invoices[0], decided_invoices=decided[0]
    )
    control.invoiced_total = Decimal(str(invoices[1]))
    control.validated_total = Decimal(str(decided[1]))
    if status != control.status:
        control.status = status.value
        control.decided_at = utcnow() if status == ControlStatus.DECIDED else None
    return control
