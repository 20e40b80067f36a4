"""Subcontracting contracts and the OF's yearly CPF turnover (the rules of the field,
"Subcontracting and the CPF ceiling").

A `Subcontract` is declared by the ordering OF (the *principal*) in its space: who the
subcontractor is (its NDA and SIRET, tied to the public list's entry of that NDA), the
period, the actions and categories concerned, whether it is CPF and certifying, the price
(and, optionally, the amounts per calendar year), the signed contract, a checklist of the
mandatory mentions of the contract, and what the OF declares about the subcontractor
(micro-entrepreneur and its turnover, certifier's authorisation, dereferencing from Mon
Compte Formation). Whether it complies is computed, never stored: see
`portal.subcontracting.rules`.

`CpfTurnover` is the principal's CPF turnover made through Mon Compte Formation / EDOF for
a calendar year (typed in or imported), the denominator of the 80 % ceiling.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.dossiers import Document
from portal.models.organisations import Provider
from portal.models.types import UTCDateTime

MONEY = Numeric(12, 2)

#: The mandatory mentions of a subcontracting contract (art. R.6333-6-2; guide de lecture
#: V9), as (column, French label), in the order of the law.
CONTRACT_MENTIONS: tuple[tuple[str, str], ...] = (
    ("mentions_missions", "les missions confiées"),
    ("mentions_content", "le contenu de la prestation"),
    ("mentions_sanction", "la sanction de la formation"),
    ("mentions_means", "les moyens mobilisés (humains, pédagogiques, techniques)"),
    ("mentions_conditions", "les conditions de réalisation et de suivi de l'action"),
    ("mentions_duration", "la durée de réalisation"),
    ("mentions_period", "la période de réalisation"),
    ("mentions_price", "le prix de la prestation"),
)


class Subcontract(db.Model):
    """A subcontracting contract declared by its principal (the ordering OF)."""

    __tablename__ = "subcontracts"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="period"),
        CheckConstraint("price >= 0", name="price"),
        Index("ix_subcontracts_principal_start", "principal_id", "start_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    # The subcontractor as declared, tied to the public list by its NDA (its name is the
    # list's); `subcontractor_id` is its OF when the portal knows it.
    subcontractor_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    subcontractor_nda: Mapped[str] = mapped_column(String(11), index=True)
    subcontractor_siret: Mapped[str] = mapped_column(String(14))
    subcontractor_name: Mapped[str] = mapped_column(String(250))
    actions: Mapped[str] = mapped_column(Text)
    # Category keys (as in the public list), comma-separated.
    categories: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    is_cpf: Mapped[bool] = mapped_column(default=False)
    # RNCP or RS code when the action is certifying (None: not certifying).
    certification_code: Mapped[str | None] = mapped_column(String(20))
    # The subcontractor delivers the whole certifying action or at least a bloc de compétences.
    whole_certification: Mapped[bool] = mapped_column(default=False)
    price: Mapped[Decimal] = mapped_column(MONEY)
    contract_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    mentions_missions: Mapped[bool] = mapped_column(default=False)
    mentions_content: Mapped[bool] = mapped_column(default=False)
    mentions_sanction: Mapped[bool] = mapped_column(default=False)
    mentions_means: Mapped[bool] = mapped_column(default=False)
    mentions_conditions: Mapped[bool] = mapped_column(default=False)
    mentions_duration: Mapped[bool] = mapped_column(default=False)
    mentions_period: Mapped[bool] = mapped_column(default=False)
    mentions_price: Mapped[bool] = mapped_column(default=False)
    # Declared by the principal about its subcontractor.
    micro_entrepreneur: Mapped[bool] = mapped_column(default=False)
    micro_turnover: Mapped[Decimal | None] = mapped_column(MONEY)
    authorisation_declared: Mapped[bool] = mapped_column(default=False)
    authorisation_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    dereferenced: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Optimistic locking, as for dossiers: an edit made on a stale form is detected.
    version: Mapped[int] = mapped_column(default=1)

    principal: Mapped[Provider] = relationship(foreign_keys=[principal_id])
    subcontractor: Mapped[Provider | None] = relationship(foreign_keys=[subcontractor_id])
    contract_document: Mapped[Document | None] = relationship(foreign_keys=[contract_document_id])
    authorisation_document: Mapped[Document | None] = relationship(
        foreign_keys=[authorisation_document_id]
    )
    yearly_amounts: Mapped[list[SubcontractYearAmount]] = relationship(
        back_populates="subcontract",
        cascade="all, delete-orphan",
        order_by="SubcontractYearAmount.year",
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @property
    def category_keys(self) -> list[str]:
        return [key for key in self.categories.split(",") if key]

    @property
    def mentions(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name, _ in CONTRACT_MENTIONS}

    @property
    def amounts_by_year(self) -> dict[int, Decimal]:
        return {row.year: row.amount for row in self.yearly_amounts}


class SubcontractYearAmount(db.Model):
    """The part of a contract's price falling in a calendar year, when the OF gives it
    (otherwise the price is spread pro rata over the contract's days)."""

    __tablename__ = "subcontract_year_amounts"
    __table_args__ = (
        UniqueConstraint("subcontract_id", "year"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subcontract_id: Mapped[int] = mapped_column(
        ForeignKey("subcontracts.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(MONEY)

    subcontract: Mapped[Subcontract] = relationship(back_populates="yearly_amounts")


class CpfTurnover(db.Model):
    """An OF's CPF turnover through Mon Compte Formation / EDOF for a calendar year (for
    2024, from 1 April), counted up to `as_of` (None: the whole period)."""

    __tablename__ = "cpf_turnovers"
    __table_args__ = (
        UniqueConstraint("provider_id", "year"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    year: Mapped[int] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(MONEY)
    as_of: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(20), default="saisie")  # saisie or import
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
