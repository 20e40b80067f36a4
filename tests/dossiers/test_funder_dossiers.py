"""The funder's dossiers through the web client: creation, edit, list, filters, exports."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.dossiers import services
from portal.dossiers.services import EXPORT_COLUMNS
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Document,
    Dossier,
    Funder,
    FunderProvider,
    Invoice,
    Provider,
    Role,
)
from portal.public_list.importer import import_list
from tests.factories import FunderFactory, ProviderFactory, luhn_complete

SAMPLE = Path(__file__).parent.parent / "fixtures" / "public_list_sample.csv"
GARONNE_SIRET = "81234567600017"  # in the list: certified for actions de formation only
GARONNE_NDA = "76311234567"
CARAIBES_NDA = "01971234567"  # in the list: actions de formation and VAE
DUPONT_NDA = "24451234567"  # in the list, not certified
ABSENT_SIRET = luhn_complete("7328293200001")  # valid, in no list
NEW = "/dossiers/nouveau"


@pytest.fixture
def public_list(app) -> None:
    import_list(str(SAMPLE), as_of=date.today() - timedelta(days=2), triggered_by="test")


def form_data(**changes) -> dict[str, str]:
    data = {
        "reference": "TP-2026-001",
        "provider": GARONNE_SIRET,
        "beneficiary_last_name": "Martin",
        "beneficiary_first_name": "Claire",
        "action_title": "Titre professionnel Secrétaire assistant",
        "category": "actions_formation",
        "scheme": "ptp",
        "rncp_code": "rncp37796",
        "modality": "presentiel",
        "start_date": "2026-09-01",
        "end_date": "2027-03-31",
        "planned_hours": "1085",
        "agreed_amount": "14 250,50",
        "payment_rhythm": "mensuel",
        "instalments": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def post_new(auth, **changes):
    return auth.post(NEW, form_data(**changes), token_from=NEW)


def make_dossier(funder: Funder, provider: Provider, reference: str, **values) -> Dossier:
    """A dossier written straight to the database (for lists)."""
    fields = {
        "beneficiary_last_name": "Durand",
        "beneficiary_first_name": "Paul",
        "action_title": "Action",
        "category": "actions_formation",
        "scheme": "cpf",
        "modality": "presentiel",
        "start_date": date(2026, 1, 5),
        "end_date": date(2026, 2, 20),
        "planned_minutes": 35 * 60,
        "agreed_amount": Decimal("1000"),
        "payment_rhythm": "fin_de_formation",
        "provider_siret": provider.siret,
        **values,
    }
    dossier = Dossier(funder_id=funder.id, provider_id=provider.id, reference=reference, **fields)
    db.session.add(dossier)
    db.session.commit()
    return dossier


def references(body: str) -> list[str]:
    """The references of the list's rows, in order."""
    return re.findall(r'<td[^>]*><a href="/dossiers/\d+[^"]*">([^<]+)</a></td>', body)


# --- Creation ------------------------------------------------------------------------------------


def test_the_form_is_labelled_and_in_french(client, login_as) -> None:
    login_as(Role.CONTROLLER)
    body = client.get(NEW).get_data(as_text=True)
    assert '<html lang="fr">' in body
    for label in ("Référence du dossier", "Organisme de formation (SIRET ou NDA)", "Dispositif"):
        assert label in body
    assert 'for="provider"' in body
    assert 'hx-get="/dossiers/organisme"' in body


