"""Contrôle de service fait: the control of a dossier, the results of the automatic checks,
requests for documents with the thread between controller and OF, decisions per invoice,
and the sampling plans that choose what to control.

One `ServiceFaitControl` per dossier holds the queue's state (status, assignee, counts of
findings per severity, totals) so that the controller's queue filters and sorts on one row
per dossier. The checks themselves are pure functions (`portal.service_fait.checks`); their
results are stored as `CheckFinding` rows, replaced at every run.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.dossiers import MONEY, Document, Dossier, Piece
from portal.models.types import UTCDateTime


class ControlStatus(enum.StrEnum):
    TO_CONTROL = "a_controler"  # pieces to look at (new, or the OF answered)
    WAITING_PROVIDER = "attente_of"  # a request for documents is open
    DECIDED = "controle"  # every current invoice has a decision


CONTROL_STATUS_LABELS = {
    ControlStatus.TO_CONTROL: "À contrôler",
    ControlStatus.WAITING_PROVIDER: "En attente de l'organisme",
    ControlStatus.DECIDED: "Contrôlé",
}


class Severity(enum.StrEnum):
    BLOCKING = "bloquant"
    WARNING = "alerte"
    INFO = "information"


SEVERITY_LABELS = {
    Severity.BLOCKING: "Bloquant",
    Severity.WARNING: "Alerte",
    Severity.INFO: "Information",
}


class ServiceFaitControl(db.Model):
    """The control of one dossier: where it stands in the controller's queue."""

    __tablename__ = "service_fait_controls"
    __table_args__ = (
        Index("ix_sf_controls_funder_status", "funder_id", "status", "dossier_id"),
        Index("ix_sf_controls_funder_blocking", "funder_id", "blocking_count"),
        Index("ix_sf_controls_funder_assignee", "funder_id", "assigned_to_id", "status"),
        Index("ix_sf_controls_funder_invoiced", "funder_id", "invoiced_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    # The dossier's funder, copied so that the queue filters on this table alone.
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    status: Mapped[str] = mapped_column(String(20), default=ControlStatus.TO_CONTROL.value)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    blocking_count: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    info_count: Mapped[int] = mapped_column(default=0)
    checks_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Sums over the current invoices and the active decisions (kept by the services).
    invoiced_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    validated_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    dossier: Mapped[Dossier] = relationship()
    assigned_to = relationship("User", foreign_keys=[assigned_to_id])
    findings: Mapped[list[CheckFinding]] = relationship(
        back_populates="control",
        cascade="all, delete-orphan",
        order_by="(CheckFinding.severity_rank, CheckFinding.code, CheckFinding.id)",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}


class CheckFinding(db.Model):
    """One anomaly (or information) found by an automatic check on a dossier."""

    __tablename__ = "service_fait_findings"
    __table_args__ = (
        # A dossier's findings (the queue's page), and whether it has one of a code (and
        # severity): the queue's anomaly filter, an EXISTS per control, must find it on
        # the three columns, not scan every finding of the code (issue 19: 31 s).
        Index("ix_sf_findings_dossier_code_severity", "dossier_id", "code", "severity"),
        Index("ix_sf_findings_code_severity", "code", "severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(
        ForeignKey("service_fait_controls.id", ondelete="CASCADE"), index=True
    )
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    code: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    # 0 blocking, 1 warning, 2 information: the order in which findings are shown.
    severity_rank: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(200))
    explanation: Mapped[str] = mapped_column(Text)
    # The piece the finding is about, when there is one (e.g. the invoice over the amount).
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("pieces.id"))
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)

    control: Mapped[ServiceFaitControl] = relationship(back_populates="findings")


class RequestStatus(enum.StrEnum):
    OPEN = "ouverte"  # waiting for the OF
    ANSWERED = "repondue"  # the OF answered; the controller reads the answer
    CLOSED = "close"  # settled (or withdrawn) by the controller


REQUEST_STATUS_LABELS = {
    RequestStatus.OPEN: "En attente de l'organisme",
    RequestStatus.ANSWERED: "Réponse reçue",
    RequestStatus.CLOSED: "Close",
}


