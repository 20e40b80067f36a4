"""The controller's queue: scope, counts per status, filters, sort, pages, HTMX, query
counts, bulk actions (assign, validate as conforming, export) and the exports."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    ControlStatus,
    InvoiceDecision,
    Role,
    ServiceFaitControl,
)
from portal.service_fait import decisions, queue
from portal.service_fait.controls import control_for
from tests.dossiers.piece_helpers import month_start
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.service_fait.control_helpers import dossier_of, make_finding, make_invoice


def text(response) -> str:
    """The visible text of a page, whitespace collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).split())


def references(response) -> list[str]:
    """The references listed in the queue, in their order."""
    return re.findall(
        r'href="/service-fait/dossiers/\d+">([^<]+)</a>', response.get_data(as_text=True)
    )


def set_status(dossier, status: ControlStatus, **values) -> ServiceFaitControl:
    control = control_for(dossier)
    control.status = status.value
    for name, value in values.items():
        setattr(control, name, value)
    db.session.commit()
    return control


@pytest.fixture
def funder(app):
    return FunderFactory()


@pytest.fixture
def controller(funder, login_as):
    return login_as(Role.CONTROLLER, funder=funder)


# --- Access and scope ---------------------------------------------------------------------


def test_an_of_user_is_refused(client, login_as) -> None:
    login_as(Role.PROVIDER)
    assert client.get("/service-fait/").status_code == 403
    assert client.get("/service-fait/export.csv").status_code == 403


def test_a_funder_admin_reaches_the_queue(client, login_as) -> None:
    login_as(Role.FUNDER_ADMIN)
    response = client.get("/service-fait/")
    assert response.status_code == 200
    assert "Contrôles de service fait" in text(response)


def test_the_queue_holds_only_the_funders_dossiers(client, funder, controller) -> None:
    mine = dossier_of(funder, reference="A-1", control=False)  # never checked: no control
    dossier_of(FunderFactory(), reference="AUTRE-1", control=False)
    response = client.get("/service-fait/")
    assert response.status_code == 200
    assert references(response) == ["A-1"]
    assert f"/service-fait/dossiers/{mine.id}" in response.get_data(as_text=True)
    # A dossier the checks never saw gets its control, "à contrôler"; only the funder's.
    (control,) = db.session.scalars(select(ServiceFaitControl)).all()
    assert control.dossier_id == mine.id and control.status == ControlStatus.TO_CONTROL
    assert control.funder_id == funder.id and control.assigned_to_id is None
    client.get("/service-fait/")
    assert len(db.session.scalars(select(ServiceFaitControl)).all()) == 1


def test_counts_per_status_and_the_status_tabs(client, funder, controller) -> None:
    dossier_of(funder, reference="A-1", control=False)
    set_status(dossier_of(funder, reference="A-2"), ControlStatus.TO_CONTROL)
    set_status(dossier_of(funder, reference="W-1"), ControlStatus.WAITING_PROVIDER)
    set_status(dossier_of(funder, reference="D-1"), ControlStatus.DECIDED)
    set_status(dossier_of(funder, reference="D-2"), ControlStatus.DECIDED)

    page = queue.list_queue(controller, queue.QueueFilters())
    assert page.created == 1  # A-1 had no control yet
    db.session.commit()
    assert page.counts == {"a_controler": 2, "attente_of": 1, "controle": 2, "tous": 5}
    assert page.total == 2

    response = client.get("/service-fait/")
    body = text(response)
    assert "À contrôler (2)" in body and "En attente de l'organisme (1)" in body
    assert "Contrôlé (2)" in body and "Tous (5)" in body
    assert sorted(references(response)) == ["A-1", "A-2"]
    assert sorted(references(client.get("/service-fait/?statut=controle"))) == ["D-1", "D-2"]
    assert sorted(references(client.get("/service-fait/?statut=attente_of"))) == ["W-1"]
    assert len(references(client.get("/service-fait/?statut=tous"))) == 5


# --- Filters --------------------------------------------------------------------------------


