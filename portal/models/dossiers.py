"""Dossiers (prises en charge) and the pieces that prove what was done.

A piece is one of four kinds (the rules of the field, "Service fait"), stored in one table with the
fields of its kind (single-table inheritance); its file is a `Document`. Replacing a piece
keeps the old one: it is marked `superseded_at` and the new one points to it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from portal.clock import utcnow
from portal.extensions import db
from portal.models.organisations import Funder, Provider
from portal.models.types import UTCDateTime


class Category(enum.StrEnum):
    """The four categories of action (art. L.6313-1), keyed as in the public list."""

    ACTIONS_FORMATION = "actions_formation"
    BILANS_COMPETENCES = "bilans_competences"
    VAE = "vae"
    APPRENTISSAGE = "apprentissage"


class Scheme(enum.StrEnum):
    PTP = "ptp"
    CPF = "cpf"
    PLAN = "plan"
    ALTERNANCE = "alternance"
    OTHER = "autre"


SCHEME_LABELS = {
    Scheme.PTP: "Projet de transition professionnelle (PTP)",
    Scheme.CPF: "Compte personnel de formation (CPF)",
    Scheme.PLAN: "Plan de développement des compétences",
    Scheme.ALTERNANCE: "Alternance",
    Scheme.OTHER: "Autre dispositif",
}

#: The scheme in a dense list's cell (its full label in the cell's description).
SCHEME_SHORT_LABELS = {
    Scheme.PTP: "PTP",
    Scheme.CPF: "CPF",
    Scheme.PLAN: "Plan",
    Scheme.ALTERNANCE: "Alternance",
    Scheme.OTHER: "Autre",
}


class Modality(enum.StrEnum):
    ON_SITE = "presentiel"
    DISTANCE = "distance"
    BLENDED = "mixte"
    WORKPLACE = "situation_travail"


MODALITY_LABELS = {
    Modality.ON_SITE: "Présentiel",
    Modality.DISTANCE: "À distance",
    Modality.BLENDED: "Mixte",
    Modality.WORKPLACE: "En situation de travail",
}


class PaymentRhythm(enum.StrEnum):
    MONTHLY = "mensuel"
    ON_COMPLETION = "fin_de_formation"
    INSTALMENTS = "echeances"


PAYMENT_RHYTHM_LABELS = {
    PaymentRhythm.MONTHLY: "Mensuel",
    PaymentRhythm.ON_COMPLETION: "À la fin de la formation",
    PaymentRhythm.INSTALMENTS: "Par échéances",
}


class DossierStatus(enum.StrEnum):
    OPEN = "en_cours"
    CLOSED = "clos"
    CANCELLED = "annule"


DOSSIER_STATUS_LABELS = {
    DossierStatus.OPEN: "En cours",
    DossierStatus.CLOSED: "Clos",
    DossierStatus.CANCELLED: "Annulé",
}


class PieceKind(enum.StrEnum):
    INVOICE = "facture"
    COMPLETION_CERTIFICATE = "certificat_realisation"
    ATTENDANCE_SHEET = "feuille_emargement"
    EXPENSE_STATEMENT = "releve_depenses"


PIECE_KIND_LABELS = {
    PieceKind.INVOICE: "Facture",
    PieceKind.COMPLETION_CERTIFICATE: "Certificat de réalisation",
    PieceKind.ATTENDANCE_SHEET: "Feuille d'émargement",
    PieceKind.EXPENSE_STATEMENT: "Relevé de dépenses",
}

MONEY = Numeric(12, 2)
# Durations are whole minutes (13 h 30 is 810): sums and comparisons are exact.


class Dossier(db.Model):
    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("funder_id", "reference"),
        CheckConstraint("end_date >= start_date", name="period"),
        CheckConstraint("planned_minutes > 0", name="planned_minutes"),
        CheckConstraint("agreed_amount >= 0", name="agreed_amount"),
        Index("ix_dossiers_funder_status_start", "funder_id", "status", "start_date"),
        Index("ix_dossiers_provider_start", "provider_id", "start_date"),
        # The funder's list sorts and filters on these (bench/dossiers_list.py). The end
        # date rides along so that a period filter is read from the index alone; the start
        # date after the missing-pieces due date, so that "missing pieces" sorted by start
        # date reads no row.
        Index("ix_dossiers_funder_start_end", "funder_id", "start_date", "end_date"),
        Index("ix_dossiers_funder_scheme_start", "funder_id", "scheme", "start_date"),
        Index("ix_dossiers_funder_amount", "funder_id", "agreed_amount"),
        Index("ix_dossiers_funder_missing_start", "funder_id", "first_missing_due", "start_date"),
        Index("ix_dossiers_funder_provider", "funder_id", "provider_id"),
        Index("ix_dossiers_funder_updated", "funder_id", "updated_at"),
        # The search by the beginning of a beneficiary's name (`DossierFilters`): a range
        # on lower(name) on SQLite, a LIKE prefix on PostgreSQL (pattern operators, so
        # whatever the database's collation).
        Index(
            "ix_dossiers_funder_last_name",
            "funder_id",
            func.lower(text("beneficiary_last_name")).label("last_name_lower"),
            postgresql_ops={"last_name_lower": "text_pattern_ops"},
        ),
        # "Mes dossiers", missing pieces only: the OF's open dossiers with a piece due.
        Index("ix_dossiers_provider_status_missing", "provider_id", "status", "first_missing_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"))
    reference: Mapped[str] = mapped_column(String(50))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    # The establishment that delivers the action (SIRET given by the funder).
    provider_siret: Mapped[str] = mapped_column(String(14))
    beneficiary_last_name: Mapped[str] = mapped_column(String(100))
    beneficiary_first_name: Mapped[str] = mapped_column(String(100))
    action_title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(30))
    scheme: Mapped[str] = mapped_column(String(20), index=True)
    rncp_code: Mapped[str | None] = mapped_column(String(20))
    modality: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    planned_minutes: Mapped[int] = mapped_column()
    agreed_amount: Mapped[Decimal] = mapped_column(MONEY)
    payment_rhythm: Mapped[str] = mapped_column(String(20))
    # For payment by instalments: how many.
    instalments: Mapped[int | None] = mapped_column()
    subcontracted: Mapped[bool] = mapped_column(default=False)
    # The OF's subcontracting contract that covers this dossier, when it is subcontracted
    # (see `portal.subcontracting`).
    subcontract_id: Mapped[int | None] = mapped_column(ForeignKey("subcontracts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DossierStatus.OPEN.value)
    # The earliest due date of an expected piece not received (None: nothing expected is
    # missing), kept by the pieces service so that lists filter on "missing pieces"
    # (`first_missing_due <= today`) without computing every dossier's calendar.
    first_missing_due: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Last change of the dossier itself (the API's "updated since" filter).
    updated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )
    # When `flask retention purge` removed the beneficiary's names and the files
    # (portal.retention): the amounts, decisions and findings stay.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    funder: Mapped[Funder] = relationship()
    provider: Mapped[Provider] = relationship()

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @classmethod
    def missing_pieces_on(cls, today: date) -> ColumnElement[bool]:
        """SQL condition: an expected piece was due before `today` and has not come (the
        calendar's "Manquant"): the one definition the lists filter on."""
        return cls.first_missing_due < today

    @property
    def beneficiary(self) -> str:
        return f"{self.beneficiary_last_name.upper()} {self.beneficiary_first_name}"

    @property
    def is_open(self) -> bool:
        """Running: the OF may still send its pieces."""
        return self.status == DossierStatus.OPEN

    @property
    def pays_by_instalments(self) -> bool:
        return self.payment_rhythm == PaymentRhythm.INSTALMENTS


class Document(db.Model):
    """A stored file: where it is (a random key), and what it is."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column()
    content_type: Mapped[str] = mapped_column(String(50))
    original_name: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The stored bytes were removed at the end of the retention period (portal.retention).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Piece(db.Model):
    """A piece of proof in a dossier, with the figures typed next to its file."""

    __tablename__ = "pieces"
    __table_args__ = (
        Index("ix_pieces_dossier_current", "dossier_id", "superseded_at"),
        CheckConstraint("period_end >= period_start", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # Indexed: who else holds this file (duplicate-file check on every upload).
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Replacement keeps the old piece: it is superseded, the new one says which it replaces.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("pieces.id"))

    # Invoice.
    invoice_number: Mapped[str | None] = mapped_column(String(50))
    invoice_date: Mapped[date | None] = mapped_column(Date)
    amount_excl_tax: Mapped[Decimal | None] = mapped_column(MONEY)
    amount_incl_tax: Mapped[Decimal | None] = mapped_column(MONEY)
    minutes_billed: Mapped[int | None] = mapped_column()
    # Certificat de réalisation.
    minutes_completed: Mapped[int | None] = mapped_column()
    months_completed: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    nature: Mapped[str | None] = mapped_column(String(30))
    distance_activities: Mapped[str | None] = mapped_column(Text)
    signatory: Mapped[str | None] = mapped_column(String(200))
    signed_on: Mapped[date | None] = mapped_column(Date)
    # Feuille d'émargement.
    half_days_planned: Mapped[int | None] = mapped_column()
    half_days_signed: Mapped[int | None] = mapped_column()
    minutes_attended: Mapped[int | None] = mapped_column()
    # Relevé de dépenses.
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    # What the file says of itself (portal.einvoice): where the figures read come from
    # (a `portal.einvoice.model.Source` value; None for pieces sent before files were
    # read), the record of the reading, and the invoice's XML kept beside its PDF.
    figures_source: Mapped[str | None] = mapped_column(String(20))
    file_figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    xml_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))

    dossier: Mapped[Dossier] = relationship()
    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    xml_document: Mapped[Document | None] = relationship(foreign_keys=[xml_document_id])

    __mapper_args__: ClassVar[dict[str, object]] = {"polymorphic_on": kind}

    @property
    def kind_label(self) -> str:
        return PIECE_KIND_LABELS[PieceKind(self.kind)]


class Invoice(Piece):
    __mapper_args__: ClassVar[dict[str, object]] = {"polymorphic_identity": PieceKind.INVOICE.value}


class CompletionCertificate(Piece):
    __mapper_args__: ClassVar[dict[str, object]] = {
        "polymorphic_identity": PieceKind.COMPLETION_CERTIFICATE.value
    }


class AttendanceSheet(Piece):
    __mapper_args__: ClassVar[dict[str, object]] = {
        "polymorphic_identity": PieceKind.ATTENDANCE_SHEET.value
    }


class ExpenseStatement(Piece):
    __mapper_args__: ClassVar[dict[str, object]] = {
        "polymorphic_identity": PieceKind.EXPENSE_STATEMENT.value
    }
