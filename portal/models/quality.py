"""Quality controls of an OF against the RNQ ("contrôle de la qualité effective").

A `QualityControl` is planned by a funder (the lead), possibly with partner funders who
control together (`QualityControlPartner`); it has a mode, a date, a scope (actions and
sampled dossiers), participants, and the profile of the controlled actions that decides
which indicators the grid holds (`portal.rnq.applicable`). Each grid row is a
`QualityFinding` (one per indicator code: "1" … "32", "CR-A" … for Certif'Région), with its
evidence (`QualityEvidence`: a file uploaded by the controller or a piece already in the
portal). A non-conformity carries its deadline and the state of its corrective action; the
exchanges about it (the OF's action plan and proof, the controller's lifting or keeping)
are `CorrectiveMessage` rows with their files.

When `shared` is set, the other funders of the OF (those following it) may read the
control: pooled controls. The rules are in `portal.quality.rules`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.accounts import User
from portal.models.dossiers import Document, Dossier, Piece
from portal.models.organisations import Funder, Provider
from portal.models.types import UTCDateTime


class ControlMode(enum.StrEnum):
    ON_SITE = "sur_site"
    REMOTE = "a_distance"


CONTROL_MODE_LABELS = {ControlMode.ON_SITE: "Sur site", ControlMode.REMOTE: "À distance"}


class QualityControlStatus(enum.StrEnum):
    PLANNED = "planifie"  # planned; the grid may be filled
    REPORTED = "rapport"  # the report is issued: findings fixed, corrective actions run
    CLOSED = "clos"  # every non-conformity lifted, or closed by the lead funder


QUALITY_CONTROL_STATUS_LABELS = {
    QualityControlStatus.PLANNED: "Planifié",
    QualityControlStatus.REPORTED: "Rapport émis",
    QualityControlStatus.CLOSED: "Clos",
}

#: The profile flags of the controlled actions (columns of QualityControl), with labels.
PROFILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("certifying", "Actions conduisant à une certification professionnelle (RNCP/RS)"),
    ("apprenticeship", "Actions de formation par apprentissage"),
    ("work_based", "Formations en situation de travail (AFEST)"),
    ("subcontracting", "L'organisme fait appel à la sous-traitance ou au portage salarial"),
    ("short_only", "Toutes les actions durent 2 jours ou moins"),
)


quality_control_dossiers = db.Table(
    "quality_control_dossiers",
    db.Column(
        "control_id",
        ForeignKey("quality_controls.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    db.Column("dossier_id", ForeignKey("dossiers.id"), primary_key=True, index=True),
)


class QualityControl(db.Model):
    __tablename__ = "quality_controls"
    __table_args__ = (
        Index("ix_quality_controls_funder", "funder_id", "control_date"),
        Index("ix_quality_controls_provider", "provider_id", "control_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))  # the lead funder
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mode: Mapped[str] = mapped_column(String(20), default=ControlMode.ON_SITE.value)
    control_date: Mapped[date] = mapped_column(Date)
    scope_actions: Mapped[str] = mapped_column(Text, default="")
    participants: Mapped[str] = mapped_column(Text, default="")
    # The profile of the controlled actions: which indicators apply.
    certifying: Mapped[bool] = mapped_column(default=False)
    apprenticeship: Mapped[bool] = mapped_column(default=False)
    work_based: Mapped[bool] = mapped_column(default=False)
    subcontracting: Mapped[bool] = mapped_column(default=False)
    short_only: Mapped[bool] = mapped_column(default=False)
    certif_region: Mapped[bool] = mapped_column(default=False)
    # Pooled: readable by every funder that follows the OF.
    shared: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=QualityControlStatus.PLANNED.value)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signalement_id: Mapped[int | None] = mapped_column(ForeignKey("signalements.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    funder: Mapped[Funder] = relationship()
    provider: Mapped[Provider] = relationship()
    created_by: Mapped[User | None] = relationship()
    partners: Mapped[list[QualityControlPartner]] = relationship(
        back_populates="control", cascade="all, delete-orphan"
    )
    dossiers: Mapped[list[Dossier]] = relationship(
        secondary=quality_control_dossiers, order_by="Dossier.reference"
    )
    findings: Mapped[list[QualityFinding]] = relationship(
        back_populates="control",
        cascade="all, delete-orphan",
        order_by="QualityFinding.position",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @property
    def is_planned(self) -> bool:
        """Planned: the grid may still be filled, no report yet."""
        return self.status == QualityControlStatus.PLANNED


class QualityControlPartner(db.Model):
    """A funder controlling together with the lead funder (a joint control)."""

    __tablename__ = "quality_control_partners"

    control_id: Mapped[int] = mapped_column(
        ForeignKey("quality_controls.id", ondelete="CASCADE"), primary_key=True
    )
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), primary_key=True, index=True)

    control: Mapped[QualityControl] = relationship(back_populates="partners")
    funder: Mapped[Funder] = relationship()


class QualityFinding(db.Model):
    """One row of a control's grid: an indicator, what was found, and, for a
    non-conformity, its deadline and where its corrective action stands."""

    __tablename__ = "quality_findings"
    __table_args__ = (
        UniqueConstraint("control_id", "code"),
        Index("ix_quality_findings_nc", "nc_status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(ForeignKey("quality_controls.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))  # "1" … "32", "CR-A" … "CR-L"
    position: Mapped[int] = mapped_column()  # order in the grid
    finding: Mapped[str | None] = mapped_column(String(20))
    not_applicable_reason: Mapped[str] = mapped_column(Text, default="")
    observations: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    nc_status: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    control: Mapped[QualityControl] = relationship(back_populates="findings")
    evidence: Mapped[list[QualityEvidence]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="QualityEvidence.id"
    )
    messages: Mapped[list[CorrectiveMessage]] = relationship(
        back_populates="finding",
        cascade="all, delete-orphan",
        order_by="CorrectiveMessage.id",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}


class QualityEvidence(db.Model):
    """Evidence of a finding: a file the controller uploaded, or a piece of a dossier."""

    __tablename__ = "quality_evidence"
    __table_args__ = (UniqueConstraint("finding_id", "piece_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("quality_findings.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("pieces.id"))
    title: Mapped[str] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    finding: Mapped[QualityFinding] = relationship(back_populates="evidence")
    document: Mapped[Document | None] = relationship()
    piece: Mapped[Piece | None] = relationship()


class CorrectiveKind(enum.StrEnum):
    PLAN = "plan"  # the OF's action plan and proof
    LIFTED = "levee"  # the controller lifts the non-conformity
    KEPT = "maintenue"  # the controller keeps it, saying why
    NOTE = "note"  # anything else said about it


CORRECTIVE_KIND_LABELS = {
    CorrectiveKind.PLAN: "Plan d'action et preuves",
    CorrectiveKind.LIFTED: "Non-conformité levée",
    CorrectiveKind.KEPT: "Non-conformité maintenue",
    CorrectiveKind.NOTE: "Message",
}


corrective_message_documents = db.Table(
    "corrective_message_documents",
    db.Column(
        "message_id",
        ForeignKey("corrective_messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    db.Column("document_id", ForeignKey("documents.id"), primary_key=True),
)


class CorrectiveMessage(db.Model):
    __tablename__ = "corrective_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("quality_findings.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    finding: Mapped[QualityFinding] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    documents: Mapped[list[Document]] = relationship(secondary=corrective_message_documents)
