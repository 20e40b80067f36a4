"""The history of the public list of OF (see portal.public_list).

The list itself keeps no history; the portal does. Each NDA has *versions*: what the list
said about it (identity and the four certification categories) from `valid_from` (the date
of the list that first said it) until `valid_to` (the date of the first list that said
otherwise, excluded; None while it holds). The list in force is the set of open versions.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.types import UTCDateTime


class ImportStatus:
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    LABELS: ClassVar[dict[str, str]] = {
        RUNNING: "en cours",
        SUCCEEDED: "importée",
        UNCHANGED: "inchangée",
        REFUSED: "refusée",
        FAILED: "échec",
        INTERRUPTED: "interrompue",
    }
    # Runs after which a list is in force (an unchanged list is re-dated, not re-imported).
    IN_FORCE = (SUCCEEDED, UNCHANGED)
    # Runs that left the list in force as it was, against the importer's will.
    TROUBLED = (REFUSED, FAILED, INTERRUPTED)


class ListImport(db.Model):
    """One run of `flask qualiopi import`, whatever its outcome."""

    __tablename__ = "public_list_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    as_of: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_kept: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    # The first rejected lines, each {"line": n, "reason": "..."}; a line whose NDA could
    # still be read adds "nda" and, when that OF was in force, "kept_previous": true (what
    # the previous list said of it is kept).
    rejected_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What the import noticed and did not refuse, each {"line": n or None, "message": "..."}:
    # columns ignored or absent, identifiers completed, SIRET of another SIREN.
    notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=list)
    added: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    triggered_by: Mapped[str] = mapped_column(String(254))
    triggered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def status_label(self) -> str:
        return ImportStatus.LABELS.get(self.status, self.status)

    @property
    def source_label(self) -> str:
        """Where the list came from, as a user reads it: the address it was downloaded
        from, or the name of the file (never a path of the server)."""
        if self.source.startswith(("http://", "https://")):
            return self.source
        name = self.source.replace("\\", "/").rsplit("/", 1)[-1]
        return f"fichier « {name} »" if name else "fichier"


@event.listens_for(db.metadata, "before_create")
def _trigram_extension(target: object, connection: Connection, **kw: Any) -> None:
    """The trigram index needs PostgreSQL's pg_trgm extension (a trusted extension: the
    database owner may create it). Migration 0004 does the same."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class ListVersion(db.Model):
    """What the list said about one NDA over an interval of dates."""

    __tablename__ = "public_list_versions"
    __table_args__ = (
        Index("ix_public_list_versions_nda_valid_from", "nda", "valid_from"),
        # Covering index of the name search: a scan of it reads far less than the table.
        Index("ix_public_list_versions_search", "search_name", "valid_from", "valid_to"),
        # On PostgreSQL, a trigram index answers "name contains …" without a scan (most
        # useful when few or no names match); SQLite has no equivalent.
        Index(
            "ix_public_list_versions_search_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nda: Mapped[str] = mapped_column(String(11))
    siren: Mapped[str] = mapped_column(String(20), index=True)
    siret: Mapped[str] = mapped_column(String(20), index=True)
    denomination: Mapped[str] = mapped_column(String(300))
    # Lower case without accents, for the search box.
    search_name: Mapped[str] = mapped_column(String(300))
    region_code: Mapped[str] = mapped_column(String(3))
    postal_code: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    actions_formation: Mapped[bool] = mapped_column()
    bilans_competences: Mapped[bool] = mapped_column()
    vae: Mapped[bool] = mapped_column()
    apprentissage: Mapped[bool] = mapped_column()
    previous_ndas: Mapped[str] = mapped_column(String(200), default="")
    # The activity the OF declared (its last BPF), as the list gives it; None when empty
    # (and for the versions imported before the portal kept them).
    date_derniere_declaration: Mapped[date | None] = mapped_column(Date)
    nb_stagiaires: Mapped[int | None] = mapped_column()
    nb_stagiaires_confies: Mapped[int | None] = mapped_column()
    effectif_formateurs: Mapped[int | None] = mapped_column()
    # A digest of the tracked values: a new list changes the version only if it differs.
    fingerprint: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    import_id: Mapped[int] = mapped_column(ForeignKey("public_list_imports.id"))

    @property
    def categories(self) -> dict[str, bool]:
        return {
            "actions_formation": self.actions_formation,
            "bilans_competences": self.bilans_competences,
            "vae": self.vae,
            "apprentissage": self.apprentissage,
        }

    @property
    def certified(self) -> bool:
        return any(self.categories.values())


class ListChange(db.Model):
    """What changed for one NDA between two successive lists."""

    __tablename__ = "public_list_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("public_list_imports.id"), index=True)
    nda: Mapped[str] = mapped_column(String(11), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(30))
    before: Mapped[str | None] = mapped_column(String(300))
    after: Mapped[str | None] = mapped_column(String(300))


class PreviousNda(db.Model):
    """An NDA that the list gives as a previous NDA of another entry."""

    __tablename__ = "public_list_previous_ndas"
    __table_args__ = (UniqueConstraint("previous_nda", "nda"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    previous_nda: Mapped[str] = mapped_column(String(11), index=True)
    nda: Mapped[str] = mapped_column(String(11))
    first_seen: Mapped[date] = mapped_column(Date)


# The open dossiers an alert names: those funded for a category the OF lost (or all of
# its open dossiers with the funder when it left the list), as they were at the import.
alert_dossiers = Table(
    "qualiopi_alert_dossiers",
    db.metadata,
    Column("alert_id", ForeignKey("qualiopi_alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("dossier_id", ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True),
)


class QualiopiAlert(db.Model):
    """An OF with open dossiers of a funder lost the category they are funded for, or
    left the list: one alert per funder, OF and import, naming the dossiers at stake."""

    __tablename__ = "qualiopi_alerts"
    __table_args__ = (UniqueConstraint("funder_id", "provider_id", "import_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("public_list_imports.id"))
    nda: Mapped[str] = mapped_column(String(11))
    left_list: Mapped[bool] = mapped_column(default=False)
    # Categories lost, comma-separated keys (empty when the OF left the list).
    lost_categories: Mapped[str] = mapped_column(String(200), default="")
    list_as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    provider = relationship("Provider")
    acknowledged_by = relationship("User", foreign_keys=[acknowledged_by_id])
    dossiers = relationship("Dossier", secondary=alert_dossiers, order_by="Dossier.reference")

    @property
    def lost(self) -> list[str]:
        return [key for key in self.lost_categories.split(",") if key]


class BulkCheck(db.Model):
    """A file of identifiers checked at once, with its results as they were that day."""

    __tablename__ = "qualiopi_bulk_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    # One dict per readable line: line, query, on, list_as_of, matches (see lookup.Match).
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # One dict per unreadable line: line, value, reason.
    unreadable: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
