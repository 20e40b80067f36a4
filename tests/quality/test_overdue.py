"""The funders' list of non-conformities not lifted: only the reported controls their funder
takes part in, overdue first and highlighted, filters, pagination, no N+1."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

from flask import Flask

from portal import clock
from portal.extensions import db
from portal.quality import rules
from tests.quality.corrective_helpers import (
    HTMX,
    client_as,
    make_control,
    make_world,
    row,
    text_of,
)

PAGE = "/qualite/non-conformites"


def _rows(response) -> list[str]:
    """The table's body rows, as text."""
    html = response.get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", r)).split()) for r in body.split("</tr>")[:-1]
    ]


def test_overdue_first_and_highlighted(app: Flask) -> None:
    world = make_world()
    today = clock.today()
    recent = make_control(world, control_date=today - timedelta(days=10))
    old = make_control(world, control_date=today - timedelta(days=120))  # major overdue
    client, _ = client_as(app, world.controller)

    response = client.get(PAGE)

    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 6
    # The old control's major (3 months) is overdue, its minors (6 months) are not.
    assert "En retard" in rows[0]
    assert "Indicateur 4" in rows[0]
    assert all("En retard" not in r for r in rows[1:])
    deadline = rules.nc_deadline(old.control_date, "nc_majeure")
    assert deadline.strftime("%d/%m/%Y") in rows[0]
    # Then by deadline, nearest first.
    deadlines = [date.fromisoformat("-".join(reversed(r.split()[0].split("/")))) for r in rows]
    assert deadlines[1:] == sorted(deadlines[1:])
    assert rules.nc_deadline(recent.control_date, "nc_majeure") in deadlines
    html = response.get_data(as_text=True)
    assert html.count('class="nc-overdue"') == 1
    assert "dont 1 en retard" in text_of(response)
    assert f'href="/qualite/controles/{old.id}#nc-{row(old, "4").id}"' in html


def test_lifted_planned_and_foreign_nonconformities_are_not_listed(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    lifted = row(control, "2")
    lifted.nc_status = rules.NcStatus.LIFTED.value
    db.session.commit()
    make_control(world, status="planifie")
    client, _ = client_as(app, world.controller)

    rows = _rows(client.get(PAGE))

    assert len(rows) == 2
    assert not any("Indicateur 2 " in r for r in rows)


def test_partner_sees_them_a_reader_of_a_shared_control_does_not(app: Flask) -> None:
    world = make_world()
    make_control(world, shared=True)
    partner, _ = client_as(app, world.partner_controller)
    reader, _ = client_as(app, world.reader_controller)

    assert len(_rows(partner.get(PAGE))) == 3
    assert "Aucune non-conformité non levée" in text_of(reader.get(PAGE))


def test_provider_and_ministry_cannot_reach_the_list(app: Flask) -> None:
    world = make_world()
    client, _ = client_as(app, world.provider_user)
    assert client.get(PAGE).status_code == 403


def test_filters(app: Flask) -> None:
    world = make_world()
    today = clock.today()
    make_control(world, control_date=today - timedelta(days=120))
    control = make_control(world, control_date=today - timedelta(days=5))
    answered = row(control, "CR-A")
    answered.nc_status = rules.NcStatus.ANSWERED.value
    db.session.commit()
    client, _ = client_as(app, world.controller)

    assert len(_rows(client.get(PAGE, query_string={"niveau": "nc_majeure"}))) == 2
    assert len(_rows(client.get(PAGE, query_string={"retard": "1"}))) == 1
    only = _rows(client.get(PAGE, query_string={"statut": "reponse"}))
    assert len(only) == 1
    assert "Réponse de l'organisme à examiner" in only[0]
    none = client.get(PAGE, query_string={"organisme": str(world.provider.id + 999)})
    assert "Aucune non-conformité non levée" in text_of(none)


def test_htmx_returns_the_results_only(app: Flask) -> None:
    world = make_world()
    make_control(world)
    client, _ = client_as(app, world.controller)

    response = client.get(PAGE, query_string={"niveau": "nc_mineure"}, headers=HTMX)

    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="results" aria-live="polite"')
    assert "HX-Request" in response.headers["Vary"]
    assert len(_rows(response)) == 2


def test_no_n_plus_one(app: Flask, count_queries) -> None:
    world = make_world()
    make_control(world)
    client, _ = client_as(app, world.controller)
    client.get(PAGE)
    with count_queries() as one:
        client.get(PAGE)
    for _ in range(4):
        make_control(world)
    with count_queries() as five:
        response = client.get(PAGE)

    assert len(_rows(response)) == 15
    assert five.count == one.count
