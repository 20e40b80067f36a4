"""An OF's Qualiopi certificate and its audits, as the OF records them.

The public list has no certificate dates and no certifier: the OF types them in, with the
certificate's file, and the portal compares the categories with the public list and computes
the deadlines (`portal.certification.rules`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.dossiers import Document
from portal.models.organisations import Provider
from portal.models.signalements import Certifier
from portal.models.types import UTCDateTime


class Certificate(db.Model):
    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("end_date > start_date", name="certificate_period"),
        Index("ix_certificates_provider", "provider_id", "end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    certifier_id: Mapped[int | None] = mapped_column(ForeignKey("certifiers.id"))
    certifier_name: Mapped[str] = mapped_column(String(200))  # as typed, or the certifier's
    number: Mapped[str] = mapped_column(String(100), default="")
    # Comma-separated `Category` values, in the order of the law.
    categories: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    provider: Mapped[Provider] = relationship()
    certifier: Mapped[Certifier | None] = relationship()
    document: Mapped[Document | None] = relationship()
    audits: Mapped[list[CertificationAudit]] = relationship(
        back_populates="certificate",
        cascade="all, delete-orphan",
        order_by="CertificationAudit.audit_date",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @property
    def category_keys(self) -> list[str]:
        return [key for key in self.categories.split(",") if key]


class CertificationAuditKind(enum.StrEnum):
    INITIAL = "initial"
    SURVEILLANCE = "surveillance"
    RENEWAL = "renouvellement"
    EXTENSION = "extension"  # a new category or new sites during the cycle


CERTIFICATION_AUDIT_KIND_LABELS = {
    CertificationAuditKind.INITIAL: "Audit initial",
    CertificationAuditKind.SURVEILLANCE: "Audit de surveillance",
    CertificationAuditKind.RENEWAL: "Audit de renouvellement",
    CertificationAuditKind.EXTENSION: "Audit d'extension",
}


class CertificationAudit(db.Model):
    __tablename__ = "certification_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(
        ForeignKey("certificates.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    audit_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    certificate: Mapped[Certificate] = relationship(back_populates="audits")