def test_filter_by_of_text_scheme_period_and_amounts(client, funder, controller) -> None:
    known = ProviderFactory(name="Institut Lumière")
    dossier_of(funder, known, reference="L-1", scheme="cpf", payment_rhythm="fin_de_formation")
    dossier_of(
        funder,
        reference="P-1",
        agreed_amount=Decimal("500"),
        start_date=date(2024, 1, 1),
        end_date=date(2024, 3, 31),
    )
    dossier_of(funder, reference="P-2", agreed_amount=Decimal("20000"))

    def listed(query: str) -> list[str]:
        return sorted(references(client.get(f"/service-fait/?{query}")))

    assert listed("organisme=lumi") == ["L-1"]
    assert listed(f"organisme={known.nda}") == ["L-1"]
    assert listed(f"organisme={known.siret}") == ["L-1"]
    assert listed("dispositif=cpf") == ["L-1"]
    assert listed("dispositif=ptp") == ["P-1", "P-2"]
    assert listed("du=2024-02-01&au=2024-02-28") == ["P-1"]
    assert listed("montant_min=1000") == ["L-1", "P-2"]
    assert listed("montant_max=1+000,00") == ["P-1"]
    assert listed("montant_min=600&montant_max=15000") == ["L-1"]
    # A mistyped amount is shown as an error and ignored.
    response = client.get("/service-fait/?montant_min=beaucoup")
    assert "n'est pas un nombre" in text(response)
    assert len(references(response)) == 3


def test_filter_by_anomaly_code_and_severity(client, funder, controller) -> None:
    over = dossier_of(funder, reference="OVER")
    make_finding(over, "AMOUNT_OVER_AGREED", "bloquant")
    hours = dossier_of(funder, reference="HOURS")
    make_finding(hours, "HOURS_ATTENDED_MISMATCH", "alerte")
    make_finding(hours, "QUALIOPI_UNKNOWN", "information")
    dossier_of(funder, reference="CLEAN")
    other = dossier_of(FunderFactory(), reference="FOREIGN")
    make_finding(other, "AMOUNT_OVER_AGREED", "bloquant")

    def listed(query: str) -> list[str]:
        return sorted(references(client.get(f"/service-fait/?{query}")))

    assert listed("anomalie=AMOUNT_OVER_AGREED") == ["OVER"]
    assert listed("gravite=bloquant") == ["OVER"]
    assert listed("gravite=alerte") == ["HOURS"]
    assert listed("gravite=information") == ["HOURS"]
    assert listed("anomalie=HOURS_ATTENDED_MISMATCH&gravite=bloquant") == []
    assert listed("anomalie=HOURS_ATTENDED_MISMATCH&gravite=alerte") == ["HOURS"]
    response = client.get("/service-fait/?statut=tous")
    body = text(response)
    assert "1 bloquante" in body and "1 alerte" in body and "1 info." in body
    # The anomaly filter offers the checks' codes.
    assert 'value="AMOUNT_OVER_AGREED"' in response.get_data(as_text=True)


def test_filter_by_assignee(client, funder, controller) -> None:
    colleague = UserFactory(role=Role.CONTROLLER.value, funder=funder, full_name="Zoé Collègue")
    set_status(
        dossier_of(funder, reference="MINE"), ControlStatus.TO_CONTROL, assigned_to_id=controller.id
    )
    set_status(
        dossier_of(funder, reference="HERS"), ControlStatus.TO_CONTROL, assigned_to_id=colleague.id
    )
    dossier_of(funder, reference="NOBODY")

    def listed(query: str) -> list[str]:
        return sorted(references(client.get(f"/service-fait/?{query}")))

    assert listed("assigne=moi") == ["MINE"]
    assert listed("assigne=personne") == ["NOBODY"]
    assert listed("assigne=quelqu_un") == ["HERS", "MINE"]
    assert listed(f"assigne={colleague.id}") == ["HERS"]
    assert "Zoé Collègue" in text(client.get("/service-fait/"))


# --- Sort, pages, HTMX, queries ---------------------------------------------------------------


def test_sort_by_headers(client, funder, controller) -> None:
    for reference, amount in (("B", "300"), ("A", "200"), ("C", "100")):
        dossier_of(funder, reference=reference, agreed_amount=Decimal(amount))
    set_status(
        dossier_of(funder, reference="D", agreed_amount=Decimal("50")),
        ControlStatus.TO_CONTROL,
        blocking_count=3,
    )
    assert references(client.get("/service-fait/?tri=reference")) == ["A", "B", "C", "D"]
    assert references(client.get("/service-fait/?tri=-reference")) == ["D", "C", "B", "A"]
    assert references(client.get("/service-fait/?tri=montant")) == ["D", "C", "A", "B"]
    assert references(client.get("/service-fait/?tri=-anomalies"))[0] == "D"
    page = client.get("/service-fait/?tri=reference").get_data(as_text=True)
    assert 'aria-sort="ascending"' in page
    assert 'href="/service-fait/?tri=-reference"' in page  # the header reverses the order


