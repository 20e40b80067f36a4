"""The demo shows the history of the public list: a list a week over three months, a few
OF losing or gaining a category on given weeks, the alerts they raised, on a fresh install."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import ListImport, Provider, QualiopiAlert, Role, User
from portal.public_list.demo import WEEKS, weekly_lists
from tests.support.auth import log_in

DEMO_LIST = resources.files("portal.data").joinpath("liste_publique_demo.csv")
TODAY = date(2026, 12, 7)


def _row(text: str, nda: str) -> list[str] | None:
    for line in text.splitlines():
        if line.startswith(nda + ";"):
            return line.split(";")
    return None


def _lists() -> dict[int, str]:
    text = DEMO_LIST.read_text(encoding="utf-8")
    return {(TODAY - day).days // 7: body for day, body in weekly_lists(text, TODAY)}


def test_there_is_a_list_each_week_and_today_s_is_the_demo_list() -> None:
    lists = _lists()
    assert sorted(lists) == list(range(WEEKS + 1))
    today = DEMO_LIST.read_text(encoding="utf-8")
    assert lists[0].splitlines() == today.splitlines()


# (NDA, column index: 9 training, 10 bilans, 11 VAE, 12 apprenticeship; week; value)
@pytest.mark.parametrize(
    ("nda", "column", "week", "held"),
    [
        ("76311234567", 12, 12, "false"),  # Formapro gains apprenticeship ten weeks ago
        ("76311234567", 12, 10, "true"),
        ("76340987654", 11, 4, "true"),  # Atelier loses the VAE three weeks ago…
        ("76340987654", 11, 3, "false"),
        ("76340987654", 11, 2, "false"),
        ("76340987654", 11, 1, "true"),  # … and gets it back last week
        ("76310555123", 11, 7, "true"),  # Bilans & Parcours loses the VAE six weeks ago
        ("76310555123", 11, 6, "false"),
        ("76320000011", 9, 10, "true"),  # Compétences Pyrénées loses training actions
        ("76320000011", 9, 9, "false"),
    ],
)
def test_the_scenario_changes_categories_on_given_weeks(nda, column, week, held) -> None:
    assert _row(_lists()[week], nda)[column] == held


def test_an_of_leaves_the_list_for_three_weeks() -> None:
    lists = _lists()
    present = [week for week in range(WEEKS, -1, -1) if _row(lists[week], "76341112223")]
    assert present == [12, 11, 10, 9, 8, 7, 6, 2, 1, 0]


def test_the_seed_imports_the_weeks_and_raises_the_alert_of_the_past(app, runner, client):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output

    runs = db.session.scalars(select(ListImport).order_by(ListImport.as_of)).all()
    assert len(runs) == WEEKS + 1
    assert runs[0].as_of == clock.today() - timedelta(weeks=WEEKS)
    alert = db.session.scalar(select(QualiopiAlert))
    assert alert.lost == ["vae"]
    assert alert.list_as_of == clock.today() - timedelta(weeks=3)
    assert [d.category for d in alert.dossiers] == ["vae"]
    # Seeding again creates nothing more.
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert db.session.scalar(select(func.count(ListImport.id))) == WEEKS + 1
    assert db.session.scalar(select(func.count(QualiopiAlert.id))) == 1

    # The controller sees the timeline on the OF's 360° page, with past dates.
    controller = db.session.scalar(select(User).where(User.role == Role.CONTROLLER.value))
    atelier = db.session.scalar(select(Provider).where(Provider.nda == "76340987654"))
    log_in(client, controller)
    page = client.get(f"/organismes/{atelier.id}").get_data(as_text=True)
    lost_on = clock.today() - timedelta(weeks=3)
    assert f"au {lost_on:%d/%m/%Y} (exclu)" in page
    assert "1 alerte Qualiopi, dont 1 non vue" in page
