"""Retention: `flask retention purge [--dry-run]` removes, once the funder's retention
period is over (years after the end of the year of the last payment), the beneficiary's
names and the files of closed dossiers; keeps amounts, decisions, findings and the audit
trail, whose events then name the dossier and not the person, and whose chain still
verifies; what it did is audited; the dry run lists what would go and changes nothing."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import select, update

from portal import audit, retention
from portal.extensions import db
from portal.models import AuditEvent, Document, Dossier, InvoiceDecision
from portal.service_fait import decisions
from portal.storage import new_key, storage_for
from tests.service_fait.control_helpers import dossier_of, funder_with_staff, make_invoice

TODAY = "2027-01-15"


@pytest.mark.parametrize(
    ("paid", "years", "kept_until"),
    [
        (date(2023, 3, 14), 3, date(2026, 12, 31)),
        (date(2023, 12, 31), 3, date(2026, 12, 31)),
        (date(2024, 1, 1), 3, date(2027, 12, 31)),
        (date(2020, 6, 1), 10, date(2030, 12, 31)),
    ],
)
def test_the_period_runs_from_the_end_of_the_year_of_the_last_payment(paid, years, kept_until):
    assert retention.retention_end(paid, years) == kept_until


def _stored(piece) -> Document:
    document = db.session.get(Document, piece.document_id)
    document.storage_key = new_key()
    db.session.commit()
    storage_for(current_app).save(document.storage_key, io.BytesIO(b"%PDF-1.4 facture"))
    return document


def _closed_paid_dossier(funder, controller, *, paid_on: datetime, reference: str, **values):
    dossier = dossier_of(
        funder,
        reference=reference,
        beneficiary_last_name="Lévêque",
        beneficiary_first_name="Amandine",
        start_date=date(2022, 9, 1),
        end_date=date(2023, 2, 28),
        **values,
    )
    audit.record(
        "dossier.created",
        actor=controller,
        target=dossier,
        funder_id=funder.id,
        details={
            "after": {
                "reference": reference,
                "beneficiary_last_name": "Lévêque",
                "beneficiary_first_name": "Amandine",
                "agreed_amount": "1000.00",
            }
        },
    )
    invoice = make_invoice(dossier, amount="1000.00")
    decisions.decide(
        controller,
        dossier,
        invoice.id,
        decisions.DecisionInput("conforme", None, None),
        expected_version=None,
    )
    db.session.flush()
    db.session.execute(
        update(InvoiceDecision)
        .where(InvoiceDecision.dossier_id == dossier.id)
        .values(decided_at=paid_on)
        .execution_options(synchronize_session=False)
    )
    dossier.status = "clos"
    db.session.commit()
    return dossier, invoice


@pytest.fixture
def world(app):
    funder, controller, _admin = funder_with_staff()
    expired, invoice = _closed_paid_dossier(
        funder, controller, paid_on=datetime(2023, 3, 14, 10, tzinfo=UTC), reference="OLD-1"
    )
    document = _stored(invoice)
    recent, _ = _closed_paid_dossier(
        funder, controller, paid_on=datetime(2024, 2, 1, 10, tzinfo=UTC), reference="RECENT-1"
    )
    still_open = dossier_of(
        funder, reference="OPEN-1", start_date=date(2020, 1, 6), end_date=date(2020, 3, 27)
    )
    return funder, expired, recent, still_open, document


def _events_naming(name: str) -> list[AuditEvent]:
    db.session.expire_all()
    return [
        e
        for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        if name in json.dumps(e.details, ensure_ascii=False)
    ]


def test_the_dry_run_lists_what_would_go_and_changes_nothing(runner, world) -> None:
    _funder, expired, _recent, _open, document = world
    before = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    result = runner.invoke(args=["retention", "purge", "--dry-run", "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert "OLD-1" in result.output
    assert "dernier paiement le 14/03/2023, conservé jusqu'au 31/12/2026" in result.output
    assert "(3 ans (durée à confirmer))" in result.output
    assert "1 fichier(s)" in result.output
    assert "RECENT-1" not in result.output and "OPEN-1" not in result.output
    assert "rien n'a été effacé" in result.output
    db.session.expire_all()
    assert db.session.get(Dossier, expired.id).beneficiary_last_name == "Lévêque"
    assert storage_for(current_app).exists(document.storage_key)
    last = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    assert last == before


def test_the_purge_removes_names_and_files_and_keeps_the_rest(runner, world) -> None:
    _funder, expired, recent, still_open, document = world
    result = runner.invoke(args=["retention", "purge", "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert "1 dossier(s) purgé(s) : 1 fichier(s) effacé(s)" in result.output
    db.session.expire_all()
    purged = db.session.get(Dossier, expired.id)
    assert purged.beneficiary_last_name == retention.REDACTED
    assert purged.beneficiary_first_name == retention.REDACTED
    assert purged.purged_at is not None
    assert (purged.reference, purged.agreed_amount) == ("OLD-1", expired.agreed_amount)
    decision = db.session.scalars(
        select(InvoiceDecision).where(InvoiceDecision.dossier_id == expired.id)
    ).one()
    assert decision.amount_validated == Decimal("1000.00")  # the decision stays
    assert not storage_for(current_app).exists(document.storage_key)
    gone = db.session.get(Document, document.id)
    assert gone.purged_at is not None and gone.sha256 == document.sha256
    # The others are untouched.
    assert db.session.get(Dossier, recent.id).beneficiary_last_name == "Lévêque"
    assert db.session.get(Dossier, still_open.id).purged_at is None


def test_the_audit_trail_names_the_dossier_not_the_person_and_still_verifies(runner, world) -> None:
    _funder, expired, recent, _open, _document = world
    assert len(_events_naming("Amandine")) == 2  # both dossiers' creation
    assert runner.invoke(args=["retention", "purge", "--today", TODAY]).exit_code == 0
    naming = _events_naming("Amandine")
    assert [e.object_id for e in naming] == [str(recent.id)]  # only the recent dossier's
    created = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "dossier.created", AuditEvent.object_id == str(expired.id)
        )
    ).one()
    assert created.details["after"]["reference"] == "OLD-1"
    assert created.details["after"]["beneficiary_last_name"] == retention.REDACTED
    assert audit.verify_chain().ok
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    purge = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention.purged")
    ).one()
    assert purge.actor_label == "cli retention purge"
    assert [d["reference"] for d in purge.details["dossiers"]] == ["OLD-1"]
    assert purge.details["dossiers"][0]["retention_confirmed"] is False
    assert purge.details["redacted_events"] == [created.id]
    assert purge.details["resealed_from"] == created.id
    assert "Amandine" not in json.dumps(purge.details)


def test_a_second_purge_finds_nothing_more(runner, world) -> None:
    assert runner.invoke(args=["retention", "purge", "--today", TODAY]).exit_code == 0
    again = runner.invoke(args=["retention", "purge", "--today", TODAY])
    assert "Aucun dossier" in again.output
    assert audit.verify_chain().ok


def test_a_rewritten_event_is_still_detected_after_a_purge(runner, world) -> None:
    assert runner.invoke(args=["retention", "purge", "--today", TODAY]).exit_code == 0
    table = AuditEvent.__table__
    target = db.session.scalar(select(table.c.id).order_by(table.c.id).limit(1))
    db.session.execute(update(table).where(table.c.id == target).values(actor_label="x"))
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and report.broken_event_id == target


def test_a_longer_period_set_for_the_funder_keeps_the_dossier(runner, world) -> None:
    funder, expired, *_ = world
    funder.retention_years = 10
    funder.retention_confirmed = True
    db.session.commit()
    result = runner.invoke(args=["retention", "purge", "--dry-run", "--today", TODAY])
    assert "Aucun dossier" in result.output
    db.session.expire_all()
    assert db.session.get(Dossier, expired.id).purged_at is None


def test_a_bad_date_is_told_in_french(runner, app) -> None:
    result = runner.invoke(args=["retention", "purge", "--today", "15/01/2027"])
    assert result.exit_code == 1 and "Date invalide" in result.output


def test_the_platform_admin_sets_and_confirms_a_funders_period(client, login_as) -> None:
    from portal.models import Funder, Role
    from tests.admin.test_funders import _form
    from tests.factories import FunderFactory

    login_as(Role.ADMIN)
    funder = FunderFactory(name="OPCO Test")
    url = f"/admin/financeurs/{funder.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Durée de conservation (années)" in page and "Durée à confirmer." in page
    data = {**_form(client, url), "name": "OPCO Test", "kind": "opco", "region_code": ""}
    refused = client.post(url, data={**data, "retention_years": "0"})
    assert "Entre 1 et 30 ans." in refused.get_data(as_text=True)
    done = client.post(url, data={**data, "retention_years": "5", "retention_confirmed": "y"})
    assert done.status_code == 303
    db.session.expire_all()
    saved = db.session.get(Funder, funder.id)
    assert (saved.retention_years, saved.retention_confirmed) == (5, True)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "funder.updated")
    ).one()
    assert event.details["after"]["retention_years"] == 5
