"""What the funder's staff see: the OF their funder follows with their current certificate,
next deadline and any mismatch with the public list; their open dossiers whose OF's
certificate ends before the end of the training (or with none recorded); each OF's page;
nothing of an OF they do not follow; a fixed number of queries per page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Certificate, Funder, Provider, Role, User
from portal.public_list.importer import import_list
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory, ProviderFactory
from tests.public_list.lists import Org, write_list

INDEX = "/certification/"


def certificate(provider: Provider, start: date, end: date | None = None, **values) -> Certificate:
    row = Certificate(
        provider_id=provider.id,
        certifier_name=values.pop("certifier_name", "AFNOR Certification"),
        categories=values.pop("categories", "actions_formation"),
        start_date=start,
        end_date=end or start + relativedelta(years=3, days=-1),
        **values,
    )
    db.session.add(row)
    db.session.commit()
    return row


def of_row(page: str, name: str) -> str:
    section = re.search(r'<section id="organismes".*?</section>', page, re.S).group(0)
    return re.search(rf"{name}</a>.*?</tr>", section, re.S).group(0)


@dataclass
class World:
    funder: Funder
    controller: User
    ending: Provider  # certificate ends before its dossier's training
    missing: Provider  # no certificate recorded
    fine: Provider  # certificate valid beyond the training
    stranger: Provider  # not followed by the funder


GARONNE = Org("76311234567", "Atelier Formation Garonne", "81234567")
SUD = Org("76340987654", "Compétences du Sud", "79876543")


def _provider(org: Org) -> Provider:
    row = Provider(nda=org.nda, siren=org.siren, siret=org.siret, name=org.name)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def world(app, login_as) -> World:
    today = clock.today()
    funder = FunderFactory(name="Transitions Pro Occitanie")
    ending, fine = _provider(GARONNE), _provider(SUD)
    missing = ProviderFactory(name="Organisme sans certificat")
    stranger = ProviderFactory(name="Organisme non suivi")
    certificate(ending, today - relativedelta(years=3) + relativedelta(months=1))
    certificate(fine, today - relativedelta(months=3))
    certificate(stranger, today - relativedelta(years=3) + relativedelta(days=10))
    make_dossier(funder, ending, reference="D-FINIT-AVANT")
    make_dossier(funder, ending, reference="D-CLOS", status="clos")
    make_dossier(funder, missing, reference="D-SANS-CERT")
    make_dossier(funder, fine, reference="D-OK")
    make_dossier(FunderFactory(), stranger, reference="D-AUTRE-FINANCEUR")
    controller = login_as(Role.CONTROLLER, funder=funder)
    return World(funder, controller, ending, missing, fine, stranger)


def test_the_followed_ofs_with_their_certificate_and_next_deadline(client, world) -> None:
    page = client.get(INDEX).get_data(as_text=True)
    assert "Organismes suivis (3)" in page
    assert "Atelier Formation Garonne" in page
    assert "Compétences du Sud" in page
    assert "Organisme sans certificat" in page
    assert "Aucun certificat enregistré" in page
    assert "Organisme non suivi" not in page
    row = of_row(page, "Atelier Formation Garonne")
    # No surveillance audit recorded, its window closed long ago: overdue, said in words.
    assert "Audit de surveillance" in row
    assert "Dépassé" in row
    fine = of_row(page, "Compétences du Sud")
    assert "Audit de surveillance" in fine
    assert "À venir" in fine or "Bientôt" in fine


def test_dossiers_whose_training_ends_after_the_certificate(client, world) -> None:
    page = client.get(INDEX).get_data(as_text=True)
    section = re.search(r'<section id="dossiers-a-risque".*?</section>', page, re.S).group(0)
    assert "(2)" in section
    assert "D-FINIT-AVANT" in section
    assert "avant la fin de la formation" in section
    assert "D-SANS-CERT" in section
    assert "Aucun certificat enregistré par l&#39;organisme" in section
    for absent in ("D-OK", "D-CLOS", "D-AUTRE-FINANCEUR"):
        assert absent not in section
    # No certificate first.
    assert section.index("D-SANS-CERT") < section.index("D-FINIT-AVANT")


def test_a_renewed_certificate_clears_the_dossier(client, world) -> None:
    today = clock.today()
    certificate(world.ending, today - relativedelta(months=2))
    section = re.search(
        r'<section id="dossiers-a-risque".*?</section>',
        client.get(INDEX).get_data(as_text=True),
        re.S,
    ).group(0)
    assert "D-FINIT-AVANT" not in section


def test_a_mismatch_with_the_public_list_is_flagged(client, world, tmp_path: Path) -> None:
    path = write_list(tmp_path / "liste.csv", [GARONNE.but(formation=False, bilans=True), SUD])
    import_list(str(path), as_of=clock.today(), triggered_by="test")
    page = client.get(INDEX).get_data(as_text=True)
    garonne = of_row(page, "Atelier Formation Garonne")
    assert "Écart" in garonne
    assert "Actions de formation" in garonne
    sud = of_row(page, "Compétences du Sud")
    assert "Conforme" in sud


def test_the_page_of_an_of(client, world) -> None:
    page = client.get(f"/certification/organismes/{world.ending.id}").get_data(as_text=True)
    assert "Certification de Atelier Formation Garonne" in page
    assert "Échéances du certificat en cours" in page
    assert "D-FINIT-AVANT" in page
    assert "D-CLOS" not in page


def test_an_of_not_followed_is_not_found(client, world) -> None:
    response = client.get(f"/certification/organismes/{world.stranger.id}")
    assert response.status_code == 404
    other = db.session.scalars(
        select(Certificate).where(Certificate.provider_id == world.stranger.id)
    ).one()
    assert client.get(f"/certification/certificats/{other.id}/fichier").status_code == 404
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()


def test_funder_staff_cannot_record_a_certificate(client, world) -> None:
    assert client.get("/certification/certificats/nouveau").status_code == 403


def test_htmx_pager_returns_only_its_list(client, world) -> None:
    response = client.get(INDEX, headers={"HX-Request": "true", "HX-Target": "dossiers-a-risque"})
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="dossiers-a-risque"')
    assert "Organismes suivis" not in body


def test_the_dossier_list_is_paginated(client, world) -> None:
    for index in range(26):
        make_dossier(world.funder, world.missing, reference=f"D-PAGE-{index:02d}")
    first = client.get(INDEX).get_data(as_text=True)
    assert "Certificats qui finissent avant la fin de la formation (28)" in first
    assert "Page 1 sur 2" in first
    second = client.get(INDEX, query_string={"page_dossiers": "2"}).get_data(as_text=True)
    section = re.search(r'<section id="dossiers-a-risque".*?</section>', second, re.S).group(0)
    assert section.count("<tr>") == 1 + 3  # header + the last three rows
    assert "Page 2 sur 2" in section


def test_no_query_per_of_or_per_dossier(client, world, count_queries) -> None:
    client.get(INDEX)
    with count_queries() as few:
        assert client.get(INDEX).status_code == 200
    today = clock.today()
    for index in range(6):
        provider = ProviderFactory()
        certificate(provider, today - relativedelta(years=3) + relativedelta(days=20 + index))
        make_dossier(world.funder, provider)
        make_dossier(world.funder, ProviderFactory())
    with count_queries() as many:
        assert client.get(INDEX).status_code == 200
    assert many.count == few.count