@pytest.mark.parametrize("walk", [True, False], ids=["walk-dossiers", "sort-controls"])
def test_every_sort_with_every_kind_of_filter_gives_the_right_rows(
    app, funder, monkeypatch, walk: bool
) -> None:
    """The queue reads the dossiers or the controls first depending on the sort and on how
    many match, with planner hints on SQLite: the rows must be the same whatever the
    path."""
    monkeypatch.setattr(queue, "SORT_AT_MOST", -1 if walk else 1_000_000)
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    north = ProviderFactory(name="Nord Formation")
    south = ProviderFactory(name="Sud Compétences")
    specs = [
        # reference, provider, scheme, amount, status, assigned, blocking code, invoiced
        ("Q-01", north, "ptp", "900", ControlStatus.TO_CONTROL, True, None, "100"),
        ("Q-02", north, "cpf", "1500", ControlStatus.TO_CONTROL, False, "AMOUNT_OVER_AGREED", "0"),
        ("Q-03", south, "ptp", "2500", ControlStatus.WAITING_PROVIDER, True, None, "300"),
        ("Q-04", south, "cpf", "700", ControlStatus.TO_CONTROL, False, None, "50"),
        ("Q-05", north, "cpf", "5000", ControlStatus.DECIDED, True, "HALF_DAYS_MISSING", "500"),
        ("Q-06", south, "ptp", "1200", ControlStatus.TO_CONTROL, True, "AMOUNT_OVER_AGREED", "20"),
        ("Q-07", north, "plan", "300", ControlStatus.TO_CONTROL, False, None, "0"),
    ]
    rows = {}
    for reference, provider, scheme, amount, status, assigned, code, invoiced in specs:
        dossier = dossier_of(
            funder,
            provider,
            reference=reference,
            scheme=scheme,
            payment_rhythm="mensuel" if scheme == "ptp" else "fin_de_formation",
            agreed_amount=Decimal(amount),
        )
        set_status(
            dossier,
            status,
            assigned_to_id=controller.id if assigned else None,
            invoiced_total=Decimal(invoiced),
        )
        if code:
            make_finding(dossier, code, "bloquant")
        rows[reference] = (provider, scheme, Decimal(amount), status, assigned, code)
    dossier_of(FunderFactory(), north, reference="Q-OTHER")  # another funder's: never listed
    cases = {
        "all": (queue.QueueFilters(status="tous"), lambda r: True),
        "to control": (queue.QueueFilters(), lambda r: r[3] == ControlStatus.TO_CONTROL),
        "OF by NDA": (queue.QueueFilters(status="tous", of=north.nda), lambda r: r[0] is north),
        "OF by name": (queue.QueueFilters(status="tous", of="sud comp"), lambda r: r[0] is south),
        "scheme and amount": (
            queue.QueueFilters(status="tous", scheme="cpf", amount_min=Decimal("1000")),
            lambda r: r[1] == "cpf" and r[2] >= 1000,
        ),
        "me and blocking": (
            queue.QueueFilters(status="tous", assignee="moi", severity="bloquant"),
            lambda r: r[4] and r[5] is not None,
        ),
        "code, nobody, to control": (
            queue.QueueFilters(code="AMOUNT_OVER_AGREED", assignee="personne"),
            lambda r: r[5] == "AMOUNT_OVER_AGREED" and not r[4] and r[3] == "a_controler",
        ),
        "OF by NDA, ptp, to control": (
            queue.QueueFilters(of=south.nda, scheme="ptp"),
            lambda r: r[0] is south and r[1] == "ptp" and r[3] == "a_controler",
        ),
    }
    for name, (filters, wanted) in cases.items():
        expected = sorted(ref for ref, row in rows.items() if wanted(row))
        for sort in queue.SORTS:
            for direction in ("", "-"):
                page = queue.list_queue(controller, filters, direction + sort)
                got = [row.dossier.reference for row in page.rows]
                assert sorted(got) == expected, (name, direction + sort)
                assert page.total == len(expected), (name, direction + sort)
        by_amount = queue.list_queue(controller, filters, "-montant")
        amounts = [row.dossier.agreed_amount for row in by_amount.rows]
        assert amounts == sorted(amounts, reverse=True), name
        by_invoiced = queue.list_queue(controller, filters, "facture")
        invoiced = [row.invoiced_total for row in by_invoiced.rows]
        assert invoiced == sorted(invoiced), name
        by_of = queue.list_queue(controller, filters, "organisme")
        names = [row.dossier.provider.name for row in by_of.rows]
        assert names == sorted(names), name


