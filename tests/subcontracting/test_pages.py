"""The subcontracting pages: the OF declares and changes its contracts with their files,
links its dossiers, sees what is missing and its gauge; the funder's staff see the OF they
follow, and nothing else."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    CpfTurnover,
    Document,
    Provider,
    Role,
    Subcontract,
)
from tests.dossiers.piece_helpers import make_dossier, stored_files
from tests.factories import FunderFactory, FunderProviderFactory, ProviderFactory
from tests.subcontracting.helpers import (
    PDF,
    PRINCIPAL,
    SUB,
    form_data,
    import_lists,
    make_contract,
    post_contract,
    provider_of,
)

NEW = "/sous-traitance/contrats/nouveau"


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def lists(app, tmp_path) -> None:
    import_lists(tmp_path, (date(2026, 1, 1), [PRINCIPAL, SUB]))


@pytest.fixture
def of_user(lists, login_as):
    """The principal OF's user, logged in."""
    return login_as(Role.PROVIDER, provider=provider_of(PRINCIPAL))


def declare(auth, **changes):
    return post_contract(auth, NEW, form_data(**changes), {"contract_file": ("contrat.pdf", PDF)})


# --- Declaring ------------------------------------------------------------------------------


def test_the_of_declares_a_contract_with_its_signed_file(app, client, auth, of_user) -> None:
    page = client.get(NEW).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'hx-get="/sous-traitance/sous-traitant"' in page
    before = stored_files(app)

    response = declare(auth)

    assert response.status_code == 303, response.get_data(as_text=True)
    contract = db.session.scalars(select(Subcontract)).one()
    assert response.headers["Location"] == f"/sous-traitance/contrats/{contract.id}"
    assert contract.principal_id == of_user.provider_id
    assert (contract.subcontractor_nda, contract.subcontractor_siret) == (SUB.nda, SUB.siret)
    assert contract.subcontractor_name == SUB.name  # from the public list
    assert contract.subcontractor is None  # not an OF of the portal: known by its NDA
    assert contract.price == Decimal("18000.00")
    assert contract.category_keys == ["actions_formation"]
    assert contract.contract_document.original_name == "contrat.pdf"
    assert stored_files(app) - before == {contract.contract_document.storage_key}
    (declared,) = events("subcontract.declared")
    assert declared.actor_id == of_user.id
    assert (declared.object_type, declared.object_id) == ("subcontracts", str(contract.id))
    assert declared.details["after"]["price"] == "18000.00"
    assert declared.details["documents"]["contrat signé"]["name"] == "contrat.pdf"
    assert events("provider.created") == []

    detail = client.get(f"/sous-traitance/contrats/{contract.id}").get_data(as_text=True)
    assert "Contrat conforme" in detail
    assert "Certifié Qualiopi pour « Actions de formation »" in detail


