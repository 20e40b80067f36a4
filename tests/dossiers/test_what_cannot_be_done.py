"""What cannot be done is not offered: a piece locked by a decision says so instead of
offering "Remplacer"; a requested piece that arrived says "reçue"; the dossier page and its
service-fait control link to each other (for those who may open the control)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal import clock
from portal.clock import utcnow
from portal.extensions import db
from portal.models import DocumentRequest, Role
from portal.service_fait import decisions
from tests.dossiers.piece_helpers import month_end
from tests.factories import UserFactory
from tests.service_fait.control_helpers import (
    dossier_of,
    funder_with_staff,
    make_invoice,
    make_piece,
)
from tests.service_fait.test_control_page import text


def _setup():
    funder, controller, _ = funder_with_staff()
    dossier = dossier_of(funder)
    provider_user = UserFactory(role=Role.PROVIDER.value, provider=dossier.provider)
    return dossier, controller, provider_user


def test_a_locked_piece_says_by_which_decision_instead_of_offering_to_replace(
    app, client, auth
) -> None:
    dossier, controller, provider_user = _setup()
    invoice = make_invoice(dossier, invoice_number="F-1")
    certificate = make_piece(
        dossier,
        "certificat_realisation",
        month_end(dossier.start_date, 1) + timedelta(days=1),
        month_end(dossier.start_date, 2),
        hours_completed=Decimal("70"),
        nature=dossier.category,
        signatory="Sophie Martin",
    )
    decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    auth.log_in(provider_user)
    body = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    today = clock.today().strftime("%d/%m/%Y")
    assert f"Verrouillée par la décision du {today}" in body
    replace = f"/dossiers/{dossier.id}/pieces/{invoice.id}/remplacer"
    assert replace not in body
    # A piece of another period, not relied on, can still be replaced.
    assert f"/dossiers/{dossier.id}/pieces/{certificate.id}/remplacer" in body


def test_a_requested_piece_that_arrived_is_shown_received(app, client, auth) -> None:
    dossier, controller, provider_user = _setup()
    start, end = dossier.start_date, month_end(dossier.start_date, 0)
    request = DocumentRequest(
        dossier_id=dossier.id,
        funder_id=dossier.funder_id,
        created_at=utcnow() - timedelta(hours=2),
        due_date=clock.today() + timedelta(days=10),
        items=[
            {"kind": "facture", "period_start": start.isoformat(), "period_end": end.isoformat()},
            {
                "kind": "feuille_emargement",
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
            },
        ],
        message="Merci d'envoyer la facture et la feuille d'émargement d'août.",
    )
    db.session.add(request)
    db.session.commit()
    make_invoice(dossier, invoice_number="F-1")  # sent after the request
    for user, path in (
        (provider_user, f"/dossiers/{dossier.id}"),
        (controller, f"/service-fait/dossiers/{dossier.id}"),
    ):
        auth.log_in(user)
        page = text(client.get(path))
        assert page.count(" reçue") >= 1, path
        invoice_item = page[page.index("Facture du") :][:80]
        assert "reçue" in invoice_item, invoice_item
        sheet_item = page[page.index("Feuille d'émargement du") :][:80]
        assert "reçue" not in sheet_item, sheet_item


def test_the_dossier_and_its_control_link_to_each_other(app, client, auth) -> None:
    dossier, controller, provider_user = _setup()
    control = f"/service-fait/dossiers/{dossier.id}"
    auth.log_in(controller)
    assert f'href="{control}"' in client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert f'href="/dossiers/{dossier.id}"' in client.get(control).get_data(as_text=True)
    # The OF may not open the control page: it is not linked for them.
    auth.log_in(provider_user)
    assert f'href="{control}"' not in client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert client.get(control).status_code == 403