def test_pages_of_fifty(client, funder, controller) -> None:
    for n in range(52):
        dossier_of(funder, reference=f"R-{n:03d}")
    first = client.get("/service-fait/?tri=reference")
    assert len(references(first)) == 50
    assert "Page 1 sur 2" in text(first)
    second = client.get("/service-fait/?tri=reference&page=2")
    assert references(second) == ["R-050", "R-051"]
    assert "52 dossiers" in text(second)


def test_an_htmx_request_gets_the_results_fragment(client, funder, controller) -> None:
    dossier_of(funder, reference="A-1")
    response = client.get("/service-fait/?dispositif=ptp", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<section id="results"')
    assert "A-1" in body
    assert "HX-Request" in response.headers["Vary"]
    # Without JavaScript, the same filters are a plain GET form.
    page = client.get("/service-fait/").get_data(as_text=True)
    assert '<form method="get" action="/service-fait/" id="queue-filters"' in page
    assert 'hx-push-url="true"' in page


def test_no_query_per_row(client, funder, controller, count_queries) -> None:
    def fill(count: int) -> None:
        for _ in range(count):
            dossier = dossier_of(funder)
            make_finding(dossier, "AMOUNT_OVER_AGREED", "bloquant")
            set_status(dossier, ControlStatus.TO_CONTROL, assigned_to_id=controller.id)

    fill(3)
    client.get("/service-fait/")  # warm-up (session, caches)
    with count_queries() as few:
        assert len(references(client.get("/service-fait/"))) == 3
    fill(20)
    with count_queries() as many:
        assert len(references(client.get("/service-fait/"))) == 23
    assert many.count == few.count
    # The session's user, the staff, the controls' check, the counts, the page's ids, its
    # rows, their findings.
    assert few.count <= 7, few.statements


# --- Bulk actions ---------------------------------------------------------------------------


def bulk(auth, ids, action: str, **extra):
    return auth.post(
        "/service-fait/selection",
        {
            "dossier": [str(i) for i in ids],
            "action": action,
            "retour": "dispositif=ptp",
            "confirme": "oui",  # the confirmation step is tested in tests/test_confirmation.py
            **extra,
        },
        token_from="/service-fait/",
    )


def test_bulk_assign_to_a_controller_of_the_funder(auth, client, funder, controller) -> None:
    colleague = UserFactory(role=Role.CONTROLLER.value, funder=funder, full_name="Zoé Collègue")
    first, second = dossier_of(funder), dossier_of(funder)
    response = bulk(auth, [first.id, second.id], "assigner", assigne_a=str(colleague.id))
    assert response.status_code == 303
    assert response.headers["Location"] == "/service-fait/?dispositif=ptp"
    db.session.expire_all()
    controls = db.session.scalars(select(ServiceFaitControl)).all()
    assert {c.assigned_to_id for c in controls} == {colleague.id} and len(controls) == 2
    assert "2 dossiers assignés à Zoé Collègue." in text(client.get("/service-fait/"))
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.assigned")
    ).all()
    assert sorted(e.details["dossier_id"] for e in events) == sorted([first.id, second.id])
    # Unassign.
    bulk(auth, [first.id], "assigner", assigne_a="")
    db.session.expire_all()
    assert control_for(first).assigned_to_id is None


def test_bulk_assign_refuses_another_funders_controller(auth, client, funder, controller) -> None:
    stranger = UserFactory(role=Role.CONTROLLER.value, funder=FunderFactory())
    of_user = UserFactory(role=Role.PROVIDER.value)
    dossier = dossier_of(funder)
    for user in (stranger, of_user):
        response = bulk(auth, [dossier.id], "assigner", assigne_a=str(user.id))
        assert response.status_code == 303
        assert "Choisissez un contrôleur de votre financeur." in text(client.get("/service-fait/"))
    assert [c.assigned_to_id for c in db.session.scalars(select(ServiceFaitControl))] == [None]


