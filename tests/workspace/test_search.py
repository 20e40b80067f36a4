"""The header's search for the funder's staff: dossiers by reference or beneficiary, the
OF the funder follows by name, SIRET or NDA, grouped by kind; never another funder's."""

from __future__ import annotations

from portal.models import Role
from tests.factories import DossierFactory, FunderFactory, ProviderFactory


def test_a_controller_finds_a_dossier_by_reference_or_beneficiary(client, login_as):
    user = login_as(Role.CONTROLLER)
    DossierFactory(funder=user.funder, reference="PTP-2026-0042", beneficiary_last_name="Martin")
    DossierFactory(
        funder=FunderFactory(), reference="PTP-2026-0043", beneficiary_last_name="Martin"
    )

    by_reference = client.get("/recherche/?q=ptp-2026").get_data(as_text=True)
    by_name = client.get("/recherche/?q=paul+martin").get_data(as_text=True)

    for page in (by_reference, by_name):
        assert "Dossiers (1)" in page
        assert "PTP-2026-0042" in page
        assert "PTP-2026-0043" not in page  # another funder's dossier


def test_the_of_of_the_funder_by_name_siret_or_nda(client, login_as):
    user = login_as(Role.FUNDER_ADMIN)
    followed = ProviderFactory(name="Formations du Lauragais")
    DossierFactory(funder=user.funder, provider=followed)
    stranger = ProviderFactory(name="Formations de Gascogne")
    DossierFactory(funder=FunderFactory(), provider=stranger)

    for query in (
        "lauragais",
        followed.siret,
        followed.nda,
        f"{followed.nda[:2]} {followed.nda[2:]}",
    ):
        page = client.get("/recherche/", query_string={"q": query}).get_data(as_text=True)
        assert "Organismes suivis par votre financeur (1)" in page, query
        assert "Formations du Lauragais" in page
    page = client.get("/recherche/?q=formations").get_data(as_text=True)
    assert "Formations de Gascogne" not in page


def test_the_preview_is_a_fragment_and_the_page_works_without_javascript(client, login_as):
    user = login_as(Role.CONTROLLER)
    DossierFactory(funder=user.funder, reference="PTP-2026-0042")

    preview = client.get("/recherche/apercu?q=0042", headers={"HX-Request": "true"})
    page = client.get("/recherche/?q=0042")
    fragment = client.get("/recherche/?q=0042", headers={"HX-Request": "true"})

    assert "<html" not in preview.get_data(as_text=True)
    assert "PTP-2026-0042" in preview.get_data(as_text=True)
    assert "Tous les résultats" in preview.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True) and "PTP-2026-0042" in page.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert 'id="results"' in fragment.get_data(as_text=True)


def test_a_short_query_asks_for_more(client, login_as):
    login_as(Role.CONTROLLER)

    page = client.get("/recherche/?q=a").get_data(as_text=True)

    assert "Tapez au moins deux caractères." in page


def test_only_the_funder_staff_search(client, login_as):
    for role in (Role.PROVIDER, Role.MINISTRY, Role.ADMIN):
        login_as(role)
        assert client.get("/recherche/?q=demo").status_code == 403
        assert 'role="search" aria-label="Recherche dans le portail"' not in client.get(
            "/"
        ).get_data(as_text=True)
    login_as(Role.CONTROLLER)
    assert 'aria-label="Recherche dans le portail"' in client.get("/").get_data(as_text=True)
