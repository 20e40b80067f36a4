"""Decisions per invoice: outcomes, coded reasons, amounts, locking of the pieces relied on,
reopening by a funder admin, two controllers at once, audit."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.dossiers import locks
from portal.dossiers import pieces as pieces_service
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.models import (
    AuditEvent,
    ControlStatus,
    DecisionOutcome,
    InvoiceDecision,
    Piece,
    Role,
    ServiceFaitControl,
)
from portal.service_fait import decisions, reasons
from tests.dossiers.piece_helpers import make_pdf, month_end, month_start
from tests.factories import FunderFactory, UserFactory
from tests.service_fait.control_helpers import (
    dossier_of,
    funder_with_staff,
    make_certificate,
    make_invoice,
    make_piece,
)
from tests.support.auth import AuthActions, csrf_token


@pytest.fixture
def setup(app):
    funder, controller, admin = funder_with_staff()
    dossier = dossier_of(funder)
    invoice = make_invoice(dossier, amount="1500.00")
    certificate = make_certificate(dossier)
    return dossier, invoice, certificate, controller, admin


def decision_path(dossier, invoice) -> str:
    return f"/service-fait/dossiers/{dossier.id}/factures/{invoice.id}/decision"


def page_version(client, dossier, invoice) -> str:
    page = client.get(f"/service-fait/dossiers/{dossier.id}").get_data(as_text=True)
    match = re.search(rf'name="facture-{invoice.id}-version" type="hidden" value="(\d+)"', page)
    assert match, "no decision form for this invoice"
    return match.group(1)


def post_decision(auth, dossier, invoice, version: str | None = None, headers=None, **values):
    prefix = f"facture-{invoice.id}-"
    if version is None:
        version = page_version(auth.client, dossier, invoice)
    data = {prefix + key: value for key, value in values.items()}
    data[prefix + "version"] = version
    # The session's token (the form may be gone if the invoice was decided).
    data[prefix + "csrf_token"] = csrf_token(auth.client)
    data.setdefault("confirme", "oui")  # the confirmation step: tests/test_confirmation.py
    return auth.client.post(decision_path(dossier, invoice), data=data, headers=headers or {})


def text(response) -> str:
    """The page as a reader sees its characters (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def active(invoice) -> list[InvoiceDecision]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(InvoiceDecision).where(
                InvoiceDecision.invoice_id == invoice.id, InvoiceDecision.reopened_at.is_(None)
            )
        )
    )


# --- Outcomes and reasons ---------------------------------------------------------------------


def test_a_conforming_decision_validates_the_amount_invoiced(auth, setup) -> None:
    dossier, invoice, certificate, controller, _ = setup
    later = make_certificate(
        dossier,
        start=month_start(dossier.start_date, 1),
        end=month_end(dossier.start_date, 1),
    )
    auth.log_in(controller)

    response = post_decision(auth, dossier, invoice, outcome="conforme", note="RAS")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/service-fait/dossiers/{dossier.id}#decisions")
    (decision,) = active(invoice)
    assert decision.outcome == DecisionOutcome.CONFORMING
    assert decision.amount_validated == decision.amount_invoiced == Decimal("1500.00")
    assert decision.reason_code is None and decision.note == "RAS"
    assert decision.decided_by_id == controller.id
    # It relies on the invoice and the pieces of the same period, not on the next month's.
    assert {p.id for p in decision.pieces} == {invoice.id, certificate.id}
    assert later.id not in {p.id for p in decision.pieces}
    control = db.session.scalars(select(ServiceFaitControl)).one()
    assert control.status == ControlStatus.DECIDED  # the only invoice is decided
    assert control.validated_total == Decimal("1500.00")
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.decision_taken")
    ).one()
    assert event.actor_id == controller.id and event.funder_id == dossier.funder_id
    assert event.details["invoice_id"] == invoice.id
    assert event.details["outcome"] == "conforme"
    assert sorted(event.details["pieces"]) == sorted([invoice.id, certificate.id])
    page = text(auth.client.get(f"/service-fait/dossiers/{dossier.id}"))
    assert "Décision enregistrée : conforme" in page
    assert "Verrouillée par la décision" in page


@pytest.mark.parametrize("outcome", ["partiellement_conforme", "non_conforme"])
def test_a_decision_cannot_be_taken_without_a_reason(auth, setup, outcome: str) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)

    response = post_decision(
        auth, dossier, invoice, outcome=outcome, amount_validated="700", reason_code=""
    )

    assert response.status_code == 200
    page = text(response)
    assert decisions.REASON_REQUIRED in page
    assert "La décision n'a pas été enregistrée" in page
    assert 'value="700"' in page or outcome == "non_conforme"  # what was typed is kept
    assert active(invoice) == []