class DocumentRequest(db.Model):
    """A demande de pièces complémentaires: what is missing or wrong, by when."""

    __tablename__ = "document_requests"
    __table_args__ = (
        Index("ix_document_requests_dossier", "dossier_id", "status"),
        Index("ix_document_requests_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)
    # What is asked, one dict per item: {"kind", "period_start", "period_end", "piece_id",
    # "reason"} (ISO dates; piece_id when an existing piece is wrong, else None).
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.OPEN.value)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    dossier: Mapped[Dossier] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])

    @property
    def is_closed(self) -> bool:
        return self.status == RequestStatus.CLOSED


control_message_documents = Table(
    "control_message_documents",
    db.metadata,
    Column("message_id", ForeignKey("control_messages.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", ForeignKey("documents.id"), primary_key=True),
)


class ControlMessage(db.Model):
    """One message of the thread between the funder's controllers and the OF on a dossier."""

    __tablename__ = "control_messages"
    __table_args__ = (Index("ix_control_messages_dossier", "dossier_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("document_requests.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # "funder" or "provider": which side wrote it (kept if the account goes).
    side: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    body: Mapped[str] = mapped_column(Text)

    author = relationship("User", foreign_keys=[author_id])
    request: Mapped[DocumentRequest | None] = relationship()
    documents: Mapped[list[Document]] = relationship(secondary=control_message_documents)


class MessageTemplate(db.Model):
    """A reusable text for requests for documents (funder_id None: offered to every funder)."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int | None] = mapped_column(ForeignKey("funders.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)


class DecisionOutcome(enum.StrEnum):
    CONFORMING = "conforme"
    PARTLY_CONFORMING = "partiellement_conforme"
    NOT_CONFORMING = "non_conforme"


DECISION_OUTCOME_LABELS = {
    DecisionOutcome.CONFORMING: "Conforme",
    DecisionOutcome.PARTLY_CONFORMING: "Partiellement conforme",
    DecisionOutcome.NOT_CONFORMING: "Non conforme",
}


decision_pieces = Table(
    "invoice_decision_pieces",
    db.metadata,
    Column("decision_id", ForeignKey("invoice_decisions.id", ondelete="CASCADE"), primary_key=True),
    Column("piece_id", ForeignKey("pieces.id"), primary_key=True, index=True),
)


class InvoiceDecision(db.Model):
    """The controller's decision on one invoice. Active while `reopened_at` is None; a
    reopened decision stays, for the record, and a new one is taken."""

    __tablename__ = "invoice_decisions"
    __table_args__ = (
        # At most one active decision per invoice: two controllers deciding at once cannot
        # both succeed.
        Index(
            "uq_invoice_decisions_active",
            "invoice_id",
            unique=True,
            sqlite_where=text("reopened_at IS NULL"),
            postgresql_where=text("reopened_at IS NULL"),
        ),
        Index("ix_invoice_decisions_dossier", "dossier_id"),
        CheckConstraint("amount_validated >= 0", name="amount_validated"),
        CheckConstraint("amount_validated <= amount_invoiced", name="validated_le_invoiced"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"))
    outcome: Mapped[str] = mapped_column(String(30))
    amount_invoiced: Mapped[Decimal] = mapped_column(MONEY)
    amount_validated: Mapped[Decimal] = mapped_column(MONEY)
    # A code of the shared catalogue (portal.service_fait.reasons); None when conforming.
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopen_reason: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Piece] = relationship(foreign_keys=[invoice_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    reopened_by = relationship("User", foreign_keys=[reopened_by_id])
    # The pieces the decision relied on: locked while it is active.
    pieces: Mapped[list[Piece]] = relationship(secondary=decision_pieces)


class SamplingDraw(db.Model):
    """A random draw of dossiers or OF to control, reproducible from its seed and
    parameters."""

    __tablename__ = "sampling_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), index=True)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unit: Mapped[str] = mapped_column(String(20))  # "dossier" or "organisme"
    rate_percent: Mapped[Decimal] = mapped_column(MONEY)
    weighted: Mapped[bool] = mapped_column(default=False)
    seed: Mapped[str] = mapped_column(String(64))
    # Every parameter of the draw (filters, weights, population snapshot ids), as given.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    population_size: Mapped[int] = mapped_column(default=0)
    selected_ids: Mapped[list[int]] = mapped_column(JSON, default=list)

    drawn_by = relationship("User", foreign_keys=[drawn_by_id])
