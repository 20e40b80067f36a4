""" "Mes dossiers": an OF user sees its OF's dossiers from every funder, and nothing else,
each with the pieces expected and missing per period; the page's queries are bounded."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal import clock
from portal.dossiers import pieces as service
from portal.dossiers.calendar import DUE_AFTER_DAYS, Period, SlotStatus
from portal.extensions import db
from portal.models import Document, Dossier, PieceKind, Role
from portal.storage import new_key
from tests.dossiers.piece_helpers import make_dossier, month_end, month_start
from tests.factories import FunderFactory, ProviderFactory

D = date


def add_piece_row(dossier: Dossier, kind: PieceKind, start: date, end: date) -> None:
    """A piece written straight to the database (its file does not matter here)."""
    document = Document(
        storage_key=new_key(),
        sha256=new_key() * 2,
        size=10,
        content_type="application/pdf",
        original_name="p.pdf",
    )
    piece = service.PIECE_CLASSES[kind](
        dossier_id=dossier.id, period_start=start, period_end=end, document=document
    )
    db.session.add(piece)
    db.session.flush()


def cards(page: str) -> dict[str, str]:
    """Each dossier card of the page, by reference."""
    found = re.findall(r'<article class="dossier-card".*?</article>', page, re.S)
    return {re.search(r"Dossier ([\w-]+)</a>", card).group(1): card for card in found}


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- What the OF sees -----------------------------------------------------------------------


def test_an_of_sees_its_dossiers_from_every_funder_and_nothing_else(client, login_as) -> None:
    transitions, opco = FunderFactory(name="Transitions Pro Test"), FunderFactory(name="OPCO Test")
    mine, other = ProviderFactory(), ProviderFactory()
    make_dossier(transitions, mine, reference="TP-1")
    make_dossier(opco, mine, reference="OPCO-7", scheme="plan", payment_rhythm="fin_de_formation")
    make_dossier(transitions, other, reference="AUTRE-1", beneficiary_last_name="Secret")
    login_as(Role.PROVIDER, provider=mine)

    page = client.get("/dossiers/").get_data(as_text=True)

    assert set(cards(page)) == {"TP-1", "OPCO-7"}
    assert "Transitions Pro Test" in cards(page)["TP-1"] and "OPCO Test" in cards(page)["OPCO-7"]
    assert "AUTRE-1" not in page and "SECRET" not in page
    assert "<h1>Mes dossiers</h1>" in page
    assert f"au plus tard {DUE_AFTER_DAYS} jours après la fin" in page
    options = re.findall(r"<option[^>]*>([^<]+)</option>", page)
    assert options == ["Tous les financeurs", "OPCO Test", "Transitions Pro Test"]

    only_opco = client.get(f"/dossiers/?financeur={opco.id}").get_data(as_text=True)
    assert set(cards(only_opco)) == {"OPCO-7"}
    by_reference = client.get("/dossiers/?q=tp-").get_data(as_text=True)
    assert set(cards(by_reference)) == {"TP-1"}


def test_missing_only_shows_open_dossiers_with_overdue_pieces(client, login_as) -> None:
    funder, provider = FunderFactory(), ProviderFactory()
    today = clock.today()
    make_dossier(funder, provider, reference="EN-RETARD")
    make_dossier(
        funder,
        provider,
        reference="A-VENIR",
        start_date=month_start(today, 1),
        end_date=month_end(today, 3),
    )
    make_dossier(funder, provider, reference="CLOS", status="clos")
    login_as(Role.PROVIDER, provider=provider)

    everything = client.get("/dossiers/").get_data(as_text=True)
    assert set(cards(everything)) == {"EN-RETARD", "A-VENIR", "CLOS"}
    assert "Dossier clos : aucune pièce n'est plus attendue." in cards(everything)["CLOS"]
    assert "Rien à envoyer pour l'instant" in cards(everything)["A-VENIR"]

    missing = client.get("/dossiers/?manquantes=y").get_data(as_text=True)
    assert set(cards(missing)) == {"EN-RETARD"}
    assert "1 dossier(s) avec des pièces manquantes." in missing


def test_a_ptp_card_says_what_is_missing_and_due_per_period(client, login_as) -> None:
    funder, provider = FunderFactory(), ProviderFactory()
    today = clock.today()
    dossier = make_dossier(funder, provider, reference="PTP-1")  # months -3 … +2
    first = (month_start(today, -3), month_end(today, -3))
    for kind in (PieceKind.INVOICE, PieceKind.COMPLETION_CERTIFICATE, PieceKind.ATTENDANCE_SHEET):
        add_piece_row(dossier, kind, *first)
    add_piece_row(dossier, PieceKind.INVOICE, month_start(today, -2), month_end(today, -2))
    service.recompute_first_missing_due(dossier)
    db.session.commit()
    login_as(Role.PROVIDER, provider=provider)

    card = text(cards(client.get("/dossiers/").get_data(as_text=True))["PTP-1"])

    def period(offset: int) -> str:
        return Period(month_start(today, offset), month_end(today, offset)).label()

    def due(offset: int) -> date:
        return month_end(today, offset) + timedelta(days=DUE_AFTER_DAYS)

    assert period(-3) not in card  # all received
    assert (
        f"Manquant — période {period(-2)} : Certificat de réalisation, Feuille d'émargement ; "
        f"au plus tard le {due(-2):%d/%m/%Y}." in card.replace("&#39;", "'")
    )
    last_month = "Manquant" if due(-1) <= today else "À envoyer"
    assert (
        f"{last_month} — période {period(-1)} : Facture, Certificat de réalisation, "
        f"Feuille d'émargement ; au plus tard le {due(-1):%d/%m/%Y}."
    ) in card.replace("&#39;", "'")
    assert f"À envoyer — période {period(0)} :" in card
    assert period(1) not in card  # not begun: nothing to send yet


def test_the_expected_pieces_calendar_of_a_ptp(app) -> None:
    """One invoice, one certificat de réalisation and the attendance sheets per month of
    training, each due DUE_AFTER_DAYS after its month; statuses on a given day."""
    dossier = make_dossier(start_date=D(2026, 1, 15), end_date=D(2026, 4, 10), reference="PTP-CAL")
    for kind in (PieceKind.INVOICE, PieceKind.COMPLETION_CERTIFICATE, PieceKind.ATTENDANCE_SHEET):
        add_piece_row(dossier, kind, D(2026, 1, 15), D(2026, 1, 31))
    add_piece_row(dossier, PieceKind.INVOICE, D(2026, 2, 1), D(2026, 2, 28))
    # A certificate covering only half of March does not meet it: it counts towards it, and
    # the rest of the month is named (issue 14: several pieces may cover one period).
    add_piece_row(dossier, PieceKind.COMPLETION_CERTIFICATE, D(2026, 3, 1), D(2026, 3, 15))
    db.session.commit()

    slots = service.slots_for(dossier, D(2026, 3, 20))

    table = [
        (s.expected.period.start, s.expected.kind, s.expected.due, s.status, len(s.piece_ids))
        for s in slots
    ]
    received, missing, expected, upcoming = (
        SlotStatus.RECEIVED,
        SlotStatus.MISSING,
        SlotStatus.EXPECTED,
        SlotStatus.UPCOMING,
    )
    invoice, certificate, sheet = (
        PieceKind.INVOICE,
        PieceKind.COMPLETION_CERTIFICATE,
        PieceKind.ATTENDANCE_SHEET,
    )
    assert table == [
        (D(2026, 1, 15), invoice, D(2026, 2, 15), received, 1),
        (D(2026, 1, 15), certificate, D(2026, 2, 15), received, 1),
        (D(2026, 1, 15), sheet, D(2026, 2, 15), received, 1),
        (D(2026, 2, 1), invoice, D(2026, 3, 15), received, 1),
        (D(2026, 2, 1), certificate, D(2026, 3, 15), missing, 0),
        (D(2026, 2, 1), sheet, D(2026, 3, 15), missing, 0),
        (D(2026, 3, 1), invoice, D(2026, 4, 15), expected, 0),
        (D(2026, 3, 1), certificate, D(2026, 4, 15), expected, 1),
        (D(2026, 3, 1), sheet, D(2026, 4, 15), expected, 0),
        (D(2026, 4, 1), invoice, D(2026, 4, 25), upcoming, 0),
        (D(2026, 4, 1), certificate, D(2026, 4, 25), upcoming, 0),
        (D(2026, 4, 1), sheet, D(2026, 4, 25), upcoming, 0),
    ]
    march = next(s for s in slots if s.expected.period.start.month == 3 and s.piece_ids)
    assert march.gaps_label == "non couvert du 16/03/2026 au 31/03/2026"
    to_send = service.to_send(slots)
    assert [(p.period.start, p.missing, p.kinds) for p in to_send] == [
        (D(2026, 2, 1), True, (certificate, sheet)),
        (D(2026, 3, 1), False, (invoice, certificate, sheet)),
    ]
    upcoming_period = service.next_upcoming(slots)
    assert upcoming_period.period == Period(D(2026, 4, 1), D(2026, 4, 10))
    assert upcoming_period.due == D(2026, 4, 25)
    assert service.recompute_first_missing_due(dossier) == D(2026, 3, 15)


def test_the_results_are_an_htmx_fragment_and_paginated(client, login_as) -> None:
    funder, provider = FunderFactory(), ProviderFactory()
    for index in range(23):
        make_dossier(funder, provider, reference=f"P-{index:02d}")
    login_as(Role.PROVIDER, provider=provider)
    response = client.get("/dossiers/?q=P-", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="results" aria-live="polite">')
    assert "<html" not in body and "HX-Request" in response.headers["Vary"]
    assert len(cards(body)) == 20 and "Page 1 sur 2" in body
    assert 'href="/dossiers/?q=P-&amp;page=2"' in body
    second = client.get("/dossiers/?q=P-&page=2").get_data(as_text=True)
    assert len(cards(second)) == 3


# --- Bounded queries --------------------------------------------------------------------------


@pytest.fixture
def many(app):
    def _many(number: int, provider) -> None:
        funders = [FunderFactory(), FunderFactory()]
        today = clock.today()
        for index in range(number):
            dossier = make_dossier(funders[index % 2], provider, reference=f"N-{index:03d}")
            add_piece_row(dossier, PieceKind.INVOICE, month_start(today, -3), month_end(today, -3))
        db.session.commit()

    return _many


@pytest.mark.parametrize("query", ["", "?manquantes=y", "?q=N-0"])
def test_my_dossiers_runs_the_same_queries_for_3_or_30_dossiers(
    client, login_as, count_queries, many, query
) -> None:
    small, large = ProviderFactory(), ProviderFactory()
    many(3, small)
    many(30, large)
    counts = []
    for provider in (small, large):
        login_as(Role.PROVIDER, provider=provider)
        client.get("/dossiers/" + query)  # warm up the session
        with count_queries() as counter:
            response = client.get("/dossiers/" + query)
        assert response.status_code == 200
        counts.append(counter.count)
        client.post("/logout", data={"csrf_token": _token(client)})
    assert counts[0] == counts[1], counts
    assert counts[1] <= 8, counts


def _token(client) -> str:
    from tests.support.auth import csrf_token

    return csrf_token(client)