def test_create_by_form_takes_the_of_from_the_public_list(client, auth, login_as, public_list):
    user = login_as(Role.FUNDER_ADMIN)
    response = post_new(auth)
    assert response.status_code == 303
    dossier = db.session.scalars(select(Dossier)).one()
    assert response.headers["Location"] == f"/dossiers/{dossier.id}"  # its page
    assert dossier.funder_id == user.funder_id
    assert dossier.created_by_id == user.id
    assert dossier.agreed_amount == Decimal("14250.50")
    assert dossier.planned_minutes == 1085 * 60
    assert dossier.rncp_code == "RNCP37796"
    assert dossier.provider_siret == GARONNE_SIRET
    assert dossier.status == "en_cours"
    # PTP paid monthly: September's pieces are due on 15 October.
    assert dossier.first_missing_due == date(2026, 10, 15)
    provider = dossier.provider
    assert (provider.nda, provider.siren, provider.siret, provider.name) == (
        GARONNE_NDA,
        "812345676",
        GARONNE_SIRET,
        "Atelier Formation Garonne",
    )
    assert db.session.scalar(
        select(FunderProvider).where(
            FunderProvider.funder_id == user.funder_id, FunderProvider.provider_id == provider.id
        )
    )
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["provider.created", "provider.followed", "dossier.created"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "dossier.created")
    ).one()
    assert event.object_id == str(dossier.id)
    assert event.funder_id == user.funder_id
    assert event.details["after"]["agreed_amount"] == "14250.50"


