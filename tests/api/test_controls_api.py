"""Pieces, the service-fait control, the decisions feed and the Qualiopi alerts through
the API; and its limits (rate per token, body size)."""

from __future__ import annotations

import io
from datetime import timedelta

from portal.clock import utcnow
from portal.extensions import db
from portal.service_fait import decisions
from portal.storage import new_key, storage_for
from tests.api import bearer, funder_token
from tests.factories import FunderFactory
from tests.service_fait.control_helpers import (
    dossier_of,
    funder_with_staff,
    make_certificate,
    make_finding,
    make_invoice,
)


def test_pieces_come_with_their_figures_and_sha256_and_files_download(app, client) -> None:
    funder = FunderFactory()
    dossier = dossier_of(funder)
    invoice = make_invoice(dossier, amount="1250.50", hours="13.5")
    make_certificate(dossier, hours="14")
    key = new_key()
    storage_for(app).save(key, io.BytesIO(b"%PDF-1.4 facture"))
    invoice.document.storage_key = key
    db.session.commit()
    token = funder_token(funder, ["dossiers:read"])

    listed = client.get(f"/api/v1/dossiers/{dossier.id}/pieces", headers=bearer(token)).json
    first, second = listed["items"]
    assert first["kind"] == "facture" and first["current"] is True
    assert first["figures"]["amount_excl_tax"] == "1250.50"
    assert first["figures"]["hours_billed_minutes"] == 810
    assert second["figures"]["hours_completed_minutes"] == 840
    assert first["file"]["sha256"] == invoice.document.sha256

    download = client.get(first["download_url"], headers=bearer(token))
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 facture"
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()


def test_the_control_shows_findings_and_decisions_and_the_feed_lists_them(app, client) -> None:
    funder, controller, _admin = funder_with_staff()
    dossier = dossier_of(funder)
    invoice = make_invoice(dossier, amount="1000.00")
    make_finding(dossier, code="AMOUNT_OVER_AGREED")
    before = utcnow() - timedelta(seconds=1)
    decisions.decide(
        controller,
        dossier,
        invoice.id,
        decisions.DecisionInput(
            outcome="partiellement_conforme",
            amount_validated="800",
            reason_code="heures_non_justifiees",
            note="x",
        ),
        expected_version=None,
    )
    db.session.commit()
    token = funder_token(funder, ["controls:read"])

    control = client.get(f"/api/v1/dossiers/{dossier.id}/control", headers=bearer(token))
    assert control.status_code == 200, control.json
    body = control.json
    assert [f["code"] for f in body["findings"]] == ["AMOUNT_OVER_AGREED"]
    (decision,) = body["decisions"]
    assert decision["amount_validated"] == "800.00" and decision["active"] is True

    feed = client.get(
        "/api/v1/decisions", query_string={"since": before.isoformat()}, headers=bearer(token)
    ).json
    assert [d["id"] for d in feed["items"]] == [decision["id"]]
    later = client.get(
        "/api/v1/decisions",
        query_string={"since": (utcnow() + timedelta(hours=1)).isoformat()},
        headers=bearer(token),
    ).json
    assert later["items"] == []
    # Another funder's token sees neither.
    other = funder_token(FunderFactory(), ["controls:read"])
    assert (
        client.get(f"/api/v1/dossiers/{dossier.id}/control", headers=bearer(other)).status_code
        == 404
    )
    assert (
        client.get(
            "/api/v1/decisions", query_string={"since": before.isoformat()}, headers=bearer(other)
        ).json["items"]
        == []
    )


def test_rate_limit_per_token_says_when_to_retry(app, client) -> None:
    app.config["API_RATE_LIMIT"] = "3 per minute"
    funder = FunderFactory()
    one, two = funder_token(funder, ["dossiers:read"]), funder_token(funder, ["dossiers:read"])
    for _ in range(3):
        assert client.get("/api/v1/dossiers", headers=bearer(one)).status_code == 200
    refused = client.get("/api/v1/dossiers", headers=bearer(one))
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/dossiers", headers=bearer(two)).status_code == 200


def test_a_body_too_large_or_not_json_is_refused(app, client) -> None:
    token = funder_token(FunderFactory(), ["dossiers:write"])
    big = client.post(
        "/api/v1/dossiers",
        data=b"{" + b" " * (app.config["API_MAX_BODY_BYTES"] + 10) + b"}",
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert big.json["error"]["code"] == "payload_too_large"
    form = client.post("/api/v1/dossiers", data={"reference": "x"}, headers=bearer(token))
    assert form.status_code == 415
    assert form.json["error"]["code"] == "unsupported_media_type"
