"""Funder admins manage their own people, and only theirs."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Role, User
from tests.factories import FunderProviderFactory, ProviderFactory, UserFactory
from tests.support.auth import AuthActions


def _invite(auth, **data):
    form = {
        "email": "x@exemple.test",
        "full_name": "X",
        "role": "controller",
        "funder_id": 0,
        "provider_id": 0,
        "region_code": "",
        **data,
    }
    return auth.post("/admin/utilisateurs/inviter", form, token_from="/admin/utilisateurs/inviter")


def test_funder_admin_sees_only_their_funders_people(client, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    mine = UserFactory(role="controller", funder=admin.funder, full_name="Camille Mienne")
    theirs = UserFactory(role="controller", full_name="Bruno Autre")
    followed = FunderProviderFactory(funder=admin.funder).provider
    of_user = UserFactory(role="provider", provider=followed, full_name="Odile Suivie")
    stranger_of = UserFactory(role="provider", full_name="Pierre Nonsuivi")
    page = client.get("/admin/utilisateurs").get_data(as_text=True)
    assert mine.full_name in page and of_user.full_name in page
    assert theirs.full_name not in page and stranger_of.full_name not in page


def test_funder_admin_cannot_deactivate_another_funders_controller(client, auth, login_as):
    login_as(Role.FUNDER_ADMIN)
    other = UserFactory(role="controller")
    response = auth.post(f"/admin/utilisateurs/{other.id}/desactiver", token_from="/admin/")
    assert response.status_code == 404
    db.session.refresh(other)
    assert other.is_active
    denied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).one()
    assert denied.details["target_user_id"] == other.id


def test_funder_admin_cannot_invite_into_another_funder_or_an_unfunded_of(client, auth, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    unfunded = ProviderFactory()
    response = _invite(auth, role="provider", provider_id=unfunded.id)
    assert response.status_code == 200
    assert "N&#39;est pas un choix valide." in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "x@exemple.test")) is None
    # A forged funder id is refused; a controller invited by a funder admin always
    # belongs to the inviter's funder.
    other_funder = UserFactory(role="controller").funder
    assert _invite(auth, funder_id=other_funder.id).status_code == 200
    assert db.session.scalar(select(User).where(User.email == "x@exemple.test")) is None
    assert _invite(auth).status_code == 303
    invited = db.session.scalar(select(User).where(User.email == "x@exemple.test"))
    assert invited.funder_id == admin.funder_id


def test_funder_admin_invites_a_user_of_a_funded_of(client, auth, login_as, outbox):
    admin = login_as(Role.FUNDER_ADMIN)
    provider = FunderProviderFactory(funder=admin.funder).provider
    response = _invite(auth, role="provider", provider_id=provider.id, email="of@exemple.test")
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "of@exemple.test"))
    assert user.provider_id == provider.id and user.funder_id is None
    assert provider.name in outbox[-1].body


def test_duplicate_email_is_refused_in_french(client, auth, login_as):
    login_as(Role.FUNDER_ADMIN)
    existing = UserFactory()
    response = _invite(auth, email=existing.email.upper())
    assert "Un compte existe déjà avec cette adresse." in response.get_data(as_text=True)


def test_deactivating_a_user_ends_their_sessions(app, client, auth, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    controller = UserFactory(role="controller", funder=admin.funder)
    their_browser = app.test_client()
    AuthActions(their_browser).login(controller.email)
    assert their_browser.get("/dossiers/").status_code == 200

    response = auth.post(f"/admin/utilisateurs/{controller.id}/desactiver", token_from="/admin/")
    assert response.status_code == 303
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "désactivé" in followed

    assert their_browser.get("/dossiers/").status_code == 302
    assert AuthActions(their_browser).login(controller.email).status_code == 200
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.deactivated")
    ).one()
    assert event.details["before"] == {"is_active": True}
    assert event.details["sessions_ended"] == 1

    auth.post(f"/admin/utilisateurs/{controller.id}/reactiver", token_from="/admin/")
    assert AuthActions(their_browser).login(controller.email).status_code == 303


def test_nobody_deactivates_themselves(client, auth, login_as):
    admin = login_as(Role.ADMIN)
    response = auth.post(f"/admin/utilisateurs/{admin.id}/desactiver", token_from="/admin/")
    assert response.status_code == 404
    assert client.get("/").status_code == 200


def test_platform_admin_invites_a_ministry_liaison_for_a_region(client, auth, login_as):
    login_as(Role.ADMIN)
    response = _invite(auth, role="ministry", region_code="76", email="dreets@exemple.test")
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "dreets@exemple.test"))
    assert (user.role, user.region_code, user.funder_id) == ("ministry", "76", None)


def test_platform_admin_must_name_the_funder_of_a_funder_admin(client, auth, login_as):
    login_as(Role.ADMIN)
    response = _invite(auth, role="funder_admin")
    assert "Choisissez le financeur" in response.get_data(as_text=True)


def test_user_list_filters_and_htmx_fragment(client, login_as):
    admin = login_as(Role.FUNDER_ADMIN)
    UserFactory(role="controller", funder=admin.funder, full_name="Claire Contrôle")
    UserFactory(
        role="controller", funder=admin.funder, full_name="Denis Désactivé", is_active=False
    )
    page = client.get("/admin/utilisateurs?q=claire")
    body = page.get_data(as_text=True)
    assert "Claire Contrôle" in body and "Denis Désactivé" not in body
    assert "<html" in body

    fragment = client.get("/admin/utilisateurs?status=inactive", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="results"' in text
    assert "Denis Désactivé" in text and "Claire Contrôle" not in text
    assert "HX-Request" in fragment.headers["Vary"]


def test_user_list_is_paginated_without_n_plus_one(client, login_as, count_queries):
    admin = login_as(Role.FUNDER_ADMIN)
    for _ in range(5):
        provider = FunderProviderFactory(funder=admin.funder).provider
        UserFactory(role="provider", provider=provider)
    UserFactory.create_batch(30, role="controller", funder=admin.funder)
    with count_queries() as few:
        client.get("/admin/utilisateurs?page=1")
    with count_queries() as many:
        page2 = client.get("/admin/utilisateurs?page=2").get_data(as_text=True)
    assert "Page 2 sur 2" in page2
    assert many.count == few.count <= 8