def test_create_by_nda_keeps_its_leading_zero(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    response = post_new(
        auth, provider=CARAIBES_NDA, scheme="cpf", payment_rhythm="fin_de_formation"
    )
    assert response.status_code == 303
    dossier = db.session.scalars(select(Dossier)).one()
    assert dossier.provider.nda == CARAIBES_NDA
    assert dossier.provider.name == "Caraïbes Compétences Formation"
    assert dossier.provider_siret == "90123456700013"


def test_an_of_already_known_is_reused_and_followed_once(client, auth, login_as, public_list):
    user = login_as(Role.FUNDER_ADMIN)
    known = ProviderFactory(nda="99999999999", name="Organisme connu")
    assert post_new(auth, provider=known.siret).status_code == 303
    assert post_new(auth, reference="TP-2", provider=known.nda).status_code == 303
    assert db.session.scalar(select(func.count(Provider.id))) == 1
    assert (
        db.session.scalar(
            select(func.count(FunderProvider.id)).where(FunderProvider.funder_id == user.funder_id)
        )
        == 1
    )


def test_an_of_in_no_list_is_refused_and_what_was_typed_is_kept(
    client, auth, login_as, public_list
):
    login_as(Role.CONTROLLER)
    response = post_new(auth, provider=ABSENT_SIRET, beneficiary_last_name="Lévêque")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Organisme introuvable" in body
    assert "tels qu&#39;ils figurent dans la liste publique" in body
    assert 'value="Lévêque"' in body
    assert f'value="{ABSENT_SIRET}"' in body
    assert db.session.scalar(select(func.count(Dossier.id))) == 0
    assert db.session.scalar(select(func.count(Provider.id))) == 0


def test_rule_errors_are_shown_next_to_their_fields(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    response = post_new(
        auth,
        payment_rhythm="echeances",
        instalments="3",
        agreed_amount="12,345",
        end_date="2026-08-01",
        rncp_code="CQP123",
        modality="hybride",  # not one of the choices: the rules answer, in French
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Modalité « hybride » inconnu(e)" in body
    assert "payé mensuellement" in body
    assert "au plus 2 décimales" in body.lower() or "2 décimales" in body
    assert "postérieure à la date de début" in body
    assert "RNCP suivi de chiffres" in body
    assert 'aria-invalid="true"' in body
    assert 'value="12,345"' in body  # what was typed is kept
    assert db.session.scalar(select(func.count(Dossier.id))) == 0


def test_reference_is_unique_per_funder_only(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    assert post_new(auth).status_code == 303
    again = post_new(auth)
    assert again.status_code == 200
    assert "déjà un dossier avec cette référence" in again.get_data(as_text=True)
    auth.logout()
    login_as(Role.FUNDER_ADMIN)  # another funder
    assert post_new(auth).status_code == 303
    assert db.session.scalar(select(func.count(Dossier.id))) == 2


def test_the_inline_check_shows_the_of_and_its_qualiopi_status(client, login_as, public_list):
    login_as(Role.CONTROLLER)
    url = "/dossiers/organisme"
    body = client.get(
        url,
        query_string={"provider": GARONNE_SIRET, "category": "actions_formation"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "<html" not in body
    assert "Atelier Formation Garonne" in body
    assert "Certifié Qualiopi pour « Action de formation »" in body
    body = client.get(url, query_string={"provider": GARONNE_SIRET, "category": "vae"}).get_data(
        as_text=True
    )
    assert "Non certifié Qualiopi" in body
    body = client.get(url, query_string={"provider": DUPONT_NDA}).get_data(as_text=True)
    assert "Jean Dupont Conseil" in body and "Non certifié Qualiopi" in body
    body = client.get(url, query_string={"provider": "812345676"}).get_data(as_text=True)
    assert "Un SIREN ne suffit pas" in body
    body = client.get(url, query_string={"provider": ABSENT_SIRET}).get_data(as_text=True)
    assert "Organisme introuvable" in body
    assert client.get(url).status_code == 200


GARONNE_TRAINING_SITE = "81234567600033"  # another establishment of Garonne, not in the list
PLUS_TRAINING_SITE = "30012345200033"  # of Compétences Plus, whose SIREN holds two NDAs


def test_a_training_site_siret_ties_the_dossier_to_the_company_entry(
    client, auth, login_as, public_list
) -> None:
    login_as(Role.FUNDER_ADMIN)
    body = client.get(
        "/dossiers/organisme",
        query_string={"provider": GARONNE_TRAINING_SITE, "category": "actions_formation"},
    ).get_data(as_text=True)
    assert "Atelier Formation Garonne" in body and f"NDA {GARONNE_NDA}" in body
    assert "<strong>Établissement non déclarant</strong>" in body
    assert "Certifié Qualiopi pour « Action de formation »" in body
    response = post_new(auth, provider=GARONNE_TRAINING_SITE)
    assert response.status_code == 303, response.get_data(as_text=True)
    dossier = db.session.scalars(select(Dossier)).one()
    assert dossier.provider.nda == GARONNE_NDA
    assert dossier.provider.siret == GARONNE_SIRET  # the declaring establishment
    assert dossier.provider_siret == GARONNE_TRAINING_SITE  # the one of the dossier
    page = client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert "(établissement non déclarant : la certification est celle du NDA" in page
    # A company with several NDAs: which one cannot be guessed.
    body = client.get(
        "/dossiers/organisme", query_string={"provider": PLUS_TRAINING_SITE}
    ).get_data(as_text=True)
    assert "Ce SIRET est un établissement non déclarant de « Compétences Plus »" in body
    assert "indiquez le NDA" in body


def test_an_of_user_may_not_create(client, login_as) -> None:
    login_as(Role.PROVIDER)
    assert client.get(NEW).status_code == 403


# --- Edit ----------------------------------------------------------------------------------------


def _edit_form(client, url: str) -> dict[str, str]:
    page = client.get(url).get_data(as_text=True)
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    for name in ("category", "scheme", "modality", "payment_rhythm", "status"):
        match = re.search(
            rf'<select[^>]*name="{name}".*?<option selected value="([^"]*)"', page, re.S
        ) or re.search(rf'<select[^>]*name="{name}".*?<option value="([^"]*)" selected', page, re.S)
        data[name] = match.group(1)
    data.pop("subcontracted", None)
    return data


def test_edit_is_audited_with_before_and_after(client, auth, login_as, public_list) -> None:
    login_as(Role.FUNDER_ADMIN)
    post_new(auth)
    dossier = db.session.scalars(select(Dossier)).one()
    url = f"/dossiers/{dossier.id}/modifier"
    data = _edit_form(client, url)
    assert data["agreed_amount"] == "14250,50"
    assert data["version"] == "1"
    response = client.post(
        url, data={**data, "agreed_amount": "15 000", "status": "clos", "end_date": "2027-01-31"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    dossier = db.session.get(Dossier, dossier.id)
    assert dossier.agreed_amount == Decimal("15000.00")
    assert dossier.status == "clos"
    assert dossier.version == 2
    assert dossier.first_missing_due is None  # nothing is awaited from a closed dossier
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "dossier.updated")
    ).one()
    assert event.details["before"] == {
        "agreed_amount": "14250.50",
        "end_date": "2027-03-31",
        "status": "en_cours",
    }
    assert event.details["after"] == {
        "agreed_amount": "15000.00",
        "end_date": "2027-01-31",
        "status": "clos",
    }


def test_a_stale_edit_is_detected_and_overwrites_nothing(client, auth, login_as, public_list):
    user = login_as(Role.FUNDER_ADMIN)
    post_new(auth)
    dossier = db.session.scalars(select(Dossier)).one()
    url = f"/dossiers/{dossier.id}/modifier"
    stale = _edit_form(client, url)  # opened by this controller...
    # ... while a colleague saves another change.
    services.update_dossier(
        user, dossier, {**services.form_values(dossier), "action_title": "Nouveau titre"}, 1
    )
    db.session.commit()
    response = client.post(url, data={**stale, "agreed_amount": "1,00"})
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "modifié par quelqu&#39;un d&#39;autre" in body
    assert 'value="Nouveau titre"' in body  # the current version is shown
    assert 'name="version" type="hidden" value="2"' in body
    db.session.expire_all()
    dossier = db.session.get(Dossier, dossier.id)
    assert dossier.agreed_amount == Decimal("14250.50")
    assert dossier.action_title == "Nouveau titre"


def test_the_of_cannot_be_replaced_once_it_sent_pieces(client, auth, login_as, public_list):
    login_as(Role.FUNDER_ADMIN)
    post_new(auth)
    dossier = db.session.scalars(select(Dossier)).one()
    document = Document(
        storage_key="k" * 32, sha256="0" * 64, size=1, content_type="application/pdf",
        original_name="facture.pdf",
    )  # fmt: skip
    db.session.add(document)
    db.session.flush()
    db.session.add(
        Invoice(
            dossier_id=dossier.id,
            period_start=date(2026, 9, 1),
            period_end=date(2026, 9, 30),
            document_id=document.id,
        )
    )
    db.session.commit()
    url = f"/dossiers/{dossier.id}/modifier"
    response = client.post(url, data={**_edit_form(client, url), "provider": CARAIBES_NDA})
    assert response.status_code == 200
    assert "ne peut plus être remplacé" in response.get_data(as_text=True)
    # The same OF, given by its NDA instead of its SIRET, is fine.
    response = client.post(url, data={**_edit_form(client, url), "provider": GARONNE_NDA})
    assert response.status_code == 303


def test_a_controller_never_reaches_another_funders_dossiers(client, auth, login_as) -> None:
    other_funder = FunderFactory()
    provider = ProviderFactory()
    theirs = make_dossier(other_funder, provider, "B-SECRET-1")
    user = login_as(Role.CONTROLLER)
    mine = make_dossier(user.funder, provider, "A-1")
    url = f"/dossiers/{theirs.id}/modifier"
    assert client.get(url).status_code == 404
    response = auth.post(url, {**form_data(), "version": "1"})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Dossier, theirs.id).reference == "B-SECRET-1"
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).all()
    assert len(refused) == 2
    body = client.get("/dossiers/").get_data(as_text=True)
    assert references(body) == ["A-1"]
    assert "B-SECRET-1" not in client.get("/dossiers/?q=B").get_data(as_text=True)
    assert "B-SECRET-1" not in client.get("/dossiers/export.csv").get_data(as_text=True)
    workbook = load_workbook(io.BytesIO(client.get("/dossiers/export.xlsx").data))
    values = [row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert values == ["A-1"]
    assert client.get(f"/dossiers/{mine.id}/modifier").status_code == 200


# --- List ----------------------------------------------------------------------------------------


@pytest.fixture
def listed(app, login_as):
    """A controller's funder with five dossiers over two OF, and another funder's dossier."""
    user = login_as(Role.CONTROLLER)
    funder = user.funder
    alpha = ProviderFactory(name="Alpha Formation", nda="11000000001")
    beta = ProviderFactory(name="Beta Compétences", nda="11000000002")
    past = date.today() - timedelta(days=30)
    make_dossier(funder, alpha, "D-1", agreed_amount=Decimal("500"), start_date=date(2026, 1, 5))
    make_dossier(
        funder,
        alpha,
        "D-2",
        agreed_amount=Decimal("1500.25"),
        scheme="ptp",
        payment_rhythm="mensuel",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 6, 30),
        first_missing_due=past,
        beneficiary_last_name="Lefèvre",
    )
    make_dossier(
        funder,
        beta,
        "D-3",
        agreed_amount=Decimal("99.99"),
        status="clos",
        start_date=date(2025, 9, 1),
        end_date=date(2025, 12, 20),
    )
    make_dossier(
        funder,
        beta,
        "D-4",
        agreed_amount=Decimal("20000"),
        start_date=date(2026, 5, 1),
        end_date=date(2026, 12, 31),
        first_missing_due=date.today() + timedelta(days=10),
    )
    make_dossier(
        funder,
        beta,
        "D-5",
        agreed_amount=Decimal("750"),
        scheme="plan",
        start_date=date(2026, 2, 1),
        end_date=date(2026, 2, 28),
        first_missing_due=past - timedelta(days=5),
    )
    make_dossier(FunderFactory(), alpha, "AUTRE-1")
    return user


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),  # by start date, latest first
        ({"statut": "clos"}, ["D-3"]),
        ({"statut": "en_cours"}, ["D-4", "D-2", "D-5", "D-1"]),
        ({"dispositif": "ptp"}, ["D-2"]),
        ({"organisme": "11000000001"}, ["D-2", "D-1"]),
        ({"organisme": "beta comp"}, ["D-4", "D-5", "D-3"]),
        ({"manquantes": "1"}, ["D-2", "D-5"]),
        ({"du": "2026-02-15", "au": "2026-03-15"}, ["D-2", "D-5", "D-1"]),  # overlap
        ({"du": "2026-07-01"}, ["D-4"]),
        ({"au": "2025-12-31"}, ["D-3"]),
        ({"q": "D-3"}, ["D-3"]),
        ({"q": "d-3"}, []),  # a reference is searched with its case
        ({"q": "D-*"}, []),  # no wildcard
        ({"q": "D-"}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),
        ({"q": "lefe"}, []),  # the beginning of the name, accents as typed
        ({"q": "lefè"}, ["D-2"]),
        ({"q": "LEFÈ"}, ["D-2"]),  # whatever the case
        ({"q": "lefèvre"}, ["D-2"]),  # the whole name
        ({"q": "lefèvrea"}, []),  # longer than the name
        ({"tri": "montant"}, ["D-3", "D-1", "D-5", "D-2", "D-4"]),
        ({"tri": "-montant"}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),
        ({"tri": "reference"}, ["D-1", "D-2", "D-3", "D-4", "D-5"]),
        ({"tri": "-reference"}, ["D-5", "D-4", "D-3", "D-2", "D-1"]),
        ({"tri": "organisme"}, ["D-1", "D-2", "D-3", "D-4", "D-5"]),
        ({"tri": "manquant"}, ["D-5", "D-2", "D-4", "D-1", "D-3"]),  # no date last
        ({"tri": "n_importe_quoi"}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),
        ({"statut": "inconnu"}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),  # invalid: ignored
        ({"du": "pas une date"}, ["D-4", "D-2", "D-5", "D-1", "D-3"]),
        ({"dispositif": "cpf", "tri": "montant", "manquantes": ""}, ["D-3", "D-1", "D-4"]),
    ],
)
def test_filters_and_sort(client, listed, query, expected) -> None:
    response = client.get("/dossiers/", query_string=query)
    assert response.status_code == 200
    assert references(response.get_data(as_text=True)) == expected


def test_the_page_shows_amounts_dates_and_missing_pieces_in_french(client, listed) -> None:
    body = client.get("/dossiers/").get_data(as_text=True)
    assert "1\u202f500,25\u00a0€" in body
    assert "01/03/2026<br>30/06/2026" in body  # the period on two lines of its cell
    assert "Manquantes depuis le" in body
    assert "Beta Compétences" in body and "NDA 11000000002" in body


def test_htmx_gets_the_results_fragment(client, listed) -> None:
    response = client.get(
        "/dossiers/", query_string={"statut": "clos"}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="results"')
    assert references(body) == ["D-3"]
    assert "HX-Request" in response.headers["Vary"]
    page = client.get("/dossiers/", query_string={"statut": "clos"})
    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


def test_the_filter_form_works_with_htmx_and_without(client, listed) -> None:
    body = client.get("/dossiers/", query_string={"tri": "montant"}).get_data(as_text=True)
    assert 'method="get" action="/dossiers/" id="dossier-filters"' in body
    assert 'hx-get="/dossiers/"' in body and 'hx-push-url="true"' in body
    assert 'hx-target="#results"' in body
    assert 'name="csrf_token"' not in body.split('id="dossier-filters"')[1].split("</form>")[0]
    # The sort travels with the filters, and the links keep both.
    assert '<input type="hidden" name="tri" value="montant" form="dossier-filters">' in body
    assert 'href="/dossiers/export.csv?tri=montant"' in body
    assert 'aria-sort="ascending"' in body
    assert "/dossiers/?tri=-montant" in body  # clicking again reverses


def test_pagination_keeps_filters(client, login_as) -> None:
    user = login_as(Role.CONTROLLER)
    provider = ProviderFactory()
    for n in range(60):
        make_dossier(user.funder, provider, f"P-{n:03d}", scheme="plan" if n % 2 else "cpf")
    body = client.get("/dossiers/", query_string={"dispositif": "plan"}).get_data(as_text=True)
    assert "30 dossiers." in body
    assert len(references(body)) == 30
    body = client.get("/dossiers/", query_string={"tri": "reference"}).get_data(as_text=True)
    assert "Page 1 sur 2" in body
    assert "/dossiers/?tri=reference&amp;page=2" in body
    body = client.get("/dossiers/", query_string={"tri": "reference", "page": 2}).get_data(
        as_text=True
    )
    assert references(body)[0] == "P-050"
    beyond = client.get("/dossiers/", query_string={"tri": "reference", "page": 99})
    assert references(beyond.get_data(as_text=True))[0] == "P-050"  # the last page


def test_the_list_runs_the_same_queries_for_5_or_50_dossiers(client, login_as, count_queries):
    user = login_as(Role.CONTROLLER)
    providers = [ProviderFactory() for _ in range(10)]

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            make_dossier(user.funder, providers[n % 10], f"Q-{n:03d}")

    def queries(query: dict) -> int:
        client.get("/dossiers/", query_string=query)  # warm-up
        with count_queries() as counter:
            response = client.get("/dossiers/", query_string=query)
        assert response.status_code == 200
        return counter.count

    add(0, 5)
    few = [queries(q) for q in ({}, {"tri": "organisme"}, {"organisme": "organisme"})]
    add(5, 50)
    many = [queries(q) for q in ({}, {"tri": "organisme"}, {"organisme": "organisme"})]
    assert few == many
    assert max(many) <= 8


# --- Exports -------------------------------------------------------------------------------------


def test_csv_export_has_the_documented_columns(client, listed) -> None:
    response = client.get("/dossiers/export.csv", query_string={"tri": "reference"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [row[0] for row in rows[1:]] == ["D-1", "D-2", "D-3", "D-4", "D-5"]
    d2 = dict(zip(EXPORT_COLUMNS, rows[2], strict=True))
    assert d2["organisme_nda"] == "11000000001"
    assert d2["organisme_denomination"] == "Alpha Formation"
    assert d2["montant_accorde"] == "1500,25"
    assert d2["heures_prevues"] == "35,00"
    assert d2["date_debut"] == "01/03/2026"
    assert d2["dispositif"] == "ptp"
    assert d2["statut"] == "en_cours"
    assert d2["pieces_manquantes"] == "oui"
    assert d2["sous_traitance"] == "non"
    assert d2["nombre_echeances"] == ""
    assert d2["id_portail"].isdigit()
    filtered = client.get("/dossiers/export.csv", query_string={"statut": "clos"})
    assert len(filtered.get_data(as_text=True).strip().splitlines()) == 2
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "dossier.exported")
        .order_by(AuditEvent.id)  # in the order they were made, not in the table's
    ).all()
    assert [e.details["count"] for e in event] == [5, 1]


def test_xlsx_export_has_the_documented_columns_and_typed_cells(client, listed) -> None:
    response = client.get("/dossiers/export.xlsx", query_string={"organisme": "11000000001"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == services.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == EXPORT_COLUMNS
    assert [row[0] for row in rows[1:]] == ["D-2", "D-1"]
    d2 = dict(zip(EXPORT_COLUMNS, rows[1], strict=True))
    assert d2["organisme_nda"] == "11000000001"
    assert d2["montant_accorde"] == 1500.25
    assert d2["date_debut"].date() == date(2026, 3, 1)
    assert d2["pieces_manquantes"] == "oui"


def test_exports_never_turn_text_into_formulas(client, login_as) -> None:
    user = login_as(Role.CONTROLLER)
    provider = ProviderFactory(name="R&D <Formation>", nda="01000000001")
    make_dossier(user.funder, provider, "F-1", action_title='=HYPERLINK("http://x")')
    text = client.get("/dossiers/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text
    sheet = load_workbook(io.BytesIO(client.get("/dossiers/export.xlsx").data)).active
    row = dict(zip(EXPORT_COLUMNS, next(sheet.iter_rows(min_row=2, values_only=True)), strict=True))
    assert row["intitule"] == '=HYPERLINK("http://x")'
    assert sheet.cell(row=2, column=EXPORT_COLUMNS.index("intitule") + 1).data_type == "s"
    assert row["organisme_denomination"] == "R&D <Formation>"
    assert row["organisme_nda"] == "01000000001"
    assert row["heures_prevues"] == 35
    assert sheet.cell(row=2, column=EXPORT_COLUMNS.index("montant_accorde") + 1).number_format == (
        "0.00"
    )


@pytest.mark.parametrize("typed", ["13h30", "13 h 30", "13:30", "13,5", "13.5"])
def test_planned_hours_are_typed_as_one_writes_them_and_shown_in_hours_and_minutes(
    client, auth, login_as, public_list, typed
) -> None:
    login_as(Role.FUNDER_ADMIN)  # a controller creates dossiers only for an OF followed
    response = post_new(auth, planned_hours=typed)
    assert response.status_code == 303
    dossier = db.session.scalars(select(Dossier)).one()
    assert dossier.planned_minutes == 810
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "13\u00a0h\u00a030" in page
    edit = client.get(f"/dossiers/{dossier.id}/modifier").get_data(as_text=True)
    assert 'value="13h30"' in edit


def test_unreadable_planned_hours_say_what_to_type(client, auth, login_as, public_list) -> None:
    login_as(Role.CONTROLLER)
    body = html.unescape(post_new(auth, planned_hours="treize heures").get_data(as_text=True))
    assert (
        "« treize heures » n'est pas une durée lisible : écrivez par exemple 13h30, 13:30 ou 13,5"
        in body
    )
    assert db.session.scalars(select(Dossier)).first() is None


def test_the_creation_day_exported_is_the_day_in_paris(client, login_as) -> None:
    user = login_as(Role.CONTROLLER)
    dossier = make_dossier(user.funder, ProviderFactory(), "NUIT-1")
    dossier.created_at = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # 00:30 on the 7th in Paris
    db.session.commit()
    text = client.get("/dossiers/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    row = dict(zip(EXPORT_COLUMNS, rows[1], strict=True))
    assert row["cree_le"] == "07/12/2026"
