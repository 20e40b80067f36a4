"""The control page made short: a summary at the top (figures with their flags, blocking
anomalies, what is awaited) with the actions and the in-page navigation; the future periods
of a long PTP folded away; no anomaly code shown; the flags computed by the checks' rule."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from portal import clock
from portal.service_fait.checks import exceeds
from tests.dossiers.piece_helpers import month_end, month_start
from tests.service_fait.control_helpers import (
    dossier_of,
    funder_with_staff,
    make_certificate,
    make_finding,
    make_invoice,
)
from tests.service_fait.test_control_page import page_path, text


@pytest.mark.parametrize(
    ("value", "bound", "over"),
    [
        (Decimal("14"), Decimal("13.5"), True),  # 14 h billed, 13 h 30 completed
        (Decimal("13.5"), Decimal("13.5"), False),
        (Decimal("0"), Decimal("1"), False),
        (None, Decimal("1"), False),  # nothing billed: nothing beyond
        (Decimal("1"), None, False),  # nothing to compare with
        (15001, 15000, True),
    ],
)
def test_a_figure_exceeds_its_bound_only_when_both_are_known(value, bound, over) -> None:
    assert exceeds(value, bound) is over


@pytest.fixture
def setup(app):
    funder, controller, _ = funder_with_staff()
    return dossier_of(funder), controller


def _summary(body: str) -> str:
    start = body.index('id="synthese"')
    return body[start : body.index('aria-labelledby="accord"', start)]


def test_the_summary_comes_first_with_figures_anomalies_and_what_is_awaited(
    client, auth, setup
) -> None:
    dossier, controller = setup
    make_invoice(dossier, amount="1500.00", hours="14", invoice_number="F-1")
    make_certificate(dossier, hours="13.5")
    make_finding(
        dossier,
        "HOURS_BILLED_OVER_COMPLETED",
        "bloquant",
        label="Heures facturées au-delà des heures réalisées",
    )
    make_finding(dossier, "QUALIOPI_UNKNOWN", "information", label="Qualiopi inconnu")
    auth.log_in(controller)
    body = client.get(page_path(dossier)).get_data(as_text=True)
    summary = _summary(body)
    # Before every section of the page.
    assert body.index('id="synthese"') < body.index('id="chiffres"') < body.index('id="decisions"')
    words = " ".join(re.sub(r"<[^>]+>", " ", summary).replace("\u202f", " ").split())
    assert "Anomalies bloquantes : 1" in words
    assert "Heures facturées au-delà des heures réalisées" in words
    assert "1 autre constat" in words
    assert "1 facture sans décision" in words
    assert "pièces attendues" in words
    # 14 h billed against 13 h 30 completed: flagged in the summary, by the checks' rule.
    assert re.search(r"<td class=\"mismatch\">14\s?h <span class=\"visually-hidden\">", summary)


def test_the_actions_are_in_the_summary_and_work_without_javascript(client, auth, setup) -> None:
    dossier, controller = setup
    make_invoice(dossier, invoice_number="F-1")
    make_invoice(
        dossier,
        month_start(dossier.start_date, 1),
        month_end(dossier.start_date, 1),
        invoice_number="F-2",
    )
    auth.log_in(controller)
    summary = _summary(client.get(page_path(dossier)).get_data(as_text=True))
    assert 'href="#decisions">Décider (2 factures)' in summary
    for path in (
        f"/service-fait/dossiers/{dossier.id}/demandes/nouvelle",
        f"/service-fait/dossiers/{dossier.id}/dossier-de-controle.zip",
        f"/signalements/nouveau?dossier={dossier.id}",
    ):
        assert f'href="{path}' in summary, path
    # The in-page navigation reaches every section.
    for anchor in ("accord", "chiffres", "verifications", "qualiopi", "pieces", "decisions"):
        assert f'href="#{anchor}"' in summary
    assert client.get(f"/service-fait/dossiers/{dossier.id}/demandes/nouvelle").status_code == 200


def test_no_anomaly_code_is_shown(client, auth, setup) -> None:
    dossier, controller = setup
    make_finding(
        dossier,
        "INVOICE_WITHOUT_CERTIFICATE",
        "bloquant",
        label="Période facturée sans certificat",
        explanation="Aucun certificat de réalisation pour cette période.",
    )
    auth.log_in(controller)
    page = text(client.get(page_path(dossier)))
    assert "Période facturée sans certificat" in page
    assert "INVOICE_WITHOUT_CERTIFICATE" not in page


def test_the_future_of_a_long_ptp_is_folded_until_asked_for(client, auth, app) -> None:
    funder, controller, _ = funder_with_staff()
    today = clock.today()
    start = month_start(today, -1)
    dossier = dossier_of(
        funder, start_date=start, end_date=month_end(today, 10), first_missing_due=None
    )
    auth.log_in(controller)
    folded = client.get(page_path(dossier)).get_data(as_text=True)
    assert "Voir tout le calendrier" in folded
    assert re.search(r"\d+ périodes à venir", folded)
    last_month = f"au {month_end(today, 10):%d/%m/%Y}"
    assert f'<th scope="row">du {month_start(today, 10):%d/%m/%Y} {last_month}' not in folded
    full = client.get(page_path(dossier) + "?calendrier=complet").get_data(as_text=True)
    assert "Voir tout le calendrier" not in full and "Replier les périodes à venir" in full
    assert full.count('<th scope="row">du ') > folded.count('<th scope="row">du ')
    # What is missing or due stays in view: the month begun is shown.
    assert f"du {month_start(today, 0):%d/%m/%Y}" in folded


def test_a_periods_received_pieces_fold_under_what_is_awaited(client, auth, setup) -> None:
    dossier, controller = setup
    make_invoice(dossier, invoice_number="F-1")
    auth.log_in(controller)
    body = client.get(page_path(dossier)).get_data(as_text=True)
    assert '<details class="slots-folded">' in body


def test_the_qualiopi_dates_fold_under_one_sentence(client, auth, setup) -> None:
    dossier, controller = setup
    auth.log_in(controller)
    page = text(client.get(page_path(dossier)))
    # No list was ever imported: unknown on every date, and said so in the summary line.
    assert "Inconnu à 1 date sur 1" in page
