"""The 360° page of an OF for a funder: its sections, each a count and a few rows leading
to the full list filtered on the OF; never another funder's data; bounded queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal import clock
from portal.extensions import db
from portal.models import (
    DocumentRequest,
    FunderProvider,
    Role,
    Signalement,
    SignalementState,
)
from portal.models.service_fait import RequestStatus
from tests.factories import DossierFactory, FunderFactory, ProviderFactory


def _page(client, provider) -> str:
    response = client.get(f"/organismes/{provider.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _request(dossier, due_in_days: int) -> DocumentRequest:
    row = DocumentRequest(
        dossier_id=dossier.id,
        funder_id=dossier.funder_id,
        due_date=clock.today() + timedelta(days=due_in_days),
        message="Pièces manquantes.",
        status=RequestStatus.OPEN.value,
    )
    db.session.add(row)
    db.session.commit()
    return row


def _follow(funder, provider) -> None:
    db.session.add(FunderProvider(funder_id=funder.id, provider_id=provider.id))
    db.session.commit()


def test_the_page_shows_each_section_with_its_count_and_its_full_list(client, login_as):
    user = login_as(Role.CONTROLLER)
    provider = ProviderFactory(name="Formations du Lac")
    first = DossierFactory(funder=user.funder, provider=provider, reference="LAC-0001")
    DossierFactory(funder=user.funder, provider=provider, reference="LAC-0002")
    _request(first, due_in_days=-3)
    db.session.add(
        Signalement(
            funder_id=user.funder_id,
            provider_id=provider.id,
            state=SignalementState.DRAFT.value,
            facts_what="Émargements signés d'avance",
        )
    )
    db.session.commit()

    page = _page(client, provider)

    assert "<h1>Formations du Lac</h1>" in page
    assert f"NDA</dt><dd>{provider.nda}" in page
    assert "LAC-0001" in page and "LAC-0002" in page
    assert 'Dossiers avec votre financeur <span class="of360-count">2</span>' in page
    assert f"/dossiers/?organisme={provider.nda}" in page
    assert f"/service-fait/?organisme={provider.nda}&amp;statut=tous" in page
    assert "Date limite dépassée : <strong>1</strong>" in page
    assert "(dépassée)" in page
    assert "Émargements signés d&#39;avance" in page
    assert f"/signalements/?organisme={provider.nda}" in page
    assert f"/qualite/?organisme={provider.id}" in page
    assert f"/sous-traitance/organismes/{provider.id}" in page
    # Without JavaScript: the page is whole, its sections reached by plain anchors.
    assert 'href="#dossiers"' in page and 'id="dossiers"' in page
    assert "hx-get" not in page.split("<main", 1)[-1].split("</main>", 1)[0]


def test_a_controller_sees_only_their_funders_data_about_the_of(client, login_as):
    provider = ProviderFactory(name="Organisme partagé")
    funder_a = FunderFactory(name="Financeur A")
    DossierFactory(funder=funder_a, provider=provider, reference="A-SECRET-1")
    secret = DossierFactory(funder=funder_a, provider=provider, reference="A-SECRET-2")
    _request(secret, due_in_days=-1)
    db.session.add(
        Signalement(
            funder_id=funder_a.id,
            provider_id=provider.id,
            state=SignalementState.DRAFT.value,
            facts_what="Faits du financeur A",
        )
    )
    db.session.commit()
    user = login_as(Role.CONTROLLER, funder=FunderFactory(name="Financeur B"))
    _follow(user.funder, provider)
    DossierFactory(funder=user.funder, provider=provider, reference="B-0001")

    page = _page(client, provider)

    assert "B-0001" in page
    assert "A-SECRET" not in page
    assert "Faits du financeur A" not in page
    assert 'Dossiers avec votre financeur <span class="of360-count">1</span>' in page
    assert 'Demandes de pièces <span class="of360-count">0</span>' in page
    assert 'Signalements au ministère <span class="of360-count">0</span>' in page


def test_an_of_the_funder_does_not_follow_is_not_found(client, login_as):
    login_as(Role.CONTROLLER)
    stranger = DossierFactory(funder=FunderFactory()).provider

    assert client.get(f"/organismes/{stranger.id}").status_code == 404


def test_the_of_s_own_users_and_the_ministry_do_not_reach_the_page(client, login_as):
    provider = ProviderFactory()
    login_as(Role.PROVIDER, provider=provider)

    assert client.get(f"/organismes/{provider.id}").status_code == 403


def test_the_page_is_linked_from_the_lists_the_dossier_and_the_search(client, login_as):
    user = login_as(Role.FUNDER_ADMIN)
    provider = ProviderFactory(name="Atelier Lumière")
    dossier = DossierFactory(funder=user.funder, provider=provider)
    link = f'href="/organismes/{provider.id}"'

    assert link in client.get("/dossiers/").get_data(as_text=True)
    assert link in client.get("/service-fait/?statut=tous").get_data(as_text=True)
    assert link in client.get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert link in client.get("/admin/organismes").get_data(as_text=True)
    assert link in client.get("/recherche/?q=Lumière").get_data(as_text=True)


def test_the_page_s_queries_do_not_grow_with_the_of_s_data(client, login_as, count_queries):
    user = login_as(Role.CONTROLLER)
    provider = ProviderFactory()
    dossier = DossierFactory(funder=user.funder, provider=provider)
    _request(dossier, due_in_days=2)
    _page(client, provider)  # the first visit creates nothing, but warms the session
    with count_queries() as few:
        _page(client, provider)

    for _ in range(12):
        more = DossierFactory(
            funder=user.funder, provider=provider, agreed_amount=Decimal("1000.00")
        )
        _request(more, due_in_days=-1)
        db.session.add(
            Signalement(
                funder_id=user.funder_id,
                provider_id=provider.id,
                state=SignalementState.DRAFT.value,
            )
        )
    db.session.commit()
    with count_queries() as many:
        page = _page(client, provider)

    assert 'Dossiers avec votre financeur <span class="of360-count">13</span>' in page
    assert "Voir les 13 dossiers" in page
    assert many.count == few.count
