"""Planning a quality control: the form, the grid built from the profile of the actions,
changing the plan (rows added and removed, never one with a finding; deadlines moved with
the date), the list of controls with its filters and counts, without N+1."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, QualityControl
from tests.quality.helpers import (
    client_as,
    fill_all,
    make_world,
    plan,
    plan_form,
    row_of,
    set_finding,
)

ALWAYS = 32 - 10  # without the 10 indicators of particular actions (12 applies)


def test_plan_page_offers_only_the_followed_providers(app) -> None:
    world = make_world()
    client, _ = client_as(app, world.controller)
    page = client.get("/qualite/nouveau").get_data(as_text=True)
    assert "Formation Témoin" in page
    assert "Autre Organisme" not in page  # followed by another funder only
    assert "Région Partenaire" in page  # may be a partner of a joint control


def test_provider_preselected_shows_its_dossiers_and_htmx_swaps_them(app) -> None:
    world = make_world()
    client, _ = client_as(app, world.controller)
    page = client.get(f"/qualite/nouveau?provider={world.provider.id}").get_data(as_text=True)
    assert world.dossier.reference in page and world.second_dossier.reference in page
    assert world.follower_dossier.reference not in page  # another funder's dossier
    fragment = client.get(
        f"/qualite/nouveau?provider={world.provider.id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" not in fragment and 'id="echantillon"' in fragment
    assert world.dossier.reference in fragment
    # An OF the funder does not follow: 404.
    assert client.get(f"/qualite/nouveau?provider={world.other_provider.id}").status_code == 404


def test_planning_builds_the_grid_of_the_applicable_indicators(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    codes = [f.code for f in control.findings]
    assert codes[:3] == ["1", "2", "4"]  # 3 only for certifying actions
    assert "12" in codes and "13" not in codes and "27" not in codes
    assert len(codes) == ALWAYS
    assert [f.position for f in control.findings] == list(range(len(codes)))
    assert control.funder_id == world.funder.id and control.created_by_id == world.controller.id
    assert [d.id for d in control.dossiers] == [world.dossier.id]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_control.created")
    ).one()
    assert event.object_id == str(control.id) and event.details["codes"] == codes


def test_profile_flags_and_certif_region(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(
        auth,
        world,
        certifying="y",
        apprenticeship="y",
        short_only="y",
        certif_region="y",
        partners=[str(world.partner.id)],
    )
    codes = [f.code for f in control.findings]
    assert {"3", "7", "16", "13", "14", "15", "20", "29"} <= set(codes)
    assert "12" not in codes  # every action lasts 2 days or less
    assert codes[-12:] == [f"CR-{letter}" for letter in "ABCDEFGHIJKL"]
    assert [p.funder_id for p in control.partners] == [world.partner.id]


def test_refusals_are_in_french_and_create_nothing(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    response = auth.post(
        "/qualite/nouveau",
        plan_form(
            world,
            control_date="",
            scope_actions="",
            dossiers=[str(world.follower_dossier.id)],
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Indiquez la date du contrôle." in page
    assert "Décrivez les actions contrôlées" in page
    response = auth.post(
        "/qualite/nouveau",
        plan_form(world, dossiers=[str(world.follower_dossier.id)]),
    )
    assert "Seuls les dossiers de votre financeur avec cet organisme" in response.get_data(
        as_text=True
    )
    response = auth.post(
        "/qualite/nouveau", plan_form(world, provider=str(world.other_provider.id))
    )
    assert "Choisissez un organisme que votre financeur suit." in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(QualityControl.id))) == 0


def test_changing_the_profile_adds_and_removes_rows_without_finding(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    set_finding(auth, control, "1", "conforme")
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, certifying="y", version=str(control.version)),
    )
    assert response.status_code == 303
    codes = [f.code for f in row_of(control, "1").control.findings]
    assert codes[:4] == ["1", "2", "3", "4"] and "7" in codes and "16" in codes
    assert row_of(control, "1").finding == "conforme"  # kept
    # Back again: 3, 7 and 16 have no finding, they go.
    db.session.refresh(control)
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, version=str(control.version)),
    )
    assert response.status_code == 303
    db.session.refresh(control)
    assert "3" not in [f.code for f in control.findings]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quality_control.updated")
    ).all()[-1]
    assert event.details["codes_removed"] == ["3", "7", "16"]


def test_a_row_with_a_finding_is_never_dropped(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world, certifying="y")
    set_finding(auth, control, "3", "conforme")
    db.session.refresh(control)
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, version=str(control.version)),  # certifying unticked
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "déjà un constat" in page and "Indicateur 3" in page
    db.session.refresh(control)
    assert control.certifying is True and "3" in [f.code for f in control.findings]


def test_a_new_control_date_moves_the_deadlines(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    set_finding(auth, control, "2", "nc_mineure", observations="Indicateurs non publiés")
    assert row_of(control, "2").deadline == date(2027, 2, 28)  # 31 August + 6 months
    db.session.refresh(control)
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, control_date="2026-09-15", version=str(control.version)),
    )
    assert response.status_code == 303
    assert row_of(control, "2").deadline == date(2027, 3, 15)


def test_a_stale_plan_form_changes_nothing(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    old_version = control.version
    assert (
        auth.post(
            f"/qualite/controles/{control.id}/modifier",
            plan_form(world, participants="Première version", version=str(old_version)),
        ).status_code
        == 303
    )
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, participants="Seconde fenêtre", version=str(old_version)),
    )
    assert response.status_code == 409
    assert "modifié entre-temps" in response.get_data(as_text=True)
    db.session.refresh(control)
    assert control.participants == "Première version"


def test_the_plan_is_fixed_once_reported(app, outbox) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    fill_all(control)
    assert (
        auth.post(
            f"/qualite/controles/{control.id}/rapport/emettre",
            {"version": str(control.version), "confirme": "oui"},
        ).status_code
        == 303
    )
    db.session.refresh(control)
    response = auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, participants="Trop tard", version=str(control.version)),
    )
    assert "le rapport de ce contrôle est émis" in response.get_data(as_text=True).lower()
    db.session.refresh(control)
    assert control.participants != "Trop tard"


def test_index_lists_marks_filters_and_counts_overdue(app, count_queries) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    led = plan(auth, world, control_date="2025-01-10")
    fill_all(led, **{"2": "nc_mineure", "4": "nc_majeure"})  # deadlines in 2025: overdue
    # The partner funder does not follow the OF: it takes part only through the lead.
    plan(auth, world, partners=[str(world.partner.id)], control_date="2026-09-01")
    client, _ = client_as(app, world.controller)
    page = client.get("/qualite/").get_data(as_text=True)
    assert "2 contrôles." in page
    assert "Pilote" in page and "2 en retard" in page
    partner_client, _ = client_as(app, world.partner_controller)
    page = partner_client.get("/qualite/").get_data(as_text=True)
    assert "1 contrôle." in page and "Partenaire (contrôle conjoint)" in page
    page = client.get("/qualite/?statut=rapport").get_data(as_text=True)
    assert "0 contrôle." in page
    fragment = client.get(
        f"/qualite/?organisme={world.provider.id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" not in fragment and "2 contrôles." in fragment
    # No N+1: as many statements for 2 controls as for 12.
    with count_queries() as few:
        client.get("/qualite/")
    for day in range(10):
        plan(auth, world, partners=[str(world.partner.id)], control_date=f"2026-10-{day + 1:02d}")
    with count_queries() as many:
        page = client.get("/qualite/").get_data(as_text=True)
    assert "12 contrôles." in page
    assert many.count == few.count


def test_provider_is_shown_its_own_space(app) -> None:
    world = make_world()
    client, _ = client_as(app, world.provider_user)
    response = client.get("/qualite/")
    assert response.status_code == 200
    assert "Planifier un contrôle" not in response.get_data(as_text=True)


def test_without_javascript_the_dossiers_of_the_chosen_provider_are_shown(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    response = auth.post(
        "/qualite/nouveau",
        {"provider": str(world.provider.id), "action": "dossiers", "scope_actions": "Session"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert world.second_dossier.reference in page and "Session</textarea>" in page
    assert db.session.scalar(select(db.func.count(QualityControl.id))) == 0
