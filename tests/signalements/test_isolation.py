"""Who sees what: the OF never sees a signalement about it (no URL answers it, none of its
pages mentions one, no notice or mail reaches it); a funder never sees another funder's;
the ministry never sees drafts, and a regional liaison only its region's."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Signalement, SignalementNotification
from portal.signalements import services
from tests.signalements.helpers import bring_to, client_as, make_world, substantiated, text_of
from tests.support.apps import make_app


def _signalement_rules():
    app = make_app()
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("signalements.")),
        key=lambda rule: rule.rule,
    )


RULES = _signalement_rules()


def _url(rule, s: Signalement) -> str:
    evidence_id = s.evidence[0].id if s.evidence else 1
    values = {
        "signalement_id": s.id,
        "evidence_id": evidence_id,
        "nda": s.provider.nda,
        "action": "prendre_en_charge",
    }
    return rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]


def _requests(client, auth, rule, s: Signalement):
    url = _url(rule, s)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        if method == "GET":
            yield method, url, client.get(url)
        else:
            yield method, url, auth.post(url, {"message": "x"})


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule)
def test_the_of_reaches_no_signalement_url(app: Flask, rule) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    client, auth = client_as(app, w.provider_user)
    for method, url, response in _requests(client, auth, rule, s):
        assert response.status_code in (403, 404), (method, url, response.status_code)
        assert s.reference not in response.get_data(as_text=True)


def test_nothing_in_the_of_pages_tells_of_a_signalement(app: Flask, outbox) -> None:
    w = make_world()
    s = bring_to(w, "clos")
    client, _auth = client_as(app, w.provider_user)
    pages = ("/", "/dossiers/", f"/dossiers/{w.dossier.id}", "/compte")
    for path in (*pages, "/service-fait/organisme/demandes/", "/sous-traitance/"):
        response = client.get(path)
        if path not in pages and response.status_code == 404:
            continue  # a section still being built
        assert response.status_code == 200, path
        text = text_of(response.get_data(as_text=True)).lower()
        assert "signal" not in text, path
        assert s.reference.lower() not in text
    assert not db.session.scalars(
        select(SignalementNotification).where(SignalementNotification.user_id == w.provider_user.id)
    ).all()
    assert all(w.provider_user.email not in m.to for m in outbox)


def test_a_funder_never_sees_another_funders_signalements(app: Flask) -> None:
    w = make_world()
    ours = bring_to(w, "transmis")
    draft = services.create_draft(w.controller, w.provider)
    client, auth = client_as(app, w.other_controller)
    for s in (ours, draft):
        assert client.get(f"/signalements/{s.id}").status_code == 404
        assert client.get(f"/signalements/{s.id}/modifier").status_code == 404
        assert auth.post(f"/signalements/{s.id}/actions/repondre", {}).status_code == 404
        assert auth.post(f"/signalements/{s.id}/messages", {"message": "x"}).status_code == 404
        assert auth.post(f"/signalements/{s.id}/verifier", {}).status_code == 404
    evidence = ours.evidence[0]
    assert client.get(f"/signalements/{ours.id}/preuves/{evidence.id}/fichier").status_code == 404
    listing = client.get("/signalements/").get_data(as_text=True)
    assert ours.reference not in listing and draft.reference not in listing
    export = client.get("/signalements/export.csv").get_data(as_text=True)
    assert ours.reference not in export
    denied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).all()
    assert denied and all(e.actor_id == w.other_controller.id for e in denied)
    assert {e.details["reason"] for e in denied} == {"signalement hors périmètre"}


def test_the_ministry_never_sees_drafts_nor_those_awaiting_approval(app: Flask) -> None:
    w = make_world()
    draft = substantiated(w)
    services.save_settings(w.admin, approval_required=True)
    waiting = substantiated(w)
    services.transition(w.controller, waiting, "soumettre")
    client, _ = client_as(app, w.national)
    for s in (draft, waiting):
        assert client.get(f"/signalements/{s.id}").status_code == 404
    listing = client.get("/signalements/").get_data(as_text=True)
    assert draft.reference not in listing and waiting.reference not in listing
    assert "Aucun signalement" in listing


def test_a_liaison_sees_only_its_region(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    far, far_auth = client_as(app, w.far_liaison)
    assert far.get(f"/signalements/{s.id}").status_code == 404
    assert far.get(f"/signalements/{s.id}/dossier-de-transmission.zip").status_code == 404
    assert far_auth.post(f"/signalements/{s.id}/actions/prendre_en_charge", {}).status_code == 404
    assert s.reference not in far.get("/signalements/").get_data(as_text=True)
    assert s.reference not in far.get("/signalements/export.csv").get_data(as_text=True)
    of_page = far.get(f"/signalements/organismes/{w.provider.nda}").get_data(as_text=True)
    assert s.reference not in of_page
    assert "Aucun signalement sur cet organisme dans votre périmètre" in text_of(of_page)
    # Its region filter cannot widen its scope.
    assert s.reference not in far.get("/signalements/?region=76").get_data(as_text=True)
    # The region's liaison and a national one see it.
    for user in (w.liaison, w.national):
        client, _ = client_as(app, user)
        assert client.get(f"/signalements/{s.id}").status_code == 200
        assert s.reference in client.get("/signalements/").get_data(as_text=True)


def test_the_region_is_the_public_lists_and_is_read_again_when_sent(app: Flask) -> None:
    from datetime import date

    from portal.models import ListImport, ListVersion

    w = make_world()
    draft = substantiated(w)
    assert draft.region_code == "76"  # no list: the NDA's first two digits
    run = ListImport(source="test", as_of=date(2026, 1, 1), status="succeeded", triggered_by="t")
    db.session.add(run)
    db.session.flush()
    db.session.add(
        ListVersion(
            nda=w.provider.nda,
            siren=w.provider.siren,
            siret=w.provider.siret,
            denomination=w.provider.name,
            search_name="formation temoin",
            region_code="84",
            postal_code="69001",
            city="Lyon",
            actions_formation=True,
            bilans_competences=False,
            vae=False,
            apprentissage=False,
            fingerprint="x",
            valid_from=date(2026, 1, 1),
            import_id=run.id,
        )
    )
    db.session.commit()
    assert services.provider_region(w.provider.nda) == "84"
    services.transition(w.controller, draft, "transmettre")
    assert draft.region_code == "84"
    client, _ = client_as(app, w.liaison)  # region 76
    assert client.get(f"/signalements/{draft.id}").status_code == 404
    assert services.provider_region("99123456789") is None
