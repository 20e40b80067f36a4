"""factory_boy factories of the test data, one module per domain, all committed through
Flask-SQLAlchemy's session of the current application (tests/factories/base.py).

    from tests.factories import DossierFactory, UserFactory
    dossier = DossierFactory(funder=funder)  # its OF made too, and followed by the funder
"""

from tests.factories.accounts import (
    FunderFactory,
    FunderProviderFactory,
    ProviderFactory,
    UserFactory,
)
from tests.factories.base import PASSWORD, Base, luhn_complete
from tests.factories.dossiers import DossierFactory, month_end, month_start

__all__ = [
    "PASSWORD",
    "Base",
    "DossierFactory",
    "FunderFactory",
    "FunderProviderFactory",
    "ProviderFactory",
    "UserFactory",
    "luhn_complete",
    "month_end",
    "month_start",
]