def test_bulk_validate_skips_dossiers_with_a_blocking_anomaly(
    auth, client, funder, controller
) -> None:
    clean = dossier_of(funder, reference="CLEAN")
    first_invoice = make_invoice(clean, amount="800")
    second_invoice = make_invoice(clean, month_start(clean.start_date, 1), amount="900")
    warned = dossier_of(funder, reference="WARNED")
    warned_invoice = make_invoice(warned, amount="100")
    make_finding(warned, "HOURS_ATTENDED_MISMATCH", "alerte")
    blocked = dossier_of(funder, reference="BLOCKED")
    blocked_invoice = make_invoice(blocked)
    make_finding(blocked, "AMOUNT_OVER_AGREED", "bloquant")
    empty = dossier_of(funder, reference="EMPTY")
    foreign = dossier_of(FunderFactory(), reference="FOREIGN")
    foreign_invoice = make_invoice(foreign)
    # One invoice of CLEAN is already decided: it is left as it is.
    decisions.decide(
        controller,
        clean,
        first_invoice.id,
        decisions.DecisionInput("partiellement_conforme", "500", "heures_non_justifiees"),
        expected_version=None,
    )
    db.session.commit()

    response = bulk(auth, [clean.id, warned.id, blocked.id, empty.id, foreign.id], "valider")

    assert response.status_code == 303
    db.session.expire_all()
    by_invoice = {
        d.invoice_id: d
        for d in db.session.scalars(
            select(InvoiceDecision).where(InvoiceDecision.reopened_at.is_(None))
        )
    }
    assert by_invoice[first_invoice.id].outcome == "partiellement_conforme"
    assert by_invoice[first_invoice.id].amount_validated == Decimal("500.00")
    assert by_invoice[second_invoice.id].outcome == "conforme"
    assert by_invoice[second_invoice.id].amount_validated == Decimal("900.00")
    assert by_invoice[warned_invoice.id].outcome == "conforme"
    assert blocked_invoice.id not in by_invoice
    assert foreign_invoice.id not in by_invoice
    body = text(client.get("/service-fait/"))
    assert "2 dossiers validés conformes (2 factures) : CLEAN, WARNED." in body
    assert "Non validés, car ils ont une anomalie bloquante à examiner : BLOCKED." in body
    assert "Sans facture en attente de décision, donc rien à valider : EMPTY." in body
    assert control_for(clean).status == ControlStatus.DECIDED
    assert control_for(blocked).status == ControlStatus.TO_CONTROL
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.decision_taken")
    ).all()
    assert sum(1 for e in events if e.details.get("bulk")) == 2


def test_bulk_needs_a_selection_and_a_known_action(auth, client, funder, controller) -> None:
    response = bulk(auth, [], "valider")
    assert response.status_code == 303
    assert "Cochez au moins un dossier" in text(client.get("/service-fait/"))
    dossier = dossier_of(funder)
    assert bulk(auth, [dossier.id], "supprimer").status_code == 400


def test_bulk_requires_csrf(client, funder, controller) -> None:
    dossier = dossier_of(funder)
    response = client.post(
        "/service-fait/selection", data={"dossier": [dossier.id], "action": "valider"}
    )
    assert response.status_code == 400


# --- Exports --------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    content = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content), delimiter=";"))


