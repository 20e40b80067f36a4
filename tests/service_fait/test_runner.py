"""The runner of the automatic checks: findings stored with the dossier and replaced at each
run, re-runs when a piece, a dossier or the public list changes, a bounded number of
queries per batch, and the `flask service-fait checks` command."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, select
from werkzeug.datastructures import FileStorage

from portal.dossiers import pieces as pieces_service
from portal.dossiers import services as dossier_services
from portal.extensions import db
from portal.models import (
    AttendanceSheet,
    CheckFinding,
    ControlStatus,
    Dossier,
    InvoiceDecision,
    Piece,
    Role,
    ServiceFaitControl,
)
from portal.public_list.importer import import_list
from portal.service_fait import runner as service
from portal.service_fait.controls import refresh_state
from portal.storage import LocalStorage
from tests.dossiers.piece_helpers import fields_for, make_dossier, make_pdf
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.public_list.lists import CARAIBES, GARONNE, write_list
from tests.service_fait.control_helpers import make_certificate, make_invoice, make_piece

TODAY = date.today()


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def garonne():
    return ProviderFactory(nda=GARONNE.nda, name=GARONNE.name, siret=GARONNE.siret)


def first_list(tmp_path: Path, orgs=(GARONNE, CARAIBES), days_ago: int = 400) -> None:
    """A public list old enough for every dossier's dates to be checkable."""
    import_list(
        str(write_list(tmp_path / "first.csv", list(orgs))), as_of=TODAY - timedelta(days_ago)
    )


def findings(dossier: Dossier) -> list[CheckFinding]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(CheckFinding)
            .where(CheckFinding.dossier_id == dossier.id)
            .order_by(CheckFinding.severity_rank, CheckFinding.code, CheckFinding.id)
        )
    )


def codes(dossier: Dossier) -> list[str]:
    return [f.code for f in findings(dossier)]


def control(dossier: Dossier) -> ServiceFaitControl:
    db.session.expire_all()
    return db.session.scalars(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == dossier.id)
    ).one()


def upload(content: bytes, name: str = "piece.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=name)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def send(user, dossier, kind, storage, content: bytes, **changes):
    """An OF user's upload through the pieces service, committed as the view does."""
    added = pieces_service.add_pieces(
        user,
        dossier,
        kind,
        fields_for(kind, dossier, **changes),
        [upload(content)],
        storage=storage,
    )
    pieces_service.commit_pieces(added, storage=storage)
    return added[0]


# --- Stored, replaced -----------------------------------------------------------------------------


def test_findings_are_stored_with_the_dossier_and_replaced_at_each_run(app, tmp_path, storage):
    first_list(tmp_path)
    provider = garonne()
    dossier = make_dossier(provider=provider)
    user = UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None)

    summary = service.run_checks([dossier.id])
    assert (summary.dossiers, summary.findings) == (1, 0)
    first_run = control(dossier)
    assert first_run.checks_run_at is not None
    assert (first_run.blocking_count, first_run.warning_count, first_run.info_count) == (0, 0, 0)
    assert first_run.status == ControlStatus.TO_CONTROL

    # An invoice of 70 h (the upload re-runs the checks): no certificat yet.
    send(user, dossier, "facture", storage, make_pdf("Facture 1"))
    assert codes(dossier) == ["INVOICE_WITHOUT_CERTIFICATE"]
    # The certificat says 69 h 30: the invoice bills 30 minutes too many.
    certificate = send(user, dossier, "certificat_realisation", storage, make_pdf("Certificat 1"))
    (finding,) = findings(dossier)
    assert (finding.code, finding.severity) == ("HOURS_BILLED_OVER_COMPLETED", "bloquant")
    assert "70 h facturées" in plain(finding.explanation)
    assert "69 h 30 au certificat de réalisation du" in plain(finding.explanation)
    state = control(dossier)
    assert (state.blocking_count, state.warning_count, state.info_count) == (1, 0, 0)
    assert state.invoiced_total == Decimal("1500.60")
    assert state.checks_run_at >= first_run.checks_run_at

    # A run replaces the rows: the same findings, not twice as many.
    service.run_checks([dossier.id])
    assert [(f.code, f.explanation) for f in findings(dossier)] == [
        (finding.code, finding.explanation)
    ]

    # Replacing the certificat by one of 70 h clears the finding.
    pieces_service.replace_piece(
        user,
        db.session.get(type(certificate), certificate.id),
        fields_for("certificat_realisation", dossier, hours_completed="70"),
        upload(make_pdf("Certificat 1 corrigé")),
        storage=storage,
    )
    db.session.commit()
    assert codes(dossier) == []
    assert control(dossier).blocking_count == 0


