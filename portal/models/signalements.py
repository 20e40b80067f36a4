"""Signalements: substantiated quality reports from a funder to the ministry, and their review.

A `Signalement` is about one OF (`Provider`), written by a funder's staff: the facts (what,
when, where, which dossiers, which period), the RNQ indicators concerned (numbers, see
`portal.rnq`), the seriousness, and its evidence (`SignalementEvidence`: pieces of the
dossiers, results of the service-fait controls, uploaded files). It moves through the states
of `portal.signalements.workflow`; each transition is dated on the row and written to the
audit log. Funder and ministry talk in its thread (`SignalementMessage`); each side is
told of the other's moves in the portal (`SignalementNotification`) and by mail.

The OF never sees any of this: no route of the OF side reads these tables.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.dossiers import Document, Dossier, Piece
from portal.models.organisations import Funder, Provider
from portal.models.types import UTCDateTime


class SignalementState(enum.StrEnum):
    DRAFT = "brouillon"
    AWAITING_APPROVAL = "a_approuver"
    SENT = "transmis"
    UNDER_REVIEW = "en_examen"
    INFO_REQUESTED = "complement_demande"
    FORWARDED = "transmis_certificateur"
    DISMISSED = "classe_sans_suite"
    CLOSED = "clos"


SIGNALEMENT_STATE_LABELS = {
    SignalementState.DRAFT: "Brouillon",
    SignalementState.AWAITING_APPROVAL: "En attente d'approbation",
    SignalementState.SENT: "Transmis au ministère",
    SignalementState.UNDER_REVIEW: "En examen",
    SignalementState.INFO_REQUESTED: "Complément demandé",
    SignalementState.FORWARDED: "Transmis au certificateur",
    SignalementState.DISMISSED: "Classé sans suite",
    SignalementState.CLOSED: "Clos",
}


class Seriousness(enum.StrEnum):
    MODERATE = "moderee"
    SERIOUS = "serieuse"
    GRAVE = "grave"


SERIOUSNESS_LABELS = {
    Seriousness.MODERATE: "Modérée — manquement partiel, sans effet avéré sur la qualité",
    Seriousness.SERIOUS: "Sérieuse — la qualité de la prestation est en cause",
    Seriousness.GRAVE: "Grave — bénéficiaires exposés ou fraude présumée, à traiter en priorité",
}


class Outcome(enum.StrEnum):
    FORWARDED = "transmis_certificateur"
    NO_FURTHER_ACTION = "sans_suite"
    MERGED = "fusionne"


OUTCOME_LABELS = {
    Outcome.FORWARDED: "Transmis au certificateur",
    Outcome.NO_FURTHER_ACTION: "Sans suite",
    Outcome.MERGED: "Fusionné avec un autre signalement",
}

#: Why a signalement is closed without further action (a code, and a free text).
DISMISSAL_REASONS = {
    "faits_non_etablis": "Faits non établis par les pièces",
    "hors_champ": "Hors du champ du référentiel national qualité",
    "deja_traite": "Déjà traité (autre procédure en cours ou close)",
    "regularise": "Situation régularisée par l'organisme",
    "autre": "Autre motif (précisé)",
}


class EvidenceKind(enum.StrEnum):
    PIECE = "piece"  # a piece of one of the dossiers (its file)
    FINDING = "constat"  # a result of the automatic service-fait checks
    DECISION = "decision"  # a controller's decision on an invoice
    FILE = "fichier"  # a file uploaded with the signalement


EVIDENCE_KIND_LABELS = {
    EvidenceKind.PIECE: "Pièce du dossier",
    EvidenceKind.FINDING: "Résultat de contrôle",
    EvidenceKind.DECISION: "Décision sur facture",
    EvidenceKind.FILE: "Fichier joint",
}


class Side(enum.StrEnum):
    FUNDER = "financeur"
    MINISTRY = "ministere"


class MessageKind(enum.StrEnum):
    MESSAGE = "message"
    INFO_REQUEST = "demande"
    ANSWER = "reponse"


signalement_dossiers = Table(
    "signalement_dossiers",
    db.metadata,
    Column("signalement_id", ForeignKey("signalements.id", ondelete="CASCADE"), primary_key=True),
    Column("dossier_id", ForeignKey("dossiers.id"), primary_key=True, index=True),
)


class Certifier(db.Model):
    """An organisme certificateur (or a labelling body) a signalement may be forwarded to."""

    __tablename__ = "certifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignalementSettings(db.Model):
    """A funder's settings for its signalements (one row per funder, created on first save)."""

    __tablename__ = "signalement_settings"

    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), primary_key=True)
    # A funder admin approves each signalement before it goes to the ministry.
    approval_required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Signalement(db.Model):
    __tablename__ = "signalements"
    __table_args__ = (
        Index("ix_signalements_funder_state", "funder_id", "state"),
        Index("ix_signalements_state_sent", "state", "sent_at"),
        Index("ix_signalements_region_state", "region_code", "state"),
        Index("ix_signalements_provider_sent", "provider_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The OF's region in the public list (its NDA's `codeRegion`), read when the signalement
    # is written and again when it is sent: the ministry's liaisons see their region's.
    region_code: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(30), default=SignalementState.DRAFT.value)

    # The facts.
    facts_what: Mapped[str] = mapped_column(Text, default="")
    facts_when: Mapped[str] = mapped_column(String(300), default="")
    facts_where: Mapped[str] = mapped_column(String(300), default="")
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    seriousness: Mapped[str] = mapped_column(String(20), default=Seriousness.SERIOUS.value)

    # When each step happened (the last time, for those that repeat).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    info_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    info_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The ministry's side.
    ministry_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    certifier_id: Mapped[int | None] = mapped_column(ForeignKey("certifiers.id"))
    # The certifier as named when forwarded (from the table, or typed).
    certifier_name: Mapped[str | None] = mapped_column(String(200))
    certifier_sent_on: Mapped[date | None] = mapped_column(Date)
    certifier_reference: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_reason_code: Mapped[str | None] = mapped_column(String(30))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("signalements.id"))

    version: Mapped[int] = mapped_column(default=1)

    funder: Mapped[Funder] = relationship()
    provider: Mapped[Provider] = relationship()
    author = relationship("User", foreign_keys=[author_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    ministry_assignee = relationship("User", foreign_keys=[ministry_assignee_id])
    certifier: Mapped[Certifier | None] = relationship()
    merged_into: Mapped[Signalement | None] = relationship(remote_side=[id])
    dossiers: Mapped[list[Dossier]] = relationship(
        secondary=signalement_dossiers, order_by="Dossier.reference"
    )
    evidence: Mapped[list[SignalementEvidence]] = relationship(
        back_populates="signalement",
        cascade="all, delete-orphan",
        order_by="SignalementEvidence.id",
    )
    # The RNQ indicators concerned (numbers 1 to 32, see `portal.rnq`): rows of a link
    # table, so that the ministry's inbox filters on one indicator in plain SQL.
    indicator_rows: Mapped[list[SignalementIndicator]] = relationship(
        cascade="all, delete-orphan",
        order_by="SignalementIndicator.number",
        lazy="selectin",
    )
    messages: Mapped[list[SignalementMessage]] = relationship(
        back_populates="signalement",
        cascade="all, delete-orphan",
        order_by="SignalementMessage.id",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @property
    def reference(self) -> str:
        """« SIG-00042 »: how people name it in mails and on the phone."""
        return f"SIG-{self.id:05d}"

    @property
    def indicators(self) -> list[int]:
        return sorted(row.number for row in self.indicator_rows)

    def set_indicators(self, numbers: list[int]) -> None:
        """Keep the rows of `numbers`, add the new ones, drop the others."""
        wanted = set(numbers)
        self.indicator_rows = [row for row in self.indicator_rows if row.number in wanted]
        present = {row.number for row in self.indicator_rows}
        self.indicator_rows.extend(SignalementIndicator(number=n) for n in sorted(wanted - present))

    @property
    def state_label(self) -> str:
        return SIGNALEMENT_STATE_LABELS[SignalementState(self.state)]

    @property
    def is_draft(self) -> bool:
        return self.state == SignalementState.DRAFT

    @property
    def is_sent(self) -> bool:
        """Transmitted to the ministry (no longer a draft nor awaiting approval): the
        thread between the funder and the ministry is open."""
        return self.state not in (SignalementState.DRAFT, SignalementState.AWAITING_APPROVAL)

    @property
    def info_requested(self) -> bool:
        return self.state == SignalementState.INFO_REQUESTED

    @property
    def awaiting_approval(self) -> bool:
        return self.state == SignalementState.AWAITING_APPROVAL

    @property
    def forwarded_to_certifier(self) -> bool:
        return self.outcome == Outcome.FORWARDED

    @property
    def dismissed(self) -> bool:
        return self.outcome == Outcome.NO_FURTHER_ACTION

    @property
    def merged(self) -> bool:
        return self.outcome == Outcome.MERGED

    @property
    def seriousness_label(self) -> str:
        return SERIOUSNESS_LABELS[Seriousness(self.seriousness)]

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[Outcome(self.outcome)] if self.outcome else ""


class SignalementIndicator(db.Model):
    """One RNQ indicator a signalement is about."""

    __tablename__ = "signalement_indicators"

    signalement_id: Mapped[int] = mapped_column(
        ForeignKey("signalements.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(SmallInteger, primary_key=True, index=True)


class SignalementEvidence(db.Model):
    """One piece of evidence. Control results are copied (title and details) when chosen:
    the checks replace their findings at each run, the signalement keeps what it showed."""

    __tablename__ = "signalement_evidence"
    __table_args__ = (
        UniqueConstraint("signalement_id", "piece_id"),
        UniqueConstraint("signalement_id", "decision_id"),
        Index("ix_signalement_evidence_signalement", "signalement_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signalement_id: Mapped[int] = mapped_column(ForeignKey("signalements.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("pieces.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_fait_findings.id", ondelete="SET NULL")
    )
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_decisions.id"))
    # The file or message of the thread it came with (an answer to a request).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("signalement_messages.id"))
    # What it showed when chosen, for the page and the transmission pack.
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    signalement: Mapped[Signalement] = relationship(back_populates="evidence")
    piece: Mapped[Piece | None] = relationship()
    document: Mapped[Document | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()

    @property
    def kind_label(self) -> str:
        return EVIDENCE_KIND_LABELS[EvidenceKind(self.kind)]

    @property
    def file(self) -> Document | None:
        """The stored file behind the evidence, if it has one."""
        if self.document is not None:
            return self.document
        return self.piece.document if self.piece is not None else None


class SignalementMessage(db.Model):
    """One message of the thread between the funder and the ministry."""

    __tablename__ = "signalement_messages"
    __table_args__ = (Index("ix_signalement_messages_signalement", "signalement_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signalement_id: Mapped[int] = mapped_column(ForeignKey("signalements.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    side: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default=MessageKind.MESSAGE.value)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    signalement: Mapped[Signalement] = relationship(back_populates="messages")
    author = relationship("User", foreign_keys=[author_id])


class SignalementNotification(db.Model):
    """A notice in the portal to one user: what happened to a signalement."""

    __tablename__ = "signalement_notifications"
    __table_args__ = (Index("ix_signalement_notifications_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signalement_id: Mapped[int] = mapped_column(
        ForeignKey("signalements.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    signalement: Mapped[Signalement] = relationship()
