"""Factories of the accounts: funders, OF (providers), the funders following an OF, users."""

from __future__ import annotations

import factory

from portal.models import Funder, FunderKind, FunderProvider, Provider, Role, User
from portal.passwords import hash_password
from tests.factories.base import PASSWORD, Base, luhn_complete


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
    siren = factory.Sequence(lambda n: luhn_complete(f"9{n:07d}"))
    siret = factory.LazyAttribute(lambda o: luhn_complete(o.siren + "0001"))
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