def test_a_file_sent_to_dossier_b_makes_a_finding_appear_on_dossier_a(app, tmp_path, storage):
    first_list(tmp_path)
    funder = FunderFactory()
    provider = garonne()
    a = make_dossier(funder, provider, reference="TP-A")
    b = make_dossier(funder, provider, reference="TP-B")
    elsewhere = make_dossier(FunderFactory(), provider, reference="AUTRE-FINANCEUR")
    user = UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None)
    sheet = make_pdf("Feuille d'émargement collective")

    send(user, a, "feuille_emargement", storage, sheet)
    assert "DUPLICATE_FILE" not in codes(a)

    # The same file for another funder's dossier: each funder sees only its own dossiers.
    send(user, elsewhere, "feuille_emargement", storage, sheet)
    assert "DUPLICATE_FILE" not in codes(a) and "DUPLICATE_FILE" not in codes(elsewhere)

    send(user, b, "feuille_emargement", storage, sheet)
    (on_a,) = [f for f in findings(a) if f.code == "DUPLICATE_FILE"]
    assert on_a.severity == "alerte"
    assert "du dossier TP-B" in on_a.explanation and "AUTRE-FINANCEUR" not in on_a.explanation
    assert [f.code for f in findings(b) if f.code == "DUPLICATE_FILE"] == ["DUPLICATE_FILE"]

    # B's sheet replaced by another file: A's finding goes.
    (b_sheet,) = db.session.scalars(
        select(AttendanceSheet).where(AttendanceSheet.dossier_id == b.id)
    ).all()
    pieces_service.replace_piece(
        user,
        b_sheet,
        fields_for("feuille_emargement", b),
        upload(make_pdf("Feuille B")),
        storage=storage,
    )
    db.session.commit()
    assert "DUPLICATE_FILE" not in codes(a) and "DUPLICATE_FILE" not in codes(b)


def test_an_invoice_number_used_twice_by_one_of_is_flagged_on_both_dossiers(app, tmp_path, storage):
    first_list(tmp_path)
    funder = FunderFactory()
    provider = garonne()
    a = make_dossier(funder, provider, reference="TP-A")
    b = make_dossier(funder, provider, reference="TP-B")
    user = UserFactory(role=Role.PROVIDER.value, provider=provider, funder=None)

    send(user, a, "facture", storage, make_pdf("A"), invoice_number="F-2026-007")
    send(user, b, "facture", storage, make_pdf("B"), invoice_number="f-2026-007")
    for dossier, other in ((a, "TP-B"), (b, "TP-A")):
        (finding,) = [f for f in findings(dossier) if f.code == "DUPLICATE_INVOICE_NUMBER"]
        assert finding.severity == "bloquant"
        assert f"du dossier {other}" in finding.explanation


@pytest.mark.parametrize("whole_base", [False, True])
def test_duplicates_are_found_by_a_big_run_as_by_a_small_one(
    app, tmp_path, monkeypatch, whole_base
):
    first_list(tmp_path)
    if whole_base:
        monkeypatch.setattr(service, "WHOLE_BASE_FROM", 1)
    funder, provider = FunderFactory(), garonne()
    a, b, c = (make_dossier(funder, provider, reference=f"TP-{n}") for n in "ABC")
    other_funder = make_dossier(FunderFactory(), provider, reference="AUTRE")
    make_invoice(a, invoice_number="F-12")
    make_invoice(b, invoice_number="f-12 ")
    make_invoice(c, invoice_number="F-13")
    make_invoice(other_funder, invoice_number="F-12")
    shared = make_piece(a, "feuille_emargement")
    same_file = make_piece(c, "feuille_emargement")
    same_file.document.sha256 = shared.document.sha256
    db.session.commit()

    service.run_checks([a.id, b.id, c.id, other_funder.id])

    def duplicates(dossier):
        return sorted(f.code for f in findings(dossier) if f.code.startswith("DUPLICATE"))

    assert duplicates(a) == ["DUPLICATE_FILE", "DUPLICATE_INVOICE_NUMBER"]
    assert duplicates(b) == ["DUPLICATE_INVOICE_NUMBER"]
    assert duplicates(c) == ["DUPLICATE_FILE"]
    assert duplicates(other_funder) == []


# --- The public list ----------------------------------------------------------------------------


