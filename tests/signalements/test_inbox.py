"""The ministry's inbox: filters (state, region, OF, indicator, funder, age), counts per
state, the stale ones highlighted; the OF's page and its several-funders flag; the exports
with stable columns; a fixed number of queries whatever the length of the list."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
from flask import Flask

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Signalement
from portal.signalements import inbox, services
from tests.factories import ProviderFactory
from tests.signalements.helpers import bring_to, client_as, make_world, substantiated, text_of

HTMX = {"HX-Request": "true"}


def _age(s: Signalement, days: int) -> None:
    s.sent_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_filters_and_counts(app: Flask) -> None:
    w = make_world()
    taken = bring_to(w, "en_examen")
    fresh = substantiated(w, indicateurs=["26"])
    services.transition(w.controller, fresh, "transmettre")
    from_other = substantiated(w, author=w.other_controller, indicateurs=["4"])
    services.transition(w.other_controller, from_other, "transmettre")
    _age(taken, 45)
    client, _ = client_as(app, w.national)

    def refs(query: str = "") -> set[str]:
        page = client.get(f"/signalements/{query}").get_data(as_text=True)
        return {s.reference for s in (taken, fresh, from_other) if s.reference in page}

    assert refs() == {taken.reference, fresh.reference, from_other.reference}
    assert refs("?etat=en_examen") == {taken.reference}
    assert refs("?etat=transmis") == {fresh.reference, from_other.reference}
    assert refs("?indicateur=26") == {fresh.reference}
    assert refs(f"?financeur={w.other_funder.id}") == {from_other.reference}
    assert refs("?region=76") == {taken.reference, fresh.reference, from_other.reference}
    assert refs("?region=11") == set()
    assert refs("?organisme=t%C3%A9moin") == {
        taken.reference,
        fresh.reference,
        from_other.reference,
    }
    assert refs(f"?organisme={w.provider.nda}") == {
        taken.reference,
        fresh.reference,
        from_other.reference,
    }
    assert refs("?organisme=inconnu") == set()
    assert refs("?anciennete=30") == {taken.reference}
    assert refs("?en_retard=1") == {taken.reference}
    # Nonsense in the query string is ignored, never an error.
    assert refs("?etat=n_importe&indicateur=99&anciennete=abc") == {
        taken.reference,
        fresh.reference,
        from_other.reference,
    }
    counts = inbox.state_counts(w.national, inbox.Filters())
    assert counts["en_examen"] == 1 and counts["transmis"] == 2 and counts["brouillon"] == 0
    text = text_of(client.get("/signalements/?indicateur=26").get_data(as_text=True))
    assert "Tous (1)" in text and "Transmis au ministère (1)" in text and "En examen (0)" in text


def test_the_stale_ones_are_highlighted(app: Flask) -> None:
    w = make_world()
    old = bring_to(w, "transmis")
    _age(old, 31)
    recent = bring_to(w, "transmis")
    client, _ = client_as(app, w.liaison)
    html = client.get("/signalements/").get_data(as_text=True)
    assert html.count('class="sig-stale"') == 1
    assert "En attente depuis plus de 30 jours" in html
    row = html[html.index(old.reference) - 400 : html.index(old.reference)]
    assert 'class="sig-stale"' in row
    assert inbox.is_stale(old) and not inbox.is_stale(recent)
    app.config["SIGNALEMENT_STALE_DAYS"] = 60
    assert 'class="sig-stale"' not in client.get("/signalements/").get_data(as_text=True)
    services.transition(w.liaison, old, "prendre_en_charge")
    assert inbox.is_stale(old, days=30)
    old.state = "clos"
    assert not inbox.is_stale(old, days=30)
    db.session.rollback()


def test_the_inbox_swaps_its_results_with_htmx(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    client, _ = client_as(app, w.liaison)
    response = client.get("/signalements/?etat=transmis", headers=HTMX)
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="results"' in html and s.reference in html
    assert "HX-Request" in response.headers["Vary"]


def test_the_of_page_lists_every_funder_and_flags_several_within_a_year(app: Flask) -> None:
    w = make_world()
    first = bring_to(w, "transmis")
    client, _ = client_as(app, w.liaison)
    page = text_of(client.get(f"/signalements/organismes/{w.provider.nda}").get_data(as_text=True))
    assert first.reference in page and "financeurs différents" not in page
    second = substantiated(w, author=w.other_controller)
    services.transition(w.other_controller, second, "transmettre")
    page = text_of(client.get(f"/signalements/organismes/{w.provider.nda}").get_data(as_text=True))
    assert first.reference in page and second.reference in page
    assert "Transitions Pro Test" in page and "OPCO Test" in page
    assert "Signalé par 2 financeurs différents au cours des 12 derniers mois." in page
    listing = text_of(client.get("/signalements/").get_data(as_text=True))
    assert "Signalé par 2 financeurs en un an" in listing
    # Older than a year: no longer "several".
    _age(second, 400)
    page = text_of(client.get(f"/signalements/organismes/{w.provider.nda}").get_data(as_text=True))
    assert "financeurs différents" not in page
    assert client.get("/signalements/organismes/00000000000").status_code == 404


def test_exports_have_stable_columns(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis_certificateur")
    client, _ = client_as(app, w.national)
    response = client.get("/signalements/export.csv?etat=transmis_certificateur")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert tuple(rows[0]) == inbox.EXPORT_COLUMNS
    assert rows[0][:6] == [
        "reference",
        "etat",
        "financeur",
        "organisme_nda",
        "organisme_denomination",
        "region",
    ]
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["reference"] == s.reference
    assert line["etat"] == "Transmis au certificateur"
    assert line["organisme_nda"] == w.provider.nda
    assert line["indicateurs"] == "10 ; 11"
    assert line["indicateurs_majeurs"] == "10 ; 11"
    assert line["dossiers"] == w.dossier.reference
    assert line["preuves"] == "1"
    assert line["certificateur"] == "AFNOR Certification"
    assert line["reference_certificateur"] == "DREETS-2026-12"
    assert line["issue"] == "transmis_certificateur"
    assert line["correspondant"] == w.liaison.email
    assert len(rows) == 2

    xlsx = client.get("/signalements/export.xlsx")
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert tuple(values[0]) == inbox.EXPORT_COLUMNS
    assert values[1][0] == s.reference
    assert values[1][3] == w.provider.nda  # text: an NDA keeps its leading digits


def test_list_pages_cost_a_fixed_number_of_queries(app: Flask, count_queries) -> None:
    w = make_world()
    bring_to(w, "transmis")
    client, _ = client_as(app, w.national)
    client.get("/signalements/")
    with count_queries() as few:
        client.get("/signalements/")
    for number in range(4):
        provider = ProviderFactory(nda=f"7632000000{number}")
        from portal.models import FunderProvider

        db.session.add(FunderProvider(funder_id=w.funder.id, provider_id=provider.id))
        db.session.commit()
        draft = services.create_draft(w.controller, provider)
        services.update_draft(
            w.controller,
            draft,
            services.DraftValues(
                what="Des faits établis par la visite sur place du service.",
                when="avril",
                where="Montpellier",
                indicators=[4, 5],
                evidence_keys=[],
            ),
        )
        draft.state = "transmis"
        draft.sent_at = utcnow()
        db.session.commit()
    with count_queries() as many:
        response = client.get("/signalements/")
    assert response.get_data(as_text=True).count("sig-state-transmis") == 5
    assert many.count == few.count
    with count_queries() as funder_side:
        client_as(app, w.controller)[0].get("/signalements/")
    assert funder_side.count < 40
