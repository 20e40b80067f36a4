"""The Qualiopi pages: look-up with active search, OF page, imports, alerts."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Role
from portal.public_list.importer import import_list
from tests.public_list.lists import BILANS, CARAIBES, GARONNE, PLUS_LYON, PLUS_PARIS, write_list

TODAY = date.today()


def _lists(tmp_path, first=None, second=None):
    first_day = TODAY - timedelta(days=10)
    import_list(
        str(write_list(tmp_path / "1.csv", first or [GARONNE, CARAIBES, BILANS, PLUS_PARIS])),
        as_of=first_day,
    )
    if second is not None:
        return import_list(str(write_list(tmp_path / "2.csv", second)), as_of=TODAY)
    return None


def test_lookup_by_identifier_shows_the_status_per_category(client, login_as, tmp_path):
    _lists(tmp_path, second=[GARONNE, CARAIBES, BILANS, PLUS_PARIS, PLUS_LYON])
    login_as(Role.CONTROLLER)
    page = client.get(f"/qualiopi/?q={CARAIBES.nda}").get_data(as_text=True)
    assert "Caraïbes Compétences" in page
    assert "Certifié Qualiopi" in page
    assert "Validation des acquis de l&#39;expérience : oui" in page
    assert "Actions de formation par apprentissage : non" in page
    assert f"celle du <strong>{TODAY:%d/%m/%Y}</strong>" in page
    assert "plus de 3 jours" not in page


def test_active_search_by_name_returns_a_fragment(client, login_as, tmp_path):
    _lists(tmp_path, second=[GARONNE, CARAIBES, BILANS, PLUS_PARIS, PLUS_LYON])
    login_as(Role.MINISTRY)
    response = client.get("/qualiopi/?q=competences", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'id="results"' in fragment
    assert "Caraïbes Compétences" in fragment and "Compétences Plus Lyon" in fragment
    assert "Atelier Formation Garonne" not in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_a_past_date_answers_with_the_list_of_that_date(client, login_as, tmp_path):
    _lists(tmp_path, second=[GARONNE.but(formation=False), CARAIBES, BILANS, PLUS_PARIS])
    login_as(Role.CONTROLLER)
    today = client.get(f"/qualiopi/?q={GARONNE.siret}").get_data(as_text=True)
    assert "Non certifié" in today
    before = TODAY - timedelta(days=5)
    past = client.get(f"/qualiopi/?q={GARONNE.siret}&on={before.isoformat()}").get_data(
        as_text=True
    )
    assert "Certifié Qualiopi" in past
    assert f"celle du <strong>{TODAY - timedelta(days=10):%d/%m/%Y}</strong>" in past


def test_an_old_list_is_flagged(client, login_as, tmp_path):
    _lists(tmp_path)  # ten days old
    login_as(Role.CONTROLLER)
    page = client.get("/qualiopi/").get_data(as_text=True)
    assert "date de plus de 3 jours" in page


def test_a_bad_checksum_is_explained(client, login_as, tmp_path):
    _lists(tmp_path)
    login_as(Role.CONTROLLER)
    page = client.get("/qualiopi/?q=81234567600018").get_data(as_text=True)
    assert "la clé de contrôle ne correspond pas" in page


def test_provider_page_shows_the_timeline_and_changes(client, login_as, tmp_path):
    _lists(tmp_path, second=[GARONNE.but(formation=False, vae=True), CARAIBES, BILANS, PLUS_PARIS])
    login_as(Role.FUNDER_ADMIN)
    page = client.get(f"/qualiopi/organismes/{GARONNE.nda}").get_data(as_text=True)
    first_day = TODAY - timedelta(days=10)
    assert (
        f"<strong>Actions de formation</strong> : certifié du {first_day:%d/%m/%Y}\n"
        f"      au {TODAY:%d/%m/%Y} (exclu)"
    ) in page
    assert "Catégorie perdue" in page and "Catégorie obtenue" in page
    assert client.get("/qualiopi/organismes/00000000000").status_code == 404


def test_imports_are_visible_to_funder_admins_not_controllers(client, login_as, tmp_path):
    _lists(tmp_path, second=[GARONNE, CARAIBES, PLUS_PARIS])
    login_as(Role.FUNDER_ADMIN)
    page = client.get("/qualiopi/imports").get_data(as_text=True)
    assert "importée" in page and "test" not in page.lower().split("<tbody>")[0]
    from portal.models import ListImport

    run = db.session.scalars(select(ListImport).order_by(ListImport.id.desc())).first()
    detail = client.get(f"/qualiopi/imports/{run.id}").get_data(as_text=True)
    assert "Sortie de la liste" in detail and BILANS.nda in detail
    filtered = client.get(f"/qualiopi/imports/{run.id}?type=added").get_data(as_text=True)
    assert BILANS.nda not in filtered.split('id="changes"')[1]


def test_controllers_cannot_see_imports(client, login_as):
    login_as(Role.CONTROLLER)
    assert client.get("/qualiopi/imports").status_code == 403