def test_a_new_list_where_the_of_lost_its_category_makes_qualiopi_findings_appear(
    app, tmp_path, outbox
):
    from portal.blueprints.public_list.cli import after_import

    garonne_of = garonne()
    caraibes_of = ProviderFactory(nda=CARAIBES.nda, name=CARAIBES.name, siret=CARAIBES.siret)
    funder = FunderFactory()
    # Starts next week: the list in force then is the latest one.
    dossier = make_dossier(
        funder,
        garonne_of,
        start_date=TODAY + timedelta(days=7),
        end_date=TODAY + timedelta(days=90),
    )
    other = make_dossier(funder, caraibes_of)

    # Before any list: nothing can be checked, and the checks say so.
    service.run_checks([dossier.id, other.id])
    assert codes(dossier) == ["QUALIOPI_UNKNOWN"]

    # The first list ever: every dossier is re-run.
    import_list(
        str(write_list(tmp_path / "1.csv", [GARONNE, CARAIBES])),
        as_of=TODAY - timedelta(days=200),
        on_imported=after_import,
    )
    assert codes(dossier) == [] and codes(other) == []
    other_run = control(other).checks_run_at

    # GARONNE loses "actions de formation": its dossier gets the finding; CARAIBES's dossier
    # (no change in the list) is not re-run.
    import_list(
        str(write_list(tmp_path / "2.csv", [GARONNE.but(formation=False, vae=True), CARAIBES])),
        as_of=TODAY,
        on_imported=after_import,
    )
    (finding,) = findings(dossier)
    assert (finding.code, finding.severity) == ("QUALIOPI_START", "bloquant")
    explanation = plain(finding.explanation)
    assert f"NDA {GARONNE.nda}" in explanation and "« Action de formation »" in explanation
    assert "Validation des acquis" in explanation
    assert control(dossier).blocking_count == 1
    assert control(other).checks_run_at == other_run


# --- Dossiers -----------------------------------------------------------------------------------


def test_creating_and_editing_a_dossier_runs_its_checks(app, tmp_path):
    first_list(tmp_path)
    garonne()
    controller = UserFactory(role=Role.FUNDER_ADMIN.value)
    data = {
        "reference": "TP-2026-001",
        "provider": GARONNE.nda,
        "beneficiary_last_name": "Martin",
        "beneficiary_first_name": "Claire",
        "action_title": "Bilan",
        "category": "bilans_competences",  # GARONNE is certified for training actions only
        "scheme": "cpf",
        "modality": "presentiel",
        "start_date": (TODAY - timedelta(days=30)).isoformat(),
        "end_date": (TODAY + timedelta(days=30)).isoformat(),
        "planned_hours": "24",
        "agreed_amount": "1 800",
        "payment_rhythm": "fin_de_formation",
    }
    dossier = dossier_services.create_dossier(controller, data)
    db.session.commit()
    assert codes(dossier) == ["QUALIOPI_START"]
    assert control(dossier).funder_id == controller.funder_id
    stored = _stored_state()
    service.run_checks([dossier.id])
    assert _stored_state() == stored

    dossier = db.session.get(Dossier, dossier.id)
    dossier_services.update_dossier(
        controller, dossier, {**data, "category": "actions_formation"}, dossier.version
    )
    db.session.commit()
    assert codes(dossier) == []


def test_imported_dossiers_get_their_controls_and_findings(app, tmp_path):
    first_list(tmp_path)
    garonne()
    controller = UserFactory(role=Role.FUNDER_ADMIN.value)
    header = (
        "reference;organisme;beneficiaire_nom;beneficiaire_prenom;intitule;categorie;"
        "dispositif;modalite;date_debut;date_fin;heures_prevues;montant_accorde;rythme_paiement"
    )
    start = (TODAY - timedelta(days=10)).strftime("%d/%m/%Y")
    end = (TODAY + timedelta(days=50)).strftime("%d/%m/%Y")
    lines = [
        f"IMP-{n};{GARONNE.nda};Nom{n};Prénom;Action;{category};cpf;presentiel;{start};{end};"
        "35;2000;fin_de_formation"
        for n, category in enumerate(["actions_formation", "vae", "actions_formation"])
    ]
    rows, _ = dossier_services.read_import("\n".join([header, *lines]).encode())
    report = dossier_services.import_dossiers(controller, rows)
    assert report.ok, report.errors
    db.session.commit()
    by_reference = {d.reference: codes(d) for d in db.session.scalars(select(Dossier)).all()}
    assert by_reference == {"IMP-0": [], "IMP-1": ["QUALIOPI_START"], "IMP-2": []}
    # What a new dossier's light run stored is what a full run finds (nothing changes).
    stored = _stored_state()
    service.run_checks([d.id for d in db.session.scalars(select(Dossier))])
    assert _stored_state() == stored


