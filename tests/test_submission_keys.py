"""No double effect: a form posted twice with its one-time key (a double click, a replay,
the back button and a new submit) does its work once, and the second submission lands on
the result of the first, for plain forms and HTMX alike."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    DocumentRequest,
    InvoiceDecision,
    Role,
    Signalement,
    SubmissionKey,
    User,
)
from portal.submissions import ALREADY_DONE, new_key
from tests.factories import FunderFactory, UserFactory
from tests.service_fait.request_helpers import ask, first_slot_key, setup_dossier
from tests.service_fait.test_decisions import decision_path, page_version
from tests.service_fait.test_decisions import setup as setup
from tests.signalements.helpers import client_as, make_world, substantiated
from tests.support.auth import csrf_token

KEY = re.compile(r'name="submission_key" value="([^"]+)"')


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _page_key(client, path: str) -> str:
    match = KEY.search(client.get(path).get_data(as_text=True))
    assert match, f"no submission key on {path}"
    return match.group(1)


def test_every_post_form_of_every_template_carries_a_key() -> None:
    forms = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
    missing = []
    for template in Path("portal").rglob("*.html"):
        for form in forms.findall(template.read_text(encoding="utf-8")):
            opening = form[: form.index(">")].lower()
            posts = 'method="post"' in opening or "hx-post" in opening
            if posts and "submission_fields(" not in form:
                missing.append(f"{template}: {opening[:80]}")
    assert missing == []


def test_a_page_gives_a_new_key_each_time(client, auth) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    path = f"/service-fait/dossiers/{s.dossier.id}/demandes/nouvelle"
    assert _page_key(client, path) != _page_key(client, path)


def test_a_request_for_documents_posted_twice_is_sent_once(client, auth, outbox) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    path = f"/service-fait/dossiers/{s.dossier.id}/demandes/nouvelle"
    key = _page_key(client, path)
    items = [first_slot_key(s.dossier, "certificat_realisation")]
    first = ask(auth, s.dossier, items, submission_key=key)
    assert first.status_code == 303
    mails = len(outbox)
    assert mails >= 1
    second = ask(auth, s.dossier, items, submission_key=key)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert _count(DocumentRequest) == 1
    assert len(outbox) == mails  # no second mail to the OF
    landed = client.get(second.headers["Location"]).get_data(as_text=True)
    assert ALREADY_DONE.replace("'", "&#39;") in landed


def test_an_htmx_replay_is_redirected_to_the_first_result(client, auth) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    items = [first_slot_key(s.dossier, "certificat_realisation")]
    key = new_key()
    headers = {"HX-Request": "true"}
    first = ask(auth, s.dossier, items, headers=headers, submission_key=key)
    second = ask(auth, s.dossier, items, headers=headers, submission_key=key)
    assert first.headers["HX-Redirect"] and second.status_code == 200
    assert second.headers["HX-Redirect"] == first.headers["HX-Redirect"]
    assert _count(DocumentRequest) == 1


def test_a_form_sent_back_with_errors_keeps_its_key_free(client, auth) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    key = new_key()
    refused = ask(auth, s.dossier, [], submission_key=key)  # nothing chosen
    assert refused.status_code == 200 and _count(DocumentRequest) == 0
    assert _count(SubmissionKey) == 0
    items = [first_slot_key(s.dossier, "certificat_realisation")]
    assert ask(auth, s.dossier, items, submission_key=key).status_code == 303
    assert _count(DocumentRequest) == 1


def _decide(auth, dossier, invoice, key: str, version: str, headers=None):
    prefix = f"facture-{invoice.id}-"
    data = {
        prefix + "outcome": "conforme",
        prefix + "version": version,
        prefix + "csrf_token": csrf_token(auth.client),
        "submission_key": key,
        "confirme": "oui",
    }
    return auth.client.post(decision_path(dossier, invoice), data=data, headers=headers or {})


def test_a_decision_posted_twice_is_taken_once(auth, setup) -> None:
    dossier, invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    version = page_version(auth.client, dossier, invoice)
    key = new_key()
    first = _decide(auth, dossier, invoice, key, version)
    assert first.status_code == 303
    # Back, and the same page sent again: the same key, the same (now stale) version.
    second = _decide(auth, dossier, invoice, key, version)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert _count(InvoiceDecision) == 1
    db.session.expire_all()
    decided = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.decision_taken")
    ).all()
    assert len(decided) == 1


def test_an_htmx_decision_double_click_is_taken_once(auth, setup) -> None:
    dossier, invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    version = page_version(auth.client, dossier, invoice)
    key = new_key()
    headers = {
        "HX-Request": "true",
        "HX-Current-URL": f"http://localhost/service-fait/dossiers/{dossier.id}",
    }
    first = _decide(auth, dossier, invoice, key, version, headers)
    second = _decide(auth, dossier, invoice, key, version, headers)
    assert first.status_code == second.status_code == 200
    assert second.headers["HX-Redirect"] == f"/service-fait/dossiers/{dossier.id}"
    assert _count(InvoiceDecision) == 1


def test_a_transmission_replayed_is_done_once_with_one_round_of_mail(app: Flask, outbox) -> None:
    w = make_world()
    s = substantiated(w)
    _client, funder = client_as(app, w.controller)
    key = new_key()
    data = {"version": str(s.version), "submission_key": key, "confirme": "oui"}
    first = funder.post(f"/signalements/{s.id}/actions/transmettre", data)
    assert first.status_code == 303
    mails = len(outbox)
    assert mails == 2  # the region's liaison and the national one
    second = funder.post(f"/signalements/{s.id}/actions/transmettre", data)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"] == f"/signalements/{s.id}"
    assert len(outbox) == mails
    db.session.expire_all()
    assert db.session.get(Signalement, s.id).state == "transmis"
    sent = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "signalement.transmettre")
    ).all()
    assert len(sent) == 1


def test_an_invitation_posted_twice_sends_one_mail(client, auth, outbox) -> None:
    funder = FunderFactory()
    auth.log_in(UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder))
    path = "/admin/utilisateurs/inviter"
    key = _page_key(client, path)
    form = {
        "email": "nouveau@exemple.test",
        "full_name": "Nouvelle Contrôleuse",
        "role": "controller",
        "funder_id": "0",
        "provider_id": "0",
        "region_code": "",
        "submission_key": key,
    }
    first = auth.post(path, form, token_from=path)
    assert first.status_code == 303
    second = auth.post(path, form, token_from=path)
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    assert len(outbox) == 1
    assert db.session.scalars(select(User).where(User.email == "nouveau@exemple.test")).one()


def test_a_key_is_kept_with_the_user_and_where_it_led(client, auth) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    key = new_key()
    items = [first_slot_key(s.dossier, "certificat_realisation")]
    first = ask(auth, s.dossier, items, submission_key=key)
    db.session.expire_all()
    row = db.session.scalars(select(SubmissionKey)).one()
    assert row.user_id == s.controller.id
    assert row.endpoint == "service_fait.new_request"
    assert first.headers["Location"].endswith(row.result_url)


def test_inline_validation_does_not_use_up_the_form_key(client, auth) -> None:
    response = client.post(
        "/mot-de-passe/verifier",
        data={"csrf_token": csrf_token(client), "password": "x", "submission_key": new_key()},
    )
    assert response.status_code == 200
    assert _count(SubmissionKey) == 0