def test_a_decision_needs_an_outcome(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(auth, dossier, invoice, reason_code="autre")
    assert response.status_code == 200
    assert decisions.OUTCOME_REQUIRED in text(response)
    assert active(invoice) == []


def test_the_reason_other_needs_a_note(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(auth, dossier, invoice, outcome="non_conforme", reason_code="autre")
    assert decisions.NOTE_REQUIRED in text(response)
    assert active(invoice) == []
    response = post_decision(
        auth, dossier, invoice, outcome="non_conforme", reason_code="autre", note="Doublon"
    )
    assert response.status_code == 303
    (decision,) = active(invoice)
    assert decision.amount_validated == Decimal("0.00") and decision.reason_code == "autre"


def test_an_unknown_reason_code_is_refused(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(
        auth, dossier, invoice, outcome="non_conforme", reason_code="pas_un_motif"
    )
    assert "Ce motif n'est pas dans la liste" in text(response)
    assert active(invoice) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "supérieur à 0"),
        ("1500", "inférieur au montant facturé"),
        ("1500,01", "inférieur au montant facturé"),
        ("2 000", "inférieur au montant facturé"),
        ("12,345", "Au plus 2 décimales"),
        ("-5", "négatif"),
        ("beaucoup", "n'est pas un nombre"),
        ("", "Indiquez le montant validé"),
    ],
)
def test_partial_amount_bounds(auth, setup, typed: str, message: str) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(
        auth,
        dossier,
        invoice,
        outcome="partiellement_conforme",
        amount_validated=typed,
        reason_code="heures_non_justifiees",
    )
    assert response.status_code == 200
    assert message in text(response)
    assert active(invoice) == []


def test_a_partly_conforming_decision_validates_the_lower_amount(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(
        auth,
        dossier,
        invoice,
        outcome="partiellement_conforme",
        amount_validated="1 499,99",
        reason_code="heures_non_justifiees",
        note="13 h 30 sur le certificat au lieu de 14 h",
    )
    assert response.status_code == 303
    (decision,) = active(invoice)
    assert decision.outcome == DecisionOutcome.PARTLY_CONFORMING
    assert decision.amount_validated == Decimal("1499.99")
    assert decision.reason_code == "heures_non_justifiees"
    page = text(auth.client.get(f"/service-fait/dossiers/{dossier.id}"))
    assert reasons.label("heures_non_justifiees") in page


def test_the_check_function_ignores_a_reason_on_a_conforming_decision() -> None:
    checked = decisions.check(
        decisions.DecisionInput("conforme", "12", "autre", ""), Decimal("100.00")
    )
    assert checked.errors == {}
    assert checked.amount_validated == Decimal("100.00") and checked.reason_code is None


def test_every_reason_has_a_french_label() -> None:
    assert reasons.OTHER in reasons.REASONS
    assert all(code and label for code, label in reasons.REASONS.items())
    assert reasons.choices()[0] == ("", "— Choisir un motif —")


def test_an_invoice_of_another_dossier_cannot_be_decided(auth, setup) -> None:
    dossier, _, _, controller, _ = setup
    other = dossier_of(FunderFactory())
    foreign = make_invoice(other)
    auth.log_in(controller)
    response = auth.post(decision_path(dossier, foreign), {f"facture-{foreign.id}-outcome": "x"})
    assert response.status_code == 404
    assert active(foreign) == []
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).all()
    assert [(e.actor_id, e.details["piece_id"], e.details["dossier_id"]) for e in refused] == [
        (controller.id, foreign.id, dossier.id)
    ]
    # The other funder's dossier itself is out of scope.
    assert auth.post(decision_path(other, foreign), {}).status_code == 404