def _stored_state() -> tuple[list[tuple], list[tuple]]:
    db.session.expire_all()
    found = db.session.execute(
        select(
            CheckFinding.dossier_id,
            CheckFinding.code,
            CheckFinding.severity,
            CheckFinding.explanation,
            CheckFinding.period_start,
            CheckFinding.period_end,
        ).order_by(CheckFinding.id)
    ).all()
    controls = db.session.execute(
        select(
            ServiceFaitControl.dossier_id,
            ServiceFaitControl.status,
            ServiceFaitControl.blocking_count,
            ServiceFaitControl.warning_count,
            ServiceFaitControl.info_count,
            ServiceFaitControl.invoiced_total,
            ServiceFaitControl.validated_total,
            ServiceFaitControl.decided_at,
        ).order_by(ServiceFaitControl.dossier_id)
    ).all()
    return [tuple(f) for f in found], [tuple(c) for c in controls]


# --- The control's state --------------------------------------------------------------------------


def test_the_state_written_by_a_run_is_the_one_refresh_state_derives(app, tmp_path):
    first_list(tmp_path)
    funder = FunderFactory()
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    decided = make_dossier(funder, garonne())
    invoice = make_invoice(decided, amount="900.00", hours="70")
    make_certificate(decided)
    db.session.add(
        InvoiceDecision(
            dossier_id=decided.id,
            invoice_id=invoice.id,
            outcome="partiellement_conforme",
            amount_invoiced=Decimal("900.00"),
            amount_validated=Decimal("850.00"),
            reason_code="AUTRE",
            decided_by_id=controller.id,
        )
    )
    pending = make_dossier(funder, ProviderFactory())
    make_invoice(pending, amount="120.00")
    db.session.commit()

    service.run_checks([decided.id, pending.id])
    after_run = {
        d.id: (c.status, c.invoiced_total, c.validated_total, c.decided_at is not None)
        for d in (decided, pending)
        for c in [control(d)]
    }
    assert after_run[decided.id] == (
        ControlStatus.DECIDED.value,
        Decimal("900.00"),
        Decimal("850.00"),
        True,
    )
    assert after_run[pending.id][:3] == (ControlStatus.TO_CONTROL.value, Decimal("120.00"), 0)
    for dossier in (decided, pending):
        state = control(dossier)
        refresh_state(state)
        assert (
            state.status,
            state.invoiced_total,
            state.validated_total,
            state.decided_at is not None,
        ) == after_run[dossier.id]
    db.session.rollback()


# --- Queries per batch ----------------------------------------------------------------------------


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args) -> None:
        self.count += 1


def _statements(ids: list[int]) -> int:
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        service.run_checks(ids)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return counter.count


def _dossiers_with_pieces(count: int, funder, provider) -> list[int]:
    ids = []
    for _ in range(count):
        dossier = make_dossier(funder, provider)
        make_invoice(dossier, hours="70")
        make_certificate(dossier, hours="69.5")
        make_piece(dossier, "feuille_emargement", half_days_planned=20, half_days_signed=19)
        ids.append(dossier.id)
    return ids


@pytest.mark.parametrize("whole_base", [False, True])
def test_the_number_of_queries_per_batch_does_not_grow_with_the_dossiers(
    app, tmp_path, monkeypatch, whole_base
):
    first_list(tmp_path)
    if whole_base:
        monkeypatch.setattr(service, "WHOLE_BASE_FROM", 1)
    funder, provider = FunderFactory(), garonne()
    few = _dossiers_with_pieces(2, funder, provider)
    many = _dossiers_with_pieces(12, funder, provider)
    first_run = _statements(few)
    assert first_run <= 16  # a handful per batch (plus what a run reads once)
    assert first_run == _statements(many)
    assert _statements(few + many) == _statements(few)  # one batch either way
    assert set(codes(db.session.get(Dossier, many[-1]))) == {
        "HOURS_BILLED_OVER_COMPLETED",
        "HALF_DAYS_MISSING",
    }
    # Two batches: twice the statements of one, less what a run reads once.
    monkeypatch.setattr(service, "BATCH_SIZE", 7)
    one_batch = _statements(few + many[:5])
    two_batches = _statements(few + many)
    assert one_batch < two_batches < 2 * one_batch


# --- Command line ---------------------------------------------------------------------------------


