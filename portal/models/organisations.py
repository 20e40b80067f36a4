"""Funders and training organisations (OF)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.types import UTCDateTime


class FunderKind(enum.StrEnum):
    TRANSITIONS_PRO = "transitions_pro"
    OPCO = "opco"
    REGION = "region"
    STATE = "etat"
    FRANCE_TRAVAIL = "france_travail"
    CDC = "cdc"
    AGEFIPH = "agefiph"
    OTHER = "autre"

    @property
    def label(self) -> str:
        return FUNDER_KIND_LABELS[self]


FUNDER_KIND_LABELS = {
    FunderKind.TRANSITIONS_PRO: "Transitions Pro",
    FunderKind.OPCO: "OPCO",
    FunderKind.REGION: "Région",
    FunderKind.STATE: "État",
    FunderKind.FRANCE_TRAVAIL: "France Travail",
    FunderKind.CDC: "Caisse des Dépôts (CPF)",
    FunderKind.AGEFIPH: "Agefiph",
    FunderKind.OTHER: "Autre financeur",
}


class Funder(db.Model):
    __tablename__ = "funders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    region_code: Mapped[str | None] = mapped_column(String(3))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Service fait: a Qualiopi certification lost after the start of an action blocks the
    # payment (True), or is an alert to look at (False, the default): certification on the
    # start date is always required.
    qualiopi_loss_blocks_payment: Mapped[bool] = mapped_column(
        default=False, server_default=sa_false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # How long this funder keeps the beneficiaries' names and the files of its closed
    # dossiers: years after the end of the year of the last payment (portal.retention).
    # A figure to confirm with each funder (its DPO): `retention_confirmed` says it was.
    retention_years: Mapped[int] = mapped_column(default=3, server_default="3")
    retention_confirmed: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Optimistic locking: an edit made on a stale form is detected, not overwritten.
    version: Mapped[int] = mapped_column(default=1)

    providers: Mapped[list[Provider]] = relationship(
        secondary="funder_providers", order_by="Provider.name", viewonly=True
    )

    __mapper_args__: ClassVar[dict[str, object]] = {"version_id_col": version}

    @property
    def kind_label(self) -> str:
        return FunderKind(self.kind).label

    def __repr__(self) -> str:
        return f"<Funder {self.id} {self.name!r}>"


class Provider(db.Model):
    """An OF, identified by its NDA (a string: it may start with 0)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    nda: Mapped[str] = mapped_column(String(11), unique=True)
    siren: Mapped[str] = mapped_column(String(9), index=True)
    siret: Mapped[str] = mapped_column(String(14), index=True)
    name: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Provider {self.nda} {self.name!r}>"


class FunderProvider(db.Model):
    """An OF that a funder funds or follows; its admins may invite the OF's users."""

    __tablename__ = "funder_providers"
    __table_args__ = (UniqueConstraint("funder_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The name this funder's admin typed for an OF not in the public list: this funder's
    # label only, never the OF's name that other tenants see.
    label: Mapped[str | None] = mapped_column(String(250))

    funder: Mapped[Funder] = relationship()
    provider: Mapped[Provider] = relationship()
