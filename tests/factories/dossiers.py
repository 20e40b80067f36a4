"""Factories of the dossiers (portal.dossiers)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory

from portal import clock
from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import Dossier, FunderProvider
from tests.factories.accounts import FunderFactory, ProviderFactory
from tests.factories.base import Base


def month_start(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date, months: int) -> date:
    return month_start(day, months + 1) - timedelta(days=1)


def _next_reference() -> str:
    return f"D-{db.session.query(Dossier).count() + 1:05d}"


class DossierFactory(Base):
    """A PTP paid monthly, begun three months ago and ending in two, written straight to
    the database with its `first_missing_due`; the funder follows the OF."""

    class Meta:
        model = Dossier
        exclude = ("today",)

    today = factory.LazyFunction(clock.today)
    funder = factory.SubFactory(FunderFactory)
    provider = factory.SubFactory(ProviderFactory)
    reference = factory.LazyFunction(_next_reference)
    provider_siret = factory.LazyAttribute(lambda o: o.provider.siret)
    beneficiary_last_name = "Durand"
    beneficiary_first_name = "Paul"
    action_title = "Titre professionnel Comptable assistant"
    category = "actions_formation"
    scheme = "ptp"
    # A PTP funds a certifying action (its RNCP code; PTP_WITHOUT_CERTIFICATION_CODE).
    rncp_code = "RNCP37949"
    modality = "presentiel"
    start_date = factory.LazyAttribute(lambda o: month_start(o.today, -3))
    end_date = factory.LazyAttribute(lambda o: month_end(o.today, 2))
    planned_minutes = 600 * 60
    agreed_amount = Decimal("12000")
    payment_rhythm = "mensuel"

    @classmethod
    def _create(cls, model_class, *args, funder, provider, **fields):
        session = cls._meta.sqlalchemy_session_factory()
        dossier = model_class(funder_id=funder.id, provider_id=provider.id, **fields)
        session.add(dossier)
        follows = (
            session.query(FunderProvider)
            .filter_by(funder_id=funder.id, provider_id=provider.id)
            .first()
        )
        if follows is None:
            session.add(FunderProvider(funder_id=funder.id, provider_id=provider.id))
        session.flush()
        pieces_service.recompute_first_missing_due(dossier)
        session.commit()
        return dossier