def test_the_command_reruns_all_or_named_dossiers(app, runner, tmp_path):
    first_list(tmp_path)
    funder = FunderFactory()
    provider = garonne()
    a = make_dossier(funder, provider, reference="CLI-A")
    make_invoice(a)  # no certificat: one blocking finding
    make_dossier(funder, provider, reference="CLI-B")

    result = runner.invoke(args=["service-fait", "checks", "--all"])
    assert result.exit_code == 0, result.output
    assert plain(result.output).startswith("Contrôles automatiques relancés sur 2 dossiers en ")
    assert "1 anomalie bloquante, 0 alerte, 0 information ; 1 dossier avec" in plain(result.output)
    assert codes(a) == ["INVOICE_WITHOUT_CERTIFICATE"]

    result = runner.invoke(args=["service-fait", "checks", "--dossier", "CLI-B"])
    assert result.exit_code == 0, result.output
    assert "relancés sur 1 dossier en" in plain(result.output)

    result = runner.invoke(args=["service-fait", "checks", "--dossier", "NOPE"])
    assert result.exit_code == 1 and "Dossier introuvable : NOPE" in result.output
    result = runner.invoke(args=["service-fait", "checks"])
    assert result.exit_code == 2 and "--all" in result.output


# --- Subcontracting ---------------------------------------------------------------------------


def test_a_subcontracted_dossier_whose_subcontractor_is_not_compliant(app, tmp_path):
    from tests.subcontracting.helpers import SUB, make_contract

    first_list(tmp_path, orgs=(GARONNE, SUB))
    provider = garonne()
    without_contract = make_contract(
        provider, is_cpf=False, contract_document=None, start_date=TODAY - timedelta(days=200)
    )
    compliant = make_contract(provider, is_cpf=False, start_date=TODAY - timedelta(days=200))
    funder = FunderFactory()
    flagged = make_dossier(funder, provider, subcontracted=True, subcontract_id=without_contract.id)
    fine = make_dossier(funder, provider, subcontracted=True, subcontract_id=compliant.id)

    cpf_without_contract = make_contract(
        provider, is_cpf=True, contract_document=None, start_date=TODAY - timedelta(days=200)
    )
    blocked = make_dossier(
        funder, provider, subcontracted=True, subcontract_id=cpf_without_contract.id
    )

    service.run_checks([flagged.id, fine.id, blocked.id])
    # Outside the CPF (issue 14): a point of attention, never a bar to payment (it used to
    # be blocking).
    (finding,) = findings(flagged)
    assert (finding.code, finding.severity) == ("SUBCONTRACTOR_ATTENTION", "alerte")
    assert "hors CPF" in finding.explanation and "indicateur 27" in finding.explanation
    assert "contrat" in finding.explanation.lower()
    assert codes(fine) == []
    # A CPF contract: the décret's rules bar the payment.
    (finding,) = findings(blocked)
    assert (finding.code, finding.severity) == ("SUBCONTRACTOR_NOT_COMPLIANT", "bloquant")
    assert "n'est pas conforme" in finding.explanation
    assert "contrat" in finding.explanation.lower()


# --- Hours in minutes, cumulatively (issue 14's "done when") ------------------------------------


def test_three_certificats_of_7h20_prove_an_invoice_of_22h(app, tmp_path) -> None:
    first_list(tmp_path, orgs=(GARONNE,))
    dossier = make_dossier(FunderFactory(), garonne(), planned_minutes=22 * 60)
    start = dossier.start_date
    thirds = [(start, start + timedelta(9)), (start + timedelta(10), start + timedelta(19))]
    thirds.append((start + timedelta(20), start + timedelta(27)))
    make_invoice(dossier, start, thirds[-1][1], amount="100", hours="22")
    for first, last in thirds:
        make_certificate(dossier, hours="7h20", start=first, end=last)
    service.run_checks([dossier.id])
    assert "HOURS_BILLED_OVER_COMPLETED" not in codes(dossier)
    db.session.expire_all()
    assert sum(p.minutes_completed or 0 for p in db.session.scalars(select(Piece))) == 1320


def test_two_invoices_billing_the_same_hours_twice_are_blocking(app, tmp_path) -> None:
    first_list(tmp_path, orgs=(GARONNE,))
    dossier = make_dossier(FunderFactory(), garonne())
    start = dossier.start_date
    end = start + timedelta(days=27)
    make_invoice(dossier, start, end, amount="100", hours="14", invoice_number="F-1")
    make_invoice(dossier, start, end, amount="100", hours="14", invoice_number="F-2")
    make_certificate(dossier, hours="14", start=start, end=end)
    service.run_checks([dossier.id])
    (finding,) = [f for f in findings(dossier) if f.code == "HOURS_BILLED_OVER_COMPLETED"]
    assert finding.severity == "bloquant"
    explanation = plain(finding.explanation)
    assert "28 h facturées (2 factures" in explanation
    assert "14 h facturées sans être réalisées" in explanation
    assert "les mêmes heures sont facturées deux fois" in explanation
