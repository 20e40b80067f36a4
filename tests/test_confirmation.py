"""Irreversible actions are confirmed: posted without « Je confirme », deciding an invoice,
validating dossiers in bulk, transmitting a signalement (to the ministry, to the
certifier), filing or closing it, and issuing a quality report do nothing and answer a
confirmation page (no JavaScript needed) whose form posts the same fields back; with HTMX
the same confirmation comes as a labelled <dialog> swapped into the page."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Certifier, InvoiceDecision, Signalement
from tests.factories import FunderFactory
from tests.quality.helpers import fill_all, plan
from tests.quality.helpers import make_world as quality_world
from tests.service_fait.control_helpers import dossier_of, make_invoice
from tests.service_fait.test_decisions import decision_path, page_version
from tests.service_fait.test_decisions import setup as setup
from tests.signalements.helpers import bring_to, client_as, make_world, substantiated
from tests.support.auth import csrf_token

HTMX = {"HX-Request": "true"}


class _ConfirmForm(HTMLParser):
    """The action and hidden fields of the confirmation's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._inside = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None and self._in_confirmation:
            self.action, self._inside = attributes.get("action"), True
        if tag in ("section", "dialog") and "confirmation" in (attributes.get("class") or ""):
            self._in_confirmation = True
        if tag == "input" and self._inside and attributes.get("type") == "hidden":
            self.fields.append((attributes["name"], attributes.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._inside:
            self._inside = False

    _in_confirmation = False


def confirm(client, response):
    """Post the confirmation's form back, as « Je confirme » does."""
    parser = _ConfirmForm()
    parser.feed(response.get_data(as_text=True))
    assert parser.action, "no confirmation form"
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return client.post(parser.action, data=data)


def _asks(response) -> str:
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Je confirme" in page and "Cette action est définitive." in page
    assert 'name="confirme" value="oui"' in page
    return page


def _is_dialog(response) -> None:
    body = response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#confirmation"
    assert "<html" not in body
    assert re.search(r'<dialog[^>]*aria-labelledby="confirmation-titre"', body)
    assert 'id="confirmation-titre"' in body and "data-close-dialog" in body


def _decisions() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(InvoiceDecision))


def _decision_data(auth, dossier, invoice) -> dict:
    prefix = f"facture-{invoice.id}-"
    return {
        prefix + "outcome": "conforme",
        prefix + "version": page_version(auth.client, dossier, invoice),
        prefix + "csrf_token": csrf_token(auth.client),
    }


def test_a_decision_asks_for_confirmation_without_javascript(auth, setup) -> None:
    dossier, invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    asked = auth.client.post(
        decision_path(dossier, invoice), data=_decision_data(auth, dossier, invoice)
    )
    page = _asks(asked)
    assert "<html" in page and dossier.reference in page and "Décision : conforme" in page
    assert _decisions() == 0
    done = confirm(auth.client, asked)
    assert done.status_code == 303
    assert _decisions() == 1


def test_a_decision_asks_in_a_dialog_with_htmx(auth, setup) -> None:
    dossier, invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    asked = auth.client.post(
        decision_path(dossier, invoice), data=_decision_data(auth, dossier, invoice), headers=HTMX
    )
    _asks(asked)
    _is_dialog(asked)
    assert _decisions() == 0
    assert confirm(auth.client, asked).status_code == 303
    assert _decisions() == 1


def test_a_decision_with_errors_says_so_before_asking(auth, setup) -> None:
    dossier, invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    data = _decision_data(auth, dossier, invoice)
    data[f"facture-{invoice.id}-amount_validated"] = "x" * 30  # too long
    response = auth.client.post(decision_path(dossier, invoice), data=data)
    assert "Je confirme" not in response.get_data(as_text=True)


def test_validating_in_bulk_asks_for_confirmation(auth, setup) -> None:
    dossier, _invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    data = {"dossier": [str(dossier.id)], "action": "valider", "retour": ""}
    asked = auth.post("/service-fait/selection", data)
    page = _asks(asked)
    assert "1 dossier coché" in page and dossier.reference in page
    assert _decisions() == 0
    htmx = auth.post("/service-fait/selection", data, headers=HTMX)
    _is_dialog(htmx)
    done = confirm(auth.client, asked)
    assert done.status_code == 303
    assert _decisions() == 1


def test_exporting_the_selection_asks_nothing(auth, setup) -> None:
    dossier, _invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    response = auth.post(
        "/service-fait/selection", {"dossier": [str(dossier.id)], "action": "exporter_csv"}
    )
    assert response.status_code == 200 and "text/csv" in response.headers["Content-Type"]


def _state(s: Signalement) -> str:
    db.session.expire_all()
    return db.session.get(Signalement, s.id).state


def test_transmitting_a_signalement_is_confirmed(app: Flask, outbox) -> None:
    w = make_world()
    s = substantiated(w)
    client, auth = client_as(app, w.controller)
    path = f"/signalements/{s.id}/actions/transmettre"
    asked = auth.post(path, {"version": str(s.version)})
    page = _asks(asked)
    assert s.reference in page and "transmis au ministère" in page
    assert _state(s) == "brouillon" and outbox == []
    _is_dialog(auth.post(path, {"version": str(s.version)}, headers=HTMX))
    assert confirm(client, asked).status_code == 303
    assert _state(s) == "transmis" and len(outbox) == 2


def test_the_detail_page_posts_irreversible_actions_through_htmx(app: Flask) -> None:
    w = make_world()
    s = substantiated(w)
    client, _auth = client_as(app, w.controller)
    page = client.get(f"/signalements/{s.id}").get_data(as_text=True)
    assert f'hx-post="/signalements/{s.id}/actions/transmettre"' in page
    assert 'id="confirmation"' in page and "js/dialogs.js" in page


def test_forwarding_to_the_certifier_filing_and_closing_are_confirmed(app: Flask) -> None:
    w = make_world()
    db.session.add(Certifier(name="AFNOR Certification"))
    db.session.commit()
    filed = bring_to(w, "en_examen")
    client, auth = client_as(app, w.liaison)
    path = f"/signalements/{filed.id}/actions/classer_sans_suite"
    asked = auth.post(path, {"version": str(filed.version), "motif": "regularise"})
    assert "classé sans suite" in _asks(asked)
    assert _state(filed) == "en_examen"
    assert confirm(client, asked).status_code == 303
    assert _state(filed) == "classe_sans_suite"

    forwarded = bring_to(w, "transmis_certificateur")
    path = f"/signalements/{forwarded.id}/actions/clore"
    asked = auth.post(path, {"version": str(forwarded.version), "message": "Reçu."})
    assert "sera clos" in _asks(asked)
    assert _state(forwarded) == "transmis_certificateur"
    assert confirm(client, asked).status_code == 303
    assert _state(forwarded) == "clos"

    taken = bring_to(w, "en_examen")
    path = f"/signalements/{taken.id}/actions/transmettre_certificateur"
    data = {
        "version": str(taken.version),
        "certificateur": "AFNOR Certification",
        "date_transmission": "2026-01-05",
        "reference_certificateur": "DREETS-1",
    }
    asked = auth.post(path, data)
    _asks(asked)
    assert _state(taken) == "en_examen"


def test_an_action_the_role_may_not_take_is_refused_without_asking(app: Flask) -> None:
    w = make_world()
    s = substantiated(w)
    _client, auth = client_as(app, w.liaison)
    response = auth.post(f"/signalements/{s.id}/actions/clore", {"version": str(s.version)})
    assert "Je confirme" not in response.get_data(as_text=True)


def test_issuing_a_quality_report_is_confirmed(app: Flask, outbox) -> None:
    world = quality_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    fill_all(control)
    db.session.refresh(control)
    path = f"/qualite/controles/{control.id}/rapport/emettre"
    asked = auth.post(path, {"version": str(control.version)})
    assert "les constats sont figés" in _asks(asked)
    db.session.refresh(control)
    assert control.reported_at is None
    _is_dialog(auth.post(path, {"version": str(control.version)}, headers=HTMX))
    assert confirm(client, asked).status_code == 303
    db.session.refresh(control)
    assert control.reported_at is not None


def test_a_foreign_dossier_gets_no_confirmation(auth, setup) -> None:
    _dossier, _invoice, _certificate, controller, _admin = setup
    auth.log_in(controller)
    foreign = dossier_of(FunderFactory())
    invoice = make_invoice(foreign)
    response = auth.post(decision_path(foreign, invoice), {})
    assert response.status_code == 404
