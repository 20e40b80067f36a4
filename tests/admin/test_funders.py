"""The platform admin manages funders; edits made concurrently are detected."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Funder, Role
from tests.factories import FunderFactory
from tests.support.auth import csrf_token


def _form(client, url):
    page = client.get(url).get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page).group(1)
    return {"csrf_token": csrf_token(client, url), "version": version}


def test_admin_creates_a_funder(client, login_as):
    login_as(Role.ADMIN)
    response = client.post(
        "/admin/financeurs/nouveau",
        data={
            "name": "OPCO Atlas",
            "kind": "opco",
            "region_code": "",
            "csrf_token": csrf_token(client, "/admin/financeurs/nouveau"),
        },
        follow_redirects=True,
    )
    assert "Financeur « OPCO Atlas » créé." in response.get_data(as_text=True)
    funder = db.session.scalar(select(Funder).where(Funder.name == "OPCO Atlas"))
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "funder.created")
    ).one()
    assert event.object_id == str(funder.id)


def test_duplicate_funder_name_is_refused(client, login_as):
    login_as(Role.ADMIN)
    FunderFactory(name="OPCO Atlas")
    response = client.post(
        "/admin/financeurs/nouveau",
        data={
            "name": "opco atlas",
            "kind": "opco",
            "region_code": "",
            "csrf_token": csrf_token(client, "/admin/financeurs/nouveau"),
        },
    )
    assert "Un financeur porte déjà ce nom." in response.get_data(as_text=True)


def test_concurrent_edit_is_detected_not_overwritten(app, client, login_as):
    login_as(Role.ADMIN)
    funder = FunderFactory(name="Région Occitanie")
    url = f"/admin/financeurs/{funder.id}"
    stale = _form(client, url)  # opened by this admin...

    funder.name = "Région Occitanie / Pyrénées-Méditerranée"  # ...then changed by someone else
    db.session.commit()

    response = client.post(
        url, data={**stale, "name": "Région Occitanie (FSE)", "kind": "region", "region_code": "76"}
    )
    assert response.status_code == 409
    assert "a été modifié par quelqu&#39;un d&#39;autre" in response.get_data(as_text=True)
    db.session.refresh(funder)
    assert funder.name == "Région Occitanie / Pyrénées-Méditerranée"

    fresh = _form(client, url)
    response = client.post(
        url, data={**fresh, "name": "Région Occitanie (FSE)", "kind": "region", "region_code": "76"}
    )
    assert response.status_code == 303
    db.session.refresh(funder)
    assert (funder.name, funder.region_code) == ("Région Occitanie (FSE)", "76")
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "funder.updated")
    ).one()
    assert event.details["before"]["name"] == "Région Occitanie / Pyrénées-Méditerranée"
    assert event.details["after"]["region_code"] == "76"


def test_funder_admin_cannot_reach_funder_management(client, login_as):
    login_as(Role.FUNDER_ADMIN)
    funder = FunderFactory()
    assert client.get("/admin/financeurs").status_code == 403
    assert client.get(f"/admin/financeurs/{funder.id}").status_code == 403


def test_a_garbled_or_missing_version_is_refused_as_stale_not_a_crash(client, login_as):
    login_as(Role.ADMIN)
    funder = FunderFactory(name="Région Bretagne")
    url = f"/admin/financeurs/{funder.id}"
    for version in ("abc", "", "99999999999999999999"):
        form = {**_form(client, url), "version": version}
        data = {**form, "name": "Bretagne", "kind": "region", "region_code": "53"}
        response = client.post(url, data=data)
        assert response.status_code == 409, version
        db.session.refresh(funder)
        assert funder.name == "Région Bretagne"