def test_field_errors_are_shown_at_their_field_and_nothing_is_stored(
    app, client, auth, of_user
) -> None:
    before = stored_files(app)
    response = declare(
        auth,
        subcontractor_nda="7634098765",
        subcontractor_siret="79876543400014",
        categories=None,
        start_date="2026-06-30",
        end_date="2026-01-15",
        whole_certification="y",
        yearly_amounts="2026 : 10 000",
        price="18 000,00",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "doit comporter 11 chiffres" in page
    assert "la clé de contrôle ne correspond pas" in page
    assert "Cochez au moins une catégorie d&#39;action." in page
    assert "La fin du contrat doit être égale ou postérieure à son début." in page
    assert "Indiquez le code RNCP ou RS" in page
    assert "les fichiers, eux, doivent être choisis de nouveau" in page
    assert 'value="Titre professionnel' in page or "Titre professionnel Développeur web" in page
    assert db.session.scalar(select(func.count(Subcontract.id))) == 0
    assert stored_files(app) == before


def test_amounts_per_year_must_add_up_to_the_price(client, auth, of_user) -> None:
    response = declare(auth, yearly_amounts="2026 : 10 000\n2026 : 8 000")
    assert "L&#39;année 2026 figure deux fois." in response.get_data(as_text=True)
    response = declare(auth, yearly_amounts="2026 : 10 000\n2027 : 8 000")
    assert "hors de la période du contrat : 2027" in response.get_data(as_text=True)
    response = declare(auth, yearly_amounts="2026 : 10 000")
    assert "totalisent 10000,00 €" in response.get_data(as_text=True)
    response = declare(auth, yearly_amounts="2026 ; 18 000,00")
    assert response.status_code == 303
    assert db.session.scalars(select(Subcontract)).one().amounts_by_year == {
        2026: Decimal("18000.00")
    }


def test_a_subcontractor_absent_from_the_list_needs_its_name_and_is_flagged(
    client, auth, of_user
) -> None:
    absent = {"subcontractor_nda": "76999999999", "subcontractor_siret": "73282932000074"}
    response = declare(auth, **absent)
    assert "ne figure pas dans la liste publique" in response.get_data(as_text=True)
    response = declare(auth, subcontractor_name="Jeanne Martin EI", **absent)
    assert response.status_code == 303
    contract = db.session.scalars(select(Subcontract)).one()
    assert contract.subcontractor is None
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Contrat non conforme" in detail
    assert "Le NDA 76999999999 ne figure dans aucune liste publique importée" in detail


def test_a_subcontractor_known_to_the_portal_is_tied_to_its_of(client, auth, of_user) -> None:
    sub = provider_of(SUB)
    declare(auth)
    assert db.session.scalars(select(Subcontract)).one().subcontractor_id == sub.id


def test_the_siret_must_belong_to_the_nda(client, auth, of_user) -> None:
    response = declare(auth, subcontractor_siret=PRINCIPAL.siret)
    assert "Ce SIRET n&#39;est pas celui d&#39;un établissement" in response.get_data(as_text=True)
    response = declare(auth, subcontractor_nda=PRINCIPAL.nda, subcontractor_siret=PRINCIPAL.siret)
    assert "ne peut pas être votre propre organisme" in response.get_data(as_text=True)


# --- Changing -------------------------------------------------------------------------------------


def _contract_id(response) -> int:
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_an_edit_is_audited_with_what_changed(client, auth, of_user) -> None:
    contract_id = _contract_id(declare(auth))
    path = f"/sous-traitance/contrats/{contract_id}/modifier"
    page = client.get(path).get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    assert "Fichier actuel : « contrat.pdf »" in page
    response = post_contract(
        auth, path, form_data(price="20 000,00", mentions_price=None, version="1"), {}
    )
    assert response.status_code == 303
    contract = db.session.get(Subcontract, contract_id)
    assert (contract.price, contract.mentions_price, contract.version) == (
        Decimal("20000.00"),
        False,
        2,
    )
    assert contract.contract_document.original_name == "contrat.pdf"  # kept
    (updated,) = events("subcontract.updated")
    assert updated.details["before"] == {"price": "18000.00", "mentions_price": True}
    assert updated.details["after"] == {"price": "20000.00", "mentions_price": False}
    # What is missing now shows in the OF's space.
    space = client.get("/sous-traitance/").get_data(as_text=True)
    assert "Ce qui manque" in space
    assert "Le contrat ne mentionne pas : le prix de la prestation." in space


def test_a_stale_edit_overwrites_nothing(client, auth, of_user) -> None:
    contract_id = _contract_id(declare(auth))
    path = f"/sous-traitance/contrats/{contract_id}/modifier"
    assert post_contract(auth, path, form_data(price="1,00", version="1"), {}).status_code == 303
    response = post_contract(auth, path, form_data(price="2,00", version="1"), {})
    assert response.status_code == 409
    assert "a été modifié entre-temps" in response.get_data(as_text=True)
    assert db.session.get(Subcontract, contract_id).price == Decimal("1.00")


def test_a_refused_upload_leaves_the_contract_as_it_was(app, client, auth, of_user) -> None:
    contract_id = _contract_id(declare(auth))
    path = f"/sous-traitance/contrats/{contract_id}/modifier"
    before_files = stored_files(app)
    before_events = db.session.scalar(select(func.count(AuditEvent.id)))
    fake = b"<!doctype html><title>pas un PDF</title>"

    response = post_contract(
        auth,
        path,
        form_data(price="99 999,00", authorisation_declared="y", version="1"),
        {"contract_file": ("nouveau.pdf", PDF), "authorisation_file": ("habilitation.pdf", fake)},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "« habilitation.pdf » : Seuls les fichiers PDF, JPEG et PNG sont acceptés" in page
    assert "Aucun fichier de cet envoi n&#39;a été enregistré" in page
    db.session.expire_all()
    contract = db.session.get(Subcontract, contract_id)
    assert (contract.price, contract.version, contract.authorisation_declared) == (
        Decimal("18000.00"),
        1,
        False,
    )
    assert contract.contract_document.original_name == "contrat.pdf"
    assert db.session.scalar(select(func.count(Document.id))) == 1
    assert stored_files(app) == before_files  # the good file of the same form is not kept
    (refused,) = events("subcontract.upload_refused")
    assert refused.object_id == str(contract_id)
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before_events + 1


def test_the_authorisation_document_completes_a_whole_certifying_action(
    client, auth, of_user
) -> None:
    changes = {"certification_code": "rncp 37674", "whole_certification": "y"}
    contract_id = _contract_id(declare(auth, **changes))
    detail = client.get(f"/sous-traitance/contrats/{contract_id}").get_data(as_text=True)
    assert "l&#39;habilitation du certificateur à former n&#39;est pas déclarée" in detail
    path = f"/sous-traitance/contrats/{contract_id}/modifier"
    response = post_contract(
        auth,
        path,
        form_data(authorisation_declared="y", version="1", **changes),
        {"authorisation_file": ("habilitation.pdf", PDF)},
    )
    assert response.status_code == 303
    detail = client.get(f"/sous-traitance/contrats/{contract_id}").get_data(as_text=True)
    assert "Contrat conforme" in detail
    assert "RNCP37674" in detail
    with client.get(f"/sous-traitance/contrats/{contract_id}/fichiers/habilitation") as download:
        assert download.status_code == 200
        assert download.data == PDF
        assert download.headers["Content-Disposition"].startswith("attachment")
    assert len(events("subcontract.document_downloaded")) == 1


# --- Inline look-up of the subcontractor ----------------------------------------------------------


def test_the_subcontractor_is_looked_up_as_it_is_typed(client, of_user) -> None:
    htmx = {"HX-Request": "true"}
    url = "/sous-traitance/sous-traitant"
    found = client.get(url, query_string={"subcontractor_nda": SUB.nda}, headers=htmx)
    page = found.get_data(as_text=True)
    assert "<html" not in page
    assert 'id="subcontractor-check"' in page
    assert SUB.name in page
    assert "Actions de formation : certifié" in page
    wrong = client.get(
        url,
        query_string={"subcontractor_nda": SUB.nda, "subcontractor_siret": PRINCIPAL.siret},
        headers=htmx,
    ).get_data(as_text=True)
    assert "Ce SIRET n&#39;est pas celui d&#39;un établissement de cet organisme" in wrong
    unknown = client.get(url, query_string={"subcontractor_nda": "76999999999"}).get_data(
        as_text=True
    )
    assert "ne figure pas dans la liste publique" in unknown
    bad = client.get(url, query_string={"subcontractor_nda": "12"}).get_data(as_text=True)
    assert "doit comporter 11 chiffres" in bad


# --- The OF's space and its gauge -------------------------------------------------------------


def test_the_of_space_shows_its_contracts_and_its_gauge(client, of_user) -> None:
    principal = db.session.get(Provider, of_user.provider_id)
    make_contract(principal, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
    db.session.add(CpfTurnover(provider_id=principal.id, year=2026, amount=Decimal("24000.00")))
    db.session.commit()
    page = client.get("/sous-traitance/").get_data(as_text=True)
    assert "<h1>Ma sous-traitance</h1>" in page
    assert "Contrat avec Atelier des Compétences du Sud" in page
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", page, re.S).group(0)
    assert "<title" in svg and "Plafond de sous-traitance CPF 2026" in svg
    assert "pattern" in svg and "url(#jauge-2026-hachures)" in svg
    assert "plafond 80 %" in svg and "alerte 70 %" in svg
    # 18,000 € on 24,000 €: 75 %, in words as well as drawn.
    assert "à date : 75,0\u00a0%" in svg
    assert "2026 : Alerte</strong>" in page
    assert "style=" not in svg  # the CSP forbids inline styles


# --- Dossiers covered by a contract -----------------------------------------------------------


def test_the_of_links_its_subcontracted_dossiers(client, auth, of_user, login_as) -> None:
    principal = db.session.get(Provider, of_user.provider_id)
    funder, other_funder = FunderFactory(), FunderFactory()
    contract = make_contract(principal)
    period = {"start_date": date(2026, 2, 1), "end_date": date(2026, 5, 31)}
    mine = make_dossier(funder, principal, subcontracted=True, **period)
    other = make_dossier(other_funder, principal, subcontracted=True, **period)
    not_subcontracted = make_dossier(funder, principal, **period)
    path = f"/sous-traitance/contrats/{contract.id}"
    page = client.get(path).get_data(as_text=True)
    assert f'value="{mine.id}"' in page and f'value="{other.id}"' in page
    assert f'value="{not_subcontracted.id}"' not in page

    response = auth.post(
        f"{path}/dossiers", {"dossiers": [str(mine.id), str(other.id)]}, token_from=path
    )

    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(type(mine), mine.id).subcontract_id == contract.id
    linked = events("dossier.subcontract_linked")
    assert {(e.object_id, e.funder_id) for e in linked} == {
        (str(mine.id), funder.id),
        (str(other.id), other_funder.id),
    }
    assert db.session.get(type(mine), mine.id).version == 1  # a funder's open form stays valid
    # Unticking unlinks.
    auth.post(f"{path}/dossiers", {"dossiers": [str(mine.id)]}, token_from=path)
    db.session.expire_all()
    assert db.session.get(type(other), other.id).subcontract_id is None
    assert len(events("dossier.subcontract_unlinked")) == 1

    # The funder's controller sees its own dossier on the contract, not the other funder's.
    auth.logout()
    login_as(Role.CONTROLLER, funder=funder)
    page = client.get(path).get_data(as_text=True)
    assert mine.reference in page or f"/dossiers/{mine.id}" in page
    assert f"/dossiers/{other.id}" not in page
    assert 'name="dossiers"' not in page


# --- Access ------------------------------------------------------------------------------------


@pytest.fixture
def two_ofs(lists):
    """The principal's contract, its funder (with a dossier the contract covers: same
    category, a period that meets it), another funder and another OF."""
    principal = provider_of(PRINCIPAL)
    funder = FunderFactory()
    FunderProviderFactory(funder=funder, provider=principal)
    contract = make_contract(principal)
    make_dossier(
        funder,
        principal,
        category="actions_formation",
        start_date=date(2026, 2, 2),
        end_date=date(2026, 5, 29),
    )
    return contract, funder, FunderFactory(), ProviderFactory()


def test_another_of_never_sees_the_contract(client, login_as, two_ofs) -> None:
    contract, _funder, _other_funder, other_of = two_ofs
    user = login_as(Role.PROVIDER, provider=other_of)
    base = f"/sous-traitance/contrats/{contract.id}"
    for path in (base, f"{base}/modifier", f"{base}/fichiers/contrat"):
        assert client.get(path).status_code == 404, path
    denied = events("access.denied")
    assert {e.details["reason"] for e in denied} == {"sous-traitance hors périmètre"}
    assert all(e.actor_id == user.id for e in denied)
    assert "Atelier" not in client.get("/sous-traitance/").get_data(as_text=True)
    export = client.get("/sous-traitance/export/contrats.csv").get_data(as_text=True)
    assert SUB.nda not in export


def test_the_funders_staff_see_only_the_of_they_follow(client, login_as, two_ofs) -> None:
    contract, _funder, other_funder, _other_of = two_ofs
    login_as(Role.CONTROLLER, funder=other_funder)
    assert client.get(f"/sous-traitance/contrats/{contract.id}").status_code == 404
    assert client.get(f"/sous-traitance/organismes/{contract.principal_id}").status_code == 404
    assert PRINCIPAL.name not in client.get("/sous-traitance/?tous=1").get_data(as_text=True)
    assert {e.details["reason"] for e in events("access.denied")} == {
        "sous-traitance hors périmètre",
        "organisme hors périmètre",
    }


def test_the_controller_sees_the_compliance_of_the_of_it_follows(
    client, auth, login_as, two_ofs
) -> None:
    contract, funder, _other_funder, _other_of = two_ofs
    login_as(Role.CONTROLLER, funder=funder)
    # Compliant, and no CPF turnover yet: the ceiling cannot be verified, so the OF is listed.
    index = client.get("/sous-traitance/").get_data(as_text=True)
    assert "Organismes à surveiller (1)" in index
    assert PRINCIPAL.name in index
    assert "2026 : Non vérifiable" in index
    provider_page = client.get(f"/sous-traitance/organismes/{contract.principal_id}")
    page = provider_page.get_data(as_text=True)
    assert provider_page.status_code == 200
    assert "Contrat avec Atelier des Compétences du Sud" in page
    assert "Conforme" in page
    assert "Chiffre d&#39;affaires CPF de l&#39;année 2026 non renseigné" in page
    detail = client.get(f"/sous-traitance/contrats/{contract.id}")
    assert detail.status_code == 200
    assert "Contrat conforme" in detail.get_data(as_text=True)
    with client.get(f"/sous-traitance/contrats/{contract.id}/fichiers/contrat") as download:
        assert download.status_code == 200
        assert download.data == PDF
        assert download.headers["Cache-Control"] == "no-store"
    # Their role changes nothing.
    assert client.get(f"/sous-traitance/contrats/{contract.id}/modifier").status_code == 403
    assert auth.post(f"/sous-traitance/contrats/{contract.id}/dossiers", {}).status_code == 403
    # With a turnover and the ceiling well below the warning rate, the OF is no longer listed.
    db.session.add(
        CpfTurnover(provider_id=contract.principal_id, year=2026, amount=Decimal("90000"))
    )
    db.session.commit()
    fragment = client.get("/sous-traitance/", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="results"' in text
    assert "Organismes à surveiller (0)" in text
    assert "HX-Request" in fragment.headers["Vary"]
    everything = client.get("/sous-traitance/?tous=1").get_data(as_text=True)
    assert "Organismes avec de la sous-traitance (1)" in everything
    assert "2026 : Conforme" in everything
    for q, count in (("formapro", 1), (PRINCIPAL.nda, 1), (PRINCIPAL.siret, 1), ("zzz", 0)):
        page = client.get("/sous-traitance/", query_string={"tous": "1", "q": q})
        assert f"Organismes avec de la sous-traitance ({count})" in page.get_data(as_text=True)


def test_a_non_compliant_contract_lists_the_of_with_what_fails(client, login_as, two_ofs) -> None:
    contract, funder, _other_funder, _other_of = two_ofs
    contract.dereferenced = True
    db.session.add(
        CpfTurnover(provider_id=contract.principal_id, year=2026, amount=Decimal("90000"))
    )
    db.session.commit()
    login_as(Role.FUNDER_ADMIN, funder=funder)
    index = client.get("/sous-traitance/").get_data(as_text=True)
    assert "1 non conforme" in index
    page = client.get(f"/sous-traitance/organismes/{contract.principal_id}").get_data(as_text=True)
    assert "Le sous-traitant est déréférencé de Mon Compte Formation" in page


def test_the_funder_list_and_an_of_page_take_the_same_queries_for_more_contracts(
    client, login_as, two_ofs, count_queries
) -> None:
    contract, funder, _other_funder, _other_of = two_ofs
    login_as(Role.CONTROLLER, funder=funder)
    provider_page = f"/sous-traitance/organismes/{contract.principal_id}"
    with count_queries() as few_list:
        assert client.get("/sous-traitance/?tous=1").status_code == 200
    with count_queries() as few_page:
        assert client.get(provider_page).status_code == 200
    principal = db.session.get(Provider, contract.principal_id)
    for _ in range(4):
        make_contract(principal, yearly={2026: Decimal("18000.00")})
        other = ProviderFactory()
        FunderProviderFactory(funder=funder, provider=other)
        make_contract(other, start_date=date(2025, 3, 1))
        db.session.add(CpfTurnover(provider_id=other.id, year=2025, amount=Decimal("1000")))
    db.session.commit()
    with count_queries() as many_list:
        page = client.get("/sous-traitance/?tous=1").get_data(as_text=True)
    with count_queries() as many_page:
        assert client.get(provider_page).status_code == 200
    assert "Organismes avec de la sous-traitance (5)" in page
    assert many_list.count == few_list.count
    assert many_page.count == few_page.count
