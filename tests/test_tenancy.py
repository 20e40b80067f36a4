"""Tenancy that a controller cannot widen: following an OF is a funder admin's act
(audited, told to the OF's users by mail, shown in the OF's space); a controller creates
dossiers only for the OF their funder follows; a funder sees of an OF only what its
dossiers need (the contracts they rely on, the certificate while a dossier is open);
names one tenant types never change what another sees; names hold no control character."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Dossier, FunderProvider, Provider, Role
from portal.public_list.importer import import_list
from tests.certification.test_funder_view import certificate
from tests.dossiers.piece_helpers import make_dossier
from tests.dossiers.test_funder_dossiers import GARONNE_SIRET, form_data
from tests.factories import FunderFactory, FunderProviderFactory, ProviderFactory, UserFactory
from tests.subcontracting.helpers import make_contract
from tests.support.auth import csrf_token

SAMPLE = Path(__file__).parent / "fixtures" / "public_list_sample.csv"
NEW = "/dossiers/nouveau"


@pytest.fixture
def public_list(app) -> None:
    import_list(str(SAMPLE), as_of=date.today() - timedelta(days=2), triggered_by="test")


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- Following is a funder admin's act ---------------------------------------------------------


def test_a_controller_cannot_open_an_of_by_creating_a_dossier_for_it(
    client, auth, login_as, public_list
) -> None:
    # The OF is in the portal, followed by another funder, with a subcontracting contract.
    other = FunderFactory()
    garonne = ProviderFactory(nda="76311234567", siret=GARONNE_SIRET, siren=GARONNE_SIRET[:9])
    FunderProviderFactory(funder=other, provider=garonne)
    contract = make_contract(garonne)
    controller = login_as(Role.CONTROLLER)
    response = auth.post(NEW, form_data(), token_from=NEW)
    assert response.status_code == 200
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert "Votre financeur ne suit pas encore cet organisme" in page
    assert "demandez à un administrateur de votre financeur" in page
    assert _count(Dossier) == 0
    assert not db.session.scalar(
        select(FunderProvider).where(FunderProvider.funder_id == controller.funder_id)
    )
    assert client.get(f"/sous-traitance/contrats/{contract.id}").status_code == 404
    assert client.get(f"/sous-traitance/organismes/{garonne.id}").status_code == 404


def test_a_controller_cannot_bring_a_new_of_of_the_list_either(
    client, auth, login_as, public_list
) -> None:
    login_as(Role.CONTROLLER)
    response = auth.post(NEW, form_data(), token_from=NEW)
    assert "ne suit pas encore cet organisme" in response.get_data(as_text=True)
    assert _count(Provider) == 0 and _count(FunderProvider) == 0


def test_a_controller_creates_dossiers_for_an_of_already_followed(
    client, auth, login_as, public_list
) -> None:
    controller = login_as(Role.CONTROLLER)
    garonne = ProviderFactory(nda="76311234567", siret=GARONNE_SIRET, siren=GARONNE_SIRET[:9])
    FunderProviderFactory(funder=controller.funder, provider=garonne)
    assert auth.post(NEW, form_data(), token_from=NEW).status_code == 303
    assert db.session.scalars(select(Dossier)).one().provider_id == garonne.id
    assert _events("provider.followed") == []


def test_a_funder_admins_dossier_follows_the_of_audited_and_told_by_mail(
    client, auth, login_as, public_list, outbox
) -> None:
    garonne = ProviderFactory(nda="76311234567", siret=GARONNE_SIRET, siren=GARONNE_SIRET[:9])
    of_user = UserFactory(role=Role.PROVIDER.value, provider=garonne, funder=None)
    admin = login_as(Role.FUNDER_ADMIN)
    assert auth.post(NEW, form_data(), token_from=NEW).status_code == 303
    followed = _events("provider.followed")
    assert len(followed) == 1
    assert followed[0].details["reason"] == "dossier"
    assert followed[0].actor_id == admin.id and followed[0].funder_id == admin.funder_id
    mails = [m for m in outbox if of_user.email in m.to]
    assert len(mails) == 1
    assert admin.funder.name in mails[0].subject and "suit désormais" in mails[0].subject


def test_following_from_the_admin_page_tells_the_of_users(client, login_as, outbox) -> None:
    provider = ProviderFactory()
    of_user = UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None)
    UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None, is_active=False)
    admin = login_as(Role.FUNDER_ADMIN)
    response = client.post(
        "/admin/organismes",
        data={
            "csrf_token": csrf_token(client, "/admin/organismes"),
            "nda": provider.nda,
            "siret": provider.siret,
            "name": provider.name,
        },
    )
    assert response.status_code == 303
    assert [m.to for m in outbox] == [[of_user.email]]
    assert admin.funder.name in outbox[0].body
    assert _events("provider.followed")[0].details["reason"] == "administration"


def test_a_controller_cannot_follow_from_the_admin_page(client, login_as) -> None:
    provider = ProviderFactory()
    login_as(Role.CONTROLLER)
    response = client.post(
        "/admin/organismes",
        data={"csrf_token": csrf_token(client), "nda": provider.nda, "siret": provider.siret},
    )
    assert response.status_code in (403, 404)
    assert _count(FunderProvider) == 0


def test_the_of_sees_which_funders_follow_it_and_since_when(client, login_as) -> None:
    provider = ProviderFactory()
    first = FunderFactory(name="Transitions Pro Bretagne")
    link = FunderProviderFactory(funder=first, provider=provider)
    FunderFactory(name="OPCO qui ne suit pas")
    login_as(Role.PROVIDER, provider=provider, funder=None)
    page = client.get("/dossiers/").get_data(as_text=True)
    assert "Financeurs qui suivent votre organisme" in page
    assert f"Transitions Pro Bretagne, depuis le {link.created_at:%d/%m/%Y}" in page
    assert "OPCO qui ne suit pas" not in page


# --- What a funder sees of an OF -------------------------------------------------------------


def _followed_with_contracts():
    funder = FunderFactory()
    principal = ProviderFactory()
    FunderProviderFactory(funder=funder, provider=principal)
    covered = make_contract(
        principal,
        actions="Couvert par un dossier",
        start_date=date(2026, 1, 15),
        end_date=date(2026, 6, 30),
    )
    other_period = make_contract(
        principal,
        actions="Autre période",
        start_date=date(2025, 1, 1),
        end_date=date(2025, 6, 30),
    )
    other_category = make_contract(principal, actions="Bilans seulement", categories="bilans")
    linked = make_contract(principal, actions="Rattaché", start_date=date(2024, 5, 1))
    make_dossier(
        funder,
        principal,
        category="actions_formation",
        start_date=date(2026, 2, 2),
        end_date=date(2026, 5, 29),
    )
    make_dossier(funder, principal, subcontract_id=linked.id, category="vae")
    return funder, principal, covered, other_period, other_category, linked


def test_a_funder_sees_only_the_contracts_its_dossiers_need(client, login_as) -> None:
    funder, principal, covered, other_period, other_category, linked = _followed_with_contracts()
    login_as(Role.CONTROLLER, funder=funder)
    for seen in (covered, linked):
        assert client.get(f"/sous-traitance/contrats/{seen.id}").status_code == 200
    for hidden in (other_period, other_category):
        assert client.get(f"/sous-traitance/contrats/{hidden.id}").status_code == 404
        path = f"/sous-traitance/contrats/{hidden.id}/fichiers/contrat"
        assert client.get(path).status_code == 404
    page = client.get(f"/sous-traitance/organismes/{principal.id}").get_data(as_text=True)
    assert "Couvert par un dossier" in page or f"/sous-traitance/contrats/{covered.id}" in page
    assert f"/sous-traitance/contrats/{other_period.id}" not in page
    assert f"/sous-traitance/contrats/{other_category.id}" not in page
    export = client.get("/sous-traitance/export/contrats.csv").data.decode("utf-8-sig")
    assert "Autre période" not in export and "Bilans seulement" not in export


def test_the_of_still_sees_all_its_contracts(client, login_as) -> None:
    _funder, principal, *contracts = _followed_with_contracts()
    login_as(Role.PROVIDER, provider=principal, funder=None)
    for contract in contracts:
        assert client.get(f"/sous-traitance/contrats/{contract.id}").status_code == 200


def test_the_certificate_is_open_to_a_funder_while_it_has_an_open_dossier(client, login_as) -> None:
    funder = FunderFactory()
    provider = ProviderFactory()
    dossier = make_dossier(funder, provider)
    row = certificate(provider, date(2025, 1, 1))
    login_as(Role.CONTROLLER, funder=funder)
    # No file was recorded: a 404, but not a refused access.
    assert client.get(f"/certification/certificats/{row.id}/fichier").status_code == 404
    assert _events("access.denied") == []
    dossier.status = "clos"
    db.session.commit()
    assert client.get(f"/certification/certificats/{row.id}/fichier").status_code == 404
    denied = _events("access.denied")
    assert [e.details["reason"] for e in denied] == ["certificat hors périmètre"]


# --- Names ---------------------------------------------------------------------------------------


def _follow(client, **data):
    return client.post(
        "/admin/organismes",
        data={"csrf_token": csrf_token(client, "/admin/organismes"), **data},
    )


def test_a_typed_name_stays_the_funders_label(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    # In the public list: the list's name, whatever is typed.
    _follow(client, nda="76311234567", siret=GARONNE_SIRET, name="Nom inventé")
    garonne = db.session.scalar(select(Provider).where(Provider.nda == "76311234567"))
    assert garonne.name == "Atelier Formation Garonne"
    # Not in the list: named by its NDA for everyone; the typed name is this funder's label.
    absent_nda, absent_siret = "11750000001", "81234567600017"
    _follow(client, nda=absent_nda, siret=absent_siret, name="Mon libellé")
    absent = db.session.scalar(select(Provider).where(Provider.nda == absent_nda))
    assert absent.name == f"Organisme NDA {absent_nda}"
    page = client.get("/admin/organismes").get_data(as_text=True)
    assert "Mon libellé" in page
    auth.logout()
    login_as(Role.FUNDER_ADMIN)  # another funder, typing another name
    _follow(client, nda=absent_nda, siret=absent_siret, name="Autre libellé")
    db.session.expire_all()
    assert db.session.get(Provider, absent.id).name == f"Organisme NDA {absent_nda}"
    page = client.get("/admin/organismes").get_data(as_text=True)
    assert "Autre libellé" in page and "Mon libellé" not in page


@pytest.mark.parametrize("name", ["Formapro\nOccitanie", "Formapro\tOccitanie", "Forma\x07pro"])
def test_control_characters_are_refused_in_names(client, login_as, name: str) -> None:
    login_as(Role.FUNDER_ADMIN)
    response = _follow(client, nda="11750000001", siret="81234567600017", name=name)
    assert response.status_code == 200
    assert "sans retour à la ligne" in response.get_data(as_text=True)
    assert _count(Provider) == 0


def test_control_characters_are_refused_in_a_beneficiarys_name(
    client, auth, login_as, public_list
) -> None:
    login_as(Role.FUNDER_ADMIN)
    response = auth.post(NEW, form_data(beneficiary_last_name="Martin\r\nX"), token_from=NEW)
    assert response.status_code == 200
    assert "sans retour à la ligne" in response.get_data(as_text=True)
    assert _count(Dossier) == 0


def test_the_funders_certification_pages_show_no_certificate_without_an_open_dossier(
    client, login_as
) -> None:
    funder = FunderFactory()
    with_dossier, without = ProviderFactory(), ProviderFactory()
    make_dossier(funder, with_dossier)
    FunderProviderFactory(funder=funder, provider=without)
    certificate(with_dossier, date(2025, 1, 1), certifier_name="Certificateur Visible")
    certificate(without, date(2025, 1, 1), certifier_name="Certificateur Caché")
    login_as(Role.CONTROLLER, funder=funder)
    index = client.get("/certification/").get_data(as_text=True)
    assert without.name in index  # still followed
    assert "Certificateur Caché" not in index
    page = client.get(f"/certification/organismes/{without.id}").get_data(as_text=True)
    assert "Certificateur Caché" not in page
    page = client.get(f"/certification/organismes/{with_dossier.id}").get_data(as_text=True)
    assert "Certificateur Visible" in page