def test_csv_export_has_stable_columns_and_follows_the_filters(client, funder, controller) -> None:
    provider = ProviderFactory(nda="01971234567", name="Organisme Sud")
    dossier = dossier_of(funder, provider, reference="EXP-1", agreed_amount=Decimal("1234.5"))
    make_invoice(dossier, amount="600")
    make_finding(dossier, "HOURS_ATTENDED_MISMATCH", "alerte")
    make_finding(dossier, "AMOUNT_OVER_AGREED", "bloquant")
    control = control_for(dossier)
    control.assigned_to_id = controller.id
    control.invoiced_total = Decimal("600")
    db.session.commit()
    dossier_of(funder, reference="OTHER", scheme="cpf", payment_rhythm="fin_de_formation")

    response = client.get("/service-fait/export.csv?dispositif=ptp")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    header, *rows = csv_rows(response)
    assert tuple(header) == queue.EXPORT_COLUMNS
    assert header[:4] == ["reference", "organisme_nda", "organisme_siret", "organisme_denomination"]
    assert header[-1] == "id_portail"
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["reference"] == "EXP-1"
    assert row["organisme_nda"] == "01971234567"
    assert row["montant_accorde"] == "1234,50"
    assert row["statut_controle"] == "a_controler"
    assert row["anomalies_bloquantes"] == "1" and row["alertes"] == "1"
    assert row["informations"] == "0"
    assert row["codes_anomalies"] == "AMOUNT_OVER_AGREED, HOURS_ATTENDED_MISMATCH"
    assert row["montant_facture"] == "600,00" and row["montant_valide"] == "0,00"
    assert row["assigne_a"] == controller.email
    assert row["id_portail"] == str(dossier.id)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.queue_exported")
    ).one()
    assert event.details["count"] == 1 and event.details["filters"] == {"dispositif": "ptp"}


def test_xlsx_export_and_the_export_of_a_selection(auth, client, funder, controller) -> None:
    first = dossier_of(funder, reference="X-1")
    dossier_of(funder, reference="X-2")
    foreign = dossier_of(FunderFactory(), reference="FOREIGN")

    response = client.get("/service-fait/export.xlsx")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == queue.EXPORT_COLUMNS
    assert sorted(row[0] for row in values[1:]) == ["X-1", "X-2"]

    selection = bulk(auth, [first.id, foreign.id], "exporter_csv")
    assert selection.status_code == 200
    header, *rows = csv_rows(selection)
    assert tuple(header) == queue.EXPORT_COLUMNS
    assert [row[0] for row in rows] == ["X-1"]
    xlsx = bulk(auth, [first.id], "exporter_xlsx")
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")


def test_controllers_do_not_see_the_admin_links_of_the_queue(client, login_as):
    login_as(Role.CONTROLLER)
    page = client.get("/service-fait/").get_data(as_text=True)
    assert "Statistiques" in page and "/service-fait/echantillonnage" not in page


def test_funder_admins_reach_sampling_and_templates_from_the_queue(client, login_as):
    login_as(Role.FUNDER_ADMIN)
    page = client.get("/service-fait/").get_data(as_text=True)
    assert 'href="/service-fait/echantillonnage"' in page
    assert 'href="/service-fait/modeles"' in page


def test_exports_stream_in_batches_each_row_with_its_own_findings(
    client, funder, controller, monkeypatch
) -> None:
    monkeypatch.setattr(queue, "EXPORT_BATCH", 2)  # five dossiers: three batches
    dossiers = [
        dossier_of(funder, reference=f"LOT-{n}", start_date=date(2025, 1, n + 1)) for n in range(5)
    ]
    for n, dossier in enumerate(dossiers):
        if n % 2 == 0:
            make_finding(dossier, "AMOUNT_OVER_AGREED", "bloquant")
        if n == 3:
            make_finding(dossier, "HOURS_ATTENDED_MISMATCH", "alerte")

    response = client.get("/service-fait/export.csv?statut=tous&tri=debut")
    assert response.is_streamed
    header, *rows = csv_rows(response)
    found = [dict(zip(header, row, strict=True)) for row in rows]
    assert [r["reference"] for r in found] == [f"LOT-{n}" for n in range(5)]
    assert [r["codes_anomalies"] for r in found] == [
        "AMOUNT_OVER_AGREED",
        "",
        "AMOUNT_OVER_AGREED",
        "HOURS_ATTENDED_MISMATCH",
        "AMOUNT_OVER_AGREED",
    ]
    assert [r["id_portail"] for r in found] == [str(d.id) for d in dossiers]

    response = client.get("/service-fait/export.xlsx?statut=tous&tri=-debut")
    assert response.is_streamed
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == queue.EXPORT_COLUMNS
    assert [row[0] for row in values[1:]] == [f"LOT-{n}" for n in reversed(range(5))]
    blocking = queue.EXPORT_COLUMNS.index("anomalies_bloquantes")
    assert [row[blocking] for row in values[1:]] == [1, 0, 1, 0, 1]
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_fait.queue_exported")
    ).all()
    assert [e.details["count"] for e in events] == [5, 5]
