"""Dossiers through the API: a funder's system creates, reads, lists and changes them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Dossier, Provider, Role
from portal.public_list.importer import import_list
from tests.api import bearer, funder_token
from tests.factories import (
    DossierFactory,
    FunderFactory,
    FunderProviderFactory,
    ProviderFactory,
    UserFactory,
)
from tests.fixtures.make_public_list_sample import SAMPLE_PATH

GARONNE_NDA = "76311234567"
GARONNE_SIRET = "81234567600017"  # in the sample list, certified for actions de formation


@pytest.fixture
def public_list(app) -> None:
    import_list(str(SAMPLE_PATH), as_of=date.today() - timedelta(days=2), triggered_by="test")


def _following_funder():
    """A funder that follows the Garonne OF already (following is a funder admin's act: a
    token, like a controller, creates dossiers only for the OF its funder follows)."""
    funder = FunderFactory()
    provider = db.session.scalar(select(Provider).where(Provider.nda == GARONNE_NDA))
    if provider is None:
        provider = ProviderFactory(
            nda=GARONNE_NDA,
            siren=GARONNE_SIRET[:9],
            siret=GARONNE_SIRET,
            name="Atelier Formation Garonne",
        )
    FunderProviderFactory(funder=funder, provider=provider)
    return funder


def dossier_body(**changes):
    body = {
        "reference": "TP-2026-001",
        "provider": GARONNE_SIRET,
        "beneficiary_last_name": "Martin",
        "beneficiary_first_name": "Claire",
        "action_title": "Titre professionnel Secrétaire assistant",
        "category": "actions_formation",
        "scheme": "ptp",
        "rncp_code": "RNCP37796",
        "modality": "presentiel",
        "start_date": "2026-09-01",
        "end_date": "2027-03-31",
        "planned_hours": "1085.5",
        "agreed_amount": "14250.50",
        "payment_rhythm": "mensuel",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Dossier.id)))


def test_a_funder_token_creates_a_dossier_and_reads_it_back(app, client, public_list) -> None:
    funder = _following_funder()
    token = funder_token(funder)
    response = client.post("/api/v1/dossiers", json=dossier_body(), headers=bearer(token))
    assert response.status_code == 201, response.json
    created = response.json
    assert created["reference"] == "TP-2026-001"
    assert created["planned_minutes"] == 1085 * 60 + 30
    assert created["agreed_amount"] == "14250.50"
    assert created["version"] == 1
    assert created["provider"]["siret"] == GARONNE_SIRET
    assert response.headers["Location"] == f"/api/v1/dossiers/{created['id']}"

    read = client.get(response.headers["Location"], headers=bearer(token))
    assert read.status_code == 200
    assert read.json == created
    dossier = db.session.get(Dossier, created["id"])
    assert dossier.funder_id == funder.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dossier.created"))
    assert event.actor_id is None and "jeton d'API « SI du financeur »" in event.actor_label


def test_a_retried_creation_with_its_idempotency_key_creates_one_dossier(
    app, client, public_list
) -> None:
    token = funder_token(_following_funder())
    headers = {**bearer(token), "Idempotency-Key": "4f1c-retry"}
    first = client.post("/api/v1/dossiers", json=dossier_body(), headers=headers)
    again = client.post("/api/v1/dossiers", json=dossier_body(), headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert _count() == 1
    other = client.post("/api/v1/dossiers", json=dossier_body(reference="TP-2"), headers=headers)
    assert other.status_code == 409
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert _count() == 1


def test_refusals_name_the_fields(app, client, public_list) -> None:
    token = funder_token(FunderFactory())
    unknown = client.post(
        "/api/v1/dossiers", json=dossier_body(colour="bleu"), headers=bearer(token)
    )
    assert unknown.status_code == 422
    assert unknown.json["error"]["code"] == "unknown_field"
    assert unknown.json["error"]["fields"] == {"colour": ["Champ inconnu."]}
    assert "« colour »" in unknown.json["error"]["message"]

    missing = client.post(
        "/api/v1/dossiers", json=dossier_body(reference=None), headers=bearer(token)
    )
    assert missing.status_code == 422
    assert missing.json["error"]["fields"] == {"reference": ["Champ obligatoire."]}

    rules = client.post(
        "/api/v1/dossiers",
        json=dossier_body(end_date="2026-01-01", planned_hours="beaucoup"),
        headers=bearer(token),
    )
    assert rules.status_code == 422
    assert rules.json["error"]["code"] == "invalid_fields"
    assert {"end_date", "planned_hours"} <= set(rules.json["error"]["fields"])
    assert _count() == 0


def test_a_stale_update_gets_409_with_the_current_version(app, client, public_list) -> None:
    token = funder_token(_following_funder())
    created = client.post("/api/v1/dossiers", json=dossier_body(), headers=bearer(token)).json
    url = f"/api/v1/dossiers/{created['id']}"
    changed = client.patch(
        url, json={"version": 1, "beneficiary_first_name": "Claire-Marie"}, headers=bearer(token)
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["version"] == 2
    assert changed.json["beneficiary_first_name"] == "Claire-Marie"

    stale = client.patch(url, json={"version": 1, "action_title": "Autre"}, headers=bearer(token))
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "stale_version"
    assert stale.json["error"]["current_version"] == 2
    db.session.expire_all()
    assert db.session.get(Dossier, created["id"]).action_title != "Autre"


def test_a_read_token_cannot_write_and_a_token_never_sees_another_funder(
    app, client, public_list
) -> None:
    mine, theirs = FunderFactory(), FunderFactory()
    other_dossier = DossierFactory(funder=theirs)
    reader = funder_token(mine, ["dossiers:read"])
    refused = client.post("/api/v1/dossiers", json=dossier_body(), headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "insufficient_scope"
    assert _count() == 1

    assert (
        client.get(f"/api/v1/dossiers/{other_dossier.id}", headers=bearer(reader)).status_code
        == 404
    )
    listed = client.get("/api/v1/dossiers", headers=bearer(reader)).json
    assert listed == {"items": [], "next_cursor": None}
    writer = funder_token(mine, ["dossiers:write", "dossiers:read"])
    patched = client.patch(
        f"/api/v1/dossiers/{other_dossier.id}", json={"version": 1}, headers=bearer(writer)
    )
    assert patched.status_code == 404
    assert (
        client.get(
            f"/api/v1/dossiers/{other_dossier.id}/pieces", headers=bearer(writer)
        ).status_code
        == 404
    )


def test_a_personal_token_reads_qualiopi_only(app, client) -> None:
    from tests.api import new_token

    funder = FunderFactory()
    DossierFactory(funder=funder)
    personal = new_token(UserFactory(role=Role.CONTROLLER.value, funder=funder))
    response = client.get("/api/v1/dossiers", headers=bearer(personal))
    assert response.status_code == 403


def test_the_list_filters_and_pages_by_cursor_without_skipping_or_repeating(app, client) -> None:
    funder = FunderFactory()
    token = funder_token(funder, ["dossiers:read"])
    first = [DossierFactory(funder=funder, scheme="cpf" if i % 2 else "ptp") for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/dossiers", query_string=query, headers=bearer(token)).json
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if pages == 1:  # dossiers created while the client reads
            DossierFactory(funder=funder)
            DossierFactory(funder=funder)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9
    assert seen[:7] == [d.id for d in first]

    cpf = client.get("/api/v1/dossiers?scheme=cpf", headers=bearer(token)).json["items"]
    assert {d["id"] for d in cpf} == {d.id for d in first if d.scheme == "cpf"}


def test_page_size_cap_and_unknown_parameters(app, client) -> None:
    token = funder_token(FunderFactory(), ["dossiers:read"])
    too_big = client.get("/api/v1/dossiers?limit=1000", headers=bearer(token))
    assert too_big.status_code == 400
    assert "limit" in too_big.json["error"]["fields"]
    typo = client.get("/api/v1/dossiers?statut=clos", headers=bearer(token))
    assert typo.status_code == 400
    assert typo.json["error"]["code"] == "unknown_parameter"
    assert "« statut »" in typo.json["error"]["message"]
    bad = client.get("/api/v1/dossiers?cursor=zzz", headers=bearer(token))
    assert bad.status_code == 400 and "cursor" in bad.json["error"]["fields"]
