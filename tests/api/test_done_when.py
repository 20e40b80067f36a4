"""The issue's « Done when », through the test client: a funder admin creates a token on
« Accès API » and registers a local receiver, the funder's system creates a dossier with
the API, the OF uploads a piece, the controller decides, and the worker delivers
`decision.created` to the receiver with a valid signature. On the way, the dossier's
findings on the control page and in the queue are those a full run of the checks finds."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import today
from portal.extensions import db
from portal.models import CheckFinding, Dossier, Piece, Role, ServiceFaitControl
from portal.service_fait import runner
from portal.webhooks import signing
from portal.webhooks.worker import Worker
from tests.api import bearer, import_sample
from tests.api.test_dossiers_api import _following_funder, dossier_body
from tests.dossiers.piece_helpers import fields_for, make_pdf, post_piece
from tests.factories import UserFactory
from tests.service_fait.test_decisions import post_decision
from tests.support.auth import AuthActions
from tests.support.receiver import Receiver, running_receiver

pytestmark = pytest.mark.xdist_group(name="webhooks")


@pytest.fixture
def public_list(app) -> None:
    import_sample(today() - timedelta(days=2))


PAGE = "/admin/acces-api"
TOKEN_IN_PAGE = re.compile(r'id="nouveau-jeton"[^>]*value="(pq_[A-Za-z0-9_-]+)"')
SECRET_IN_PAGE = re.compile(r'id="nouveau-secret"[^>]*value="(whsec_[A-Za-z0-9_-]+)"')


def _state(dossier_id: int) -> tuple[list[tuple], tuple]:
    """The dossier's stored findings and its control's counts and status."""
    db.session.expire_all()
    findings = [
        (f.code, f.severity, f.explanation, f.piece_id, f.period_start, f.period_end)
        for f in db.session.scalars(
            select(CheckFinding)
            .where(CheckFinding.dossier_id == dossier_id)
            .order_by(CheckFinding.id)
        )
    ]
    control = db.session.scalars(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == dossier_id)
    ).one()
    return findings, (
        control.status,
        control.blocking_count,
        control.warning_count,
        control.info_count,
        control.invoiced_total,
    )


def _as_a_full_run_finds(dossier_id: int) -> list[tuple]:
    """The stored state is unchanged by a full run of the checks; the findings' codes."""
    stored = _state(dossier_id)
    runner.run_checks([dossier_id])
    assert _state(dossier_id) == stored
    return [finding[0] for finding in stored[0]]


def _shown(client, dossier: Dossier, codes: list[str]) -> None:
    """The control page lists the findings, the queue shows the dossier with their count."""
    labels = {
        code: label
        for code, label in db.session.execute(
            select(CheckFinding.code, CheckFinding.label).where(
                CheckFinding.dossier_id == dossier.id
            )
        )
    }
    page = html.unescape(client.get(f"/service-fait/dossiers/{dossier.id}").get_data(as_text=True))
    for code in codes:
        assert labels[code] in page
    queue = client.get("/service-fait/")
    assert queue.status_code == 200
    row = re.search(
        rf'<tr[^>]*>(?:(?!</tr>).)*href="/service-fait/dossiers/{dossier.id}"(?:(?!</tr>).)*</tr>',
        queue.get_data(as_text=True),
        re.S,
    )
    assert row, "the dossier is not in the queue"


def test_token_api_creation_upload_decision_and_signed_webhook(app, client, public_list) -> None:
    funder = _following_funder()
    admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder)
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    auth = AuthActions(client)

    with running_receiver(Receiver()) as receiver:
        # 1. The funder admin creates a token and registers the receiver, on « Accès API ».
        auth.log_in(admin)
        created = auth.post(
            f"{PAGE}/jetons",
            {
                "label": "Système de gestion",
                "scopes": ["dossiers:write", "dossiers:read", "controls:read"],
                "expires_on": (today() + timedelta(days=90)).isoformat(),
            },
            token_from=PAGE,
        )
        token = TOKEN_IN_PAGE.search(created.get_data(as_text=True)).group(1)
        registered = auth.post(
            f"{PAGE}/recepteurs",
            {"url": receiver.url, "events": ["decision.created", "dossier.pieces_changed"]},
            token_from=PAGE,
        )
        receiver.secret = SECRET_IN_PAGE.search(registered.get_data(as_text=True)).group(1)

        # 2. The funder's system creates a dossier (an OF the funder follows, current dates).
        start = today().replace(day=1) - timedelta(days=62)
        body = dossier_body(
            reference="SI-2026-0001",
            start_date=start.replace(day=1).isoformat(),
            end_date=(today() + timedelta(days=60)).isoformat(),
        )
        api = app.test_client()
        answer = api.post(
            "/api/v1/dossiers",
            json=body,
            headers={**bearer(token), "Idempotency-Key": "done-when-1"},
        )
        assert answer.status_code == 201, answer.json
        dossier = db.session.get(Dossier, answer.json["id"])
        at_creation = _as_a_full_run_finds(dossier.id)
        auth.log_in(controller)
        _shown(client, dossier, at_creation)

        # 3. The OF uploads an invoice (no certificate yet: a finding says so).
        of_user = UserFactory(role=Role.PROVIDER.value, provider=dossier.provider)
        auth.log_in(of_user)
        uploaded = post_piece(
            auth,
            dossier.id,
            "facture",
            fields_for("facture", dossier),
            [("facture.pdf", make_pdf())],
        )
        assert uploaded.status_code in (302, 303), uploaded.get_data(as_text=True)[:500]
        with_invoice = _as_a_full_run_finds(dossier.id)
        assert "INVOICE_WITHOUT_CERTIFICATE" in with_invoice
        auth.log_in(controller)
        _shown(client, dossier, with_invoice)

        # 4. The controller decides on the invoice.
        invoice = db.session.scalars(
            select(Piece).where(Piece.dossier_id == dossier.id, Piece.kind == "facture")
        ).one()
        decided = post_decision(auth, dossier, invoice, outcome="conforme")
        assert decided.status_code in (200, 302, 303)

        # 5. The worker delivers the events; the receiver checks each signature.
        while Worker().run_once():
            pass
        got = {r.headers[signing.EVENT_HEADER]: r for r in receiver.received}
        assert set(got) == {"dossier.pieces_changed", "decision.created"}
        assert all(r.valid for r in receiver.received)
        decision = got["decision.created"].event
        assert decision["data"]["dossier_id"] == dossier.id
        assert decision["data"]["invoice_id"] == invoice.id
    # The API reads the decision back in the control.
    control = api.get(f"/api/v1/dossiers/{dossier.id}/control", headers=bearer(token))
    assert control.status_code == 200
    assert [d["outcome"] for d in control.json["decisions"]] == ["conforme"]
