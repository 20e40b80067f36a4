"""factory_boy factories for test data (committed through Flask-SQLAlchemy's session)."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal.extensions import db
from portal.models import Funder, FunderKind, FunderProvider, Provider, Role, User
from portal.passwords import hash_password

PASSWORD = "un-mot-de-passe-solide-42"


def _luhn_complete(prefix: str) -> str:
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class FunderFactory(Base):
    class Meta:
        model = Funder

    name = factory.Sequence(lambda n: f"Financeur {n}")
    kind = FunderKind.OPCO.value
    region_code = None


class ProviderFactory(Base):
    class Meta:
        model = Provider

    nda = factory.Sequence(lambda n: f"76{n:09d}")
    siren = factory.Sequence(lambda n: _luhn_complete(f"9{n:07d}"))
    siret = factory.LazyAttribute(lambda o: _luhn_complete(o.siren + "0001"))
    name = factory.Sequence(lambda n: f"Organisme de formation {n}")


class FunderProviderFactory(Base):
    class Meta:
        model = FunderProvider

    funder = factory.SubFactory(FunderFactory)
    provider = factory.SubFactory(ProviderFactory)


class UserFactory(Base):
    class Meta:
        model = User
        exclude = ("password",)

    password = PASSWORD
    email = factory.Sequence(lambda n: f"personne{n}@exemple.test")
    full_name = factory.Sequence(lambda n: f"Personne {n}")
    role = Role.CONTROLLER.value
    funder = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role in (Role.FUNDER_ADMIN, Role.CONTROLLER)),
        yes_declaration=factory.SubFactory(FunderFactory),
        no_declaration=None,
    )
    provider = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role == Role.PROVIDER),
        yes_declaration=factory.SubFactory(ProviderFactory),
        no_declaration=None,
    )
    password_hash = factory.LazyAttribute(
        lambda o: hash_password(o.password) if o.password else None
    )
