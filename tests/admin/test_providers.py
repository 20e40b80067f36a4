"""A funder admin follows the OF it funds."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import FunderProvider, Provider, Role
from tests.factories import FunderProviderFactory
from tests.support.auth import csrf_token


def _follow(client, **data):
    return client.post(
        "/admin/organismes",
        data={"csrf_token": csrf_token(client, "/admin/organismes"), **data},
        follow_redirects=True,
    )


def test_funder_admin_follows_an_of_by_nda_and_siret(client, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    response = _follow(
        client, nda="01 97 123 4567", siret="812 345 676 00017", name="Formapro Guadeloupe"
    )
    page = response.get_data(as_text=True)
    assert "Formapro Guadeloupe ajouté aux organismes suivis" in page
    assert "ses utilisateurs en sont prévenus par courriel" in page
    provider = db.session.scalar(select(Provider))
    assert (provider.nda, provider.siren, provider.siret) == (
        "01971234567",
        "812345676",
        "81234567600017",
    )
    link = db.session.scalar(
        select(FunderProvider).where(FunderProvider.funder_id == admin.funder_id)
    )
    # Not in the public list: the typed name is this funder's label, not the OF's name.
    assert link.label == "Formapro Guadeloupe"
    assert provider.name == "Organisme NDA 01971234567"


def test_invalid_identifiers_are_refused_in_french(client, login_as):
    login_as(Role.FUNDER_ADMIN)
    response = _follow(client, nda="7631", siret="81234567600018", name="X")
    page = response.get_data(as_text=True)
    assert "la clé de contrôle ne correspond pas" in page
    assert db.session.scalar(select(Provider)) is None


def test_providers_list_is_scoped_to_the_funder(client, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    mine = FunderProviderFactory(funder=admin.funder).provider
    other = FunderProviderFactory().provider
    page = client.get("/admin/organismes").get_data(as_text=True)
    assert mine.name in page and other.name not in page
