"""A funder admin creates the funder's API tokens on « Accès API »: shown once, stored
hashed, with scopes and an expiry, revocable, audited; the same page registers webhook
endpoints and redelivers their notifications."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from portal.api.tokens import bearer_for
from portal.clock import today, utcnow
from portal.extensions import db
from portal.models import ApiToken, AuditEvent, DeliveryState, Role, WebhookDelivery, WebhookEvent
from portal.webhooks import outbox
from tests.api import bearer, funder_token
from tests.factories import FunderFactory

PAGE = "/admin/acces-api"
TOKEN_IN_PAGE = re.compile(r'id="nouveau-jeton"[^>]*value="(pq_[A-Za-z0-9_-]+)"')
SECRET_IN_PAGE = re.compile(r'id="nouveau-secret"[^>]*value="(whsec_[A-Za-z0-9_-]+)"')


def test_a_funder_admin_creates_a_token_shown_once_and_stored_hashed(
    app, client, auth, login_as
) -> None:
    admin = login_as(Role.FUNDER_ADMIN)
    response = auth.post(
        f"{PAGE}/jetons",
        {
            "label": "Système de paiement",
            "scopes": ["controls:read", "dossiers:read"],
            "expires_on": (today() + timedelta(days=90)).isoformat(),
        },
        token_from=PAGE,
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    plaintext = TOKEN_IN_PAGE.search(response.get_data(as_text=True)).group(1)
    (row,) = db.session.scalars(select(ApiToken))
    assert row.funder_id == admin.funder_id and row.user_id is None
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row.scope_set == {"controls:read", "dossiers:read"}
    assert plaintext not in client.get(PAGE).get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.created"))
    assert event.actor_id == admin.id and plaintext not in str(event.details)

    me = app.test_client().get("/api/v1/", headers=bearer(plaintext))
    assert me.json["token"]["scopes"] == ["controls:read", "dossiers:read"]
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None
    assert "Jamais" not in client.get(PAGE).get_data(as_text=True).split("Début du jeton")[1]


def test_a_token_needs_a_label_a_scope_and_an_expiry(app, client, auth, login_as) -> None:
    login_as(Role.FUNDER_ADMIN)
    response = auth.post(f"{PAGE}/jetons", {"label": ""}, token_from=PAGE)
    page = response.get_data(as_text=True)
    assert "Donnez un nom au jeton" in page
    assert "Choisissez au moins un droit" in page
    assert "date de fin de validité" in page
    assert db.session.scalars(select(ApiToken)).all() == []


def test_revoked_or_expired_tokens_no_longer_open_the_api(app, client, auth, login_as) -> None:
    admin = login_as(Role.FUNDER_ADMIN)
    plaintext = funder_token(admin.funder, ["dossiers:read"], admin=admin)
    assert client.get("/api/v1/dossiers", headers=bearer(plaintext)).status_code == 200
    (row,) = db.session.scalars(select(ApiToken))
    auth.post(f"{PAGE}/jetons/{row.id}/revoquer", {}, token_from=PAGE)
    assert app.test_client().get("/api/v1/dossiers", headers=bearer(plaintext)).status_code == 401
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.revoked"))

    other = funder_token(admin.funder, ["dossiers:read"], admin=admin)
    token = db.session.scalar(select(ApiToken).where(ApiToken.revoked_at.is_(None)))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert bearer_for(other) is None


def test_another_funders_admin_cannot_revoke_the_token(app, client, auth, login_as) -> None:
    plaintext = funder_token(FunderFactory(), ["dossiers:read"])
    login_as(Role.FUNDER_ADMIN)
    (row,) = db.session.scalars(select(ApiToken))
    response = auth.post(f"{PAGE}/jetons/{row.id}/revoquer", {}, token_from=PAGE)
    assert response.status_code == 404
    assert bearer_for(plaintext) is not None


def test_a_funder_admin_registers_an_endpoint_and_redelivers(app, client, auth, login_as) -> None:
    admin = login_as(Role.FUNDER_ADMIN)
    response = auth.post(
        f"{PAGE}/recepteurs",
        {"url": "https://si.example.test/hooks", "events": ["decision.created"]},
        token_from=PAGE,
    )
    secret = SECRET_IN_PAGE.search(response.get_data(as_text=True)).group(1)
    assert secret not in client.get(PAGE).get_data(as_text=True)
    outbox.emit(WebhookEvent.DECISION_CREATED, funder_id=admin.funder_id, dossier_id=None, data={})
    db.session.commit()
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    delivery.state = DeliveryState.FAILED.value
    db.session.commit()
    page = client.get(f"{PAGE}/recepteurs/{delivery.endpoint_id}").get_data(as_text=True)
    assert "Abandonnée" in page and "Renvoyer" in page
    auth.post(f"{PAGE}/envois/{delivery.id}/renvoyer", {}, token_from=PAGE)
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery.id).state == DeliveryState.PENDING


def test_the_access_page_says_which_tokens_are_live_expired_or_revoked(client, login_as) -> None:
    admin = login_as(Role.FUNDER_ADMIN)
    for label in ("SI actif", "SI expiré", "SI révoqué"):
        funder_token(admin.funder, label=label, admin=admin)
    tokens = {t.name: t for t in db.session.scalars(select(ApiToken))}
    tokens["SI expiré"].expires_at = utcnow() - timedelta(days=1)
    tokens["SI révoqué"].revoked_at = utcnow()
    db.session.commit()
    page = client.get("/admin/acces-api").get_data(as_text=True)
    rows = {
        name: re.sub(r"\s+", " ", row)
        for row in re.findall(r"<tr>.*?</tr>", page, re.S)
        for name in tokens
        if name in row
    }
    assert "<td>Actif</td>" in rows["SI actif"]
    # The same table as the personal tokens' (templates/_api_tokens.html): a dead token's
    # state stands out, a revoked one says when.
    assert '<td class="status-inactive">Expiré</td>' in rows["SI expiré"]
    assert '<td class="status-inactive">Révoqué le ' in rows["SI révoqué"]