def test_an_htmx_decision_with_errors_returns_the_decisions_fragment(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(
        auth, dossier, invoice, headers={"HX-Request": "true"}, outcome="non_conforme"
    )
    page = text(response)
    assert response.status_code == 200
    assert "<html" not in page and 'id="decisions"' in page
    assert decisions.REASON_REQUIRED in page


def test_an_htmx_decision_reloads_the_updated_page(auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    auth.log_in(controller)
    response = post_decision(
        auth, dossier, invoice, headers={"HX-Request": "true"}, outcome="conforme"
    )
    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"  # the page reloads, flash included
    assert len(active(invoice)) == 1


# --- Two controllers at once ----------------------------------------------------------------


def test_two_controllers_deciding_at_once_the_second_is_told(app, auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    second = UserFactory(role=Role.CONTROLLER.value, funder=dossier.funder)
    other_auth = AuthActions(app.test_client())
    auth.log_in(controller)
    other_auth.log_in(second)
    # Both open the page: their forms carry the same version.
    first_version = page_version(auth.client, dossier, invoice)
    second_version = page_version(other_auth.client, dossier, invoice)
    assert first_version == second_version

    first = post_decision(auth, dossier, invoice, first_version, outcome="conforme")
    late = post_decision(
        other_auth,
        dossier,
        invoice,
        second_version,
        outcome="non_conforme",
        reason_code="facture_en_double",
    )

    assert first.status_code == 303
    assert late.status_code == 409
    page = text(late)
    assert "modifié par quelqu'un d'autre pendant votre saisie" in page
    (decision,) = active(invoice)  # nothing overwritten
    assert decision.outcome == "conforme" and decision.decided_by_id == controller.id
    assert db.session.scalars(select(InvoiceDecision)).all() == [decision]


def test_a_stale_form_on_another_invoice_is_told_too(app, auth, setup) -> None:
    dossier, invoice, _, controller, _ = setup
    second_invoice = make_invoice(
        dossier, month_start(dossier.start_date, 1), month_end(dossier.start_date, 1)
    )
    auth.log_in(controller)
    stale = page_version(auth.client, dossier, second_invoice)
    assert post_decision(auth, dossier, invoice, stale, outcome="conforme").status_code == 303
    response = post_decision(
        auth, dossier, second_invoice, stale, headers={"HX-Request": "true"}, outcome="conforme"
    )
    assert response.status_code == 200  # htmx swaps only 2xx: the message is in the fragment
    assert "rien n'a été enregistré" in text(response)
    assert active(second_invoice) == []
    # The redisplayed form carries the current version: deciding again works.
    assert post_decision(auth, dossier, second_invoice, outcome="conforme").status_code == 303


def test_the_service_refuses_a_second_active_decision(setup) -> None:
    dossier, invoice, _, controller, _ = setup
    data = decisions.DecisionInput("conforme")
    decisions.decide(controller, dossier, invoice.id, data, expected_version=None)
    db.session.commit()
    with pytest.raises(Stale):
        decisions.decide(controller, dossier, invoice.id, data, expected_version=None)
    db.session.rollback()


def test_the_database_refuses_two_active_decisions_on_one_invoice(setup) -> None:
    dossier, invoice, _, controller, _ = setup
    for _ in range(2):
        db.session.add(
            InvoiceDecision(
                dossier_id=dossier.id,
                invoice_id=invoice.id,
                outcome="conforme",
                amount_invoiced=Decimal("1500"),
                amount_validated=Decimal("1500"),
                decided_by_id=controller.id,
            )
        )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- Locking --------------------------------------------------------------------------------


def _of_user(dossier):
    return UserFactory(role=Role.PROVIDER.value, provider=dossier.provider, funder=None)


def test_a_piece_a_decision_relies_on_cannot_be_replaced(app, auth, setup) -> None:
    dossier, invoice, certificate, controller, _ = setup
    decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    of_user = _of_user(dossier)
    auth.log_in(of_user)
    fields = {
        "period_start": certificate.period_start.isoformat(),
        "period_end": certificate.period_end.isoformat(),
        "nature": "actions_formation",
        "hours_completed": "69",
        "signatory": "Sophie Martin",
        "signed_on": certificate.period_end.isoformat(),
    }
    before = db.session.scalars(select(Piece.id).order_by(Piece.id)).all()

    response = auth.post(
        f"/dossiers/{dossier.id}/pieces/{certificate.id}/remplacer",
        {**fields, "files": (io.BytesIO(make_pdf("v2")), "v2.pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    page = text(response)
    assert "ne peut pas être remplacée" in page and "rouvrir cette décision" in page
    db.session.expire_all()
    assert db.session.scalars(select(Piece.id).order_by(Piece.id)).all() == before
    assert db.session.get(Piece, certificate.id).superseded_at is None
    assert db.session.get(Piece, certificate.id).minutes_completed == 70 * 60


def test_the_service_refuses_and_a_reopened_decision_unlocks(app, setup, tmp_path) -> None:
    from portal.storage import LocalStorage

    dossier, invoice, _, controller, admin = setup
    decision = decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    of_user = _of_user(dossier)
    storage = LocalStorage(tmp_path)
    upload = _upload(make_pdf("v2"))
    fields = {
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "invoice_number": "F-NEW",
        "invoice_date": invoice.period_end.isoformat(),
        "amount_excl_tax": "1000",
        "amount_incl_tax": "1000",
        "hours_billed": "70",
    }
    with pytest.raises(Refused) as refused:
        pieces_service.replace_piece(of_user, invoice, fields, upload, storage=storage)
    assert "la décision du" in refused.value.general
    db.session.rollback()
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # nothing stored

    decisions.reopen(admin, db.session.get(InvoiceDecision, decision.id), "Facture rectifiée")
    db.session.commit()
    new = pieces_service.replace_piece(
        of_user, db.session.get(Piece, invoice.id), fields, _upload(make_pdf("v3")), storage=storage
    )
    db.session.commit()
    assert new.replaces_id == invoice.id


def _upload(content: bytes):
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(content), filename="v.pdf", content_type="application/pdf")


def test_a_new_piece_for_a_decided_period_is_still_accepted(setup) -> None:
    dossier, invoice, _, controller, _ = setup
    decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    sheet = make_piece(dossier, "feuille_emargement", half_days_planned=20, half_days_signed=20)
    assert locks.locking_decisions([sheet.id]) == {}


# --- Reopening ------------------------------------------------------------------------------


def _decided(setup):
    dossier, invoice, _, controller, _ = setup
    decision = decisions.decide(
        controller, dossier, invoice.id, decisions.DecisionInput("conforme"), expected_version=None
    )
    db.session.commit()
    return decision


def reopen_path(decision) -> str:
    return f"/service-fait/decisions/{decision.id}/reouvrir"


def test_a_controller_cannot_reopen_a_decision(auth, setup) -> None:
    decision = _decided(setup)
    auth.log_in(setup[3])
    response = auth.post(reopen_path(decision), {f"reouvrir-{decision.id}-reason": "Erreur"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(InvoiceDecision, decision.id).reopened_at is None
    page = text(auth.client.get(f"/service-fait/dossiers/{decision.dossier_id}"))
    assert "Rouvrir cette décision" not in page


def test_a_funder_admin_reopens_a_decision_with_a_reason(auth, setup) -> None:
    dossier, invoice, _, _, admin = setup
    decision = _decided(setup)
    auth.log_in(admin)
    page = text(auth.client.get(f"/service-fait/dossiers/{dossier.id}"))
    assert "Rouvrir cette décision" in page
    path = f"/service-fait/dossiers/{dossier.id}"

    empty = auth.post(
        reopen_path(decision), {f"reouvrir-{decision.id}-reason": " "}, token_from=path
    )
    assert empty.status_code == 200
    assert decisions.REOPEN_REASON_REQUIRED in text(empty)
    db.session.expire_all()
    assert db.session.get(InvoiceDecision, decision.id).reopened_at is None

    response = auth.post(
        reopen_path(decision),
        {f"reouvrir-{decision.id}-reason": "L'organisme a envoyé une facture rectifiée."},
        token_from=path,
    )

    assert response.status_code == 303
    db.session.expire_all()
    reopened = db.session.get(InvoiceDecision, decision.id)
    assert reopened.reopened_at is not None and reopened.reopened_by_id == admin.id
    assert reopened.reopen_reason == "L'organisme a envoyé une facture rectifiée."
    assert active(invoice) == []
    control = db.session.scalars(select(ServiceFaitControl)).one()
    assert control.status == ControlStatus.TO_CONTROL and control.validated_total == 0
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("service_fait.decision%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["service_fait.decision_taken", "service_fait.decision_reopened"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.decision_reopened")
    ).one()
    assert event.actor_id == admin.id and event.details["reason"].startswith("L'organisme")
    page = text(auth.client.get(path))
    assert "Décisions rouvertes (1)" in page
    assert f'name="facture-{invoice.id}-outcome"' in page  # a new decision can be taken
    # The reopened decision is kept; a new one can be taken.
    assert len(db.session.scalars(select(InvoiceDecision)).all()) == 1


def test_another_funders_admin_cannot_reopen(auth, setup) -> None:
    decision = _decided(setup)
    stranger = UserFactory(role=Role.FUNDER_ADMIN.value, funder=FunderFactory())
    auth.log_in(stranger)
    response = auth.post(reopen_path(decision), {f"reouvrir-{decision.id}-reason": "x"})
    assert response.status_code == 404


def test_the_reopen_service_refuses_a_controller_and_a_second_reopening(setup) -> None:
    decision = _decided(setup)
    with pytest.raises(NotAllowed):
        decisions.reopen(setup[3], decision, "raison")
    decisions.reopen(setup[4], decision, "raison")
    db.session.commit()
    with pytest.raises(Stale):
        decisions.reopen(setup[4], decision, "encore")
