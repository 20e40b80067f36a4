"""Isolation of the quality controls between funders, unless shared (pooled controls):
another funder gets 404 on every address; a funder following the OF reads a shared control
and gets 403 on every change; a partner funder fills the grid; the OF sees nothing before
the report, then its own controls only, read only. Refusals are audited."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.quality.helpers import (
    client_as,
    fill_all,
    make_pdf,
    make_world,
    plan,
    plan_form,
    row_of,
    set_finding,
    upload,
)


def _urls(control, evidence_id: int) -> tuple[list[str], list[tuple[str, dict]]]:
    base = f"/qualite/controles/{control.id}"
    pages = [
        base,
        f"{base}/rapport",
        f"{base}/rapport.zip",
        f"{base}/preuves/{evidence_id}",
        f"{base}/modifier",
    ]
    changes = [
        (f"{base}/indicateurs/1", {"ind1-finding": "nc_mineure"}),
        (f"{base}/indicateurs/1/fichiers", {}),
        (f"{base}/indicateurs/1/pieces", {"pc1-pieces": ["1"]}),
        (f"{base}/preuves/{evidence_id}/retirer", {}),
        (f"{base}/rapport/emettre", {"version": str(control.version), "confirme": "oui"}),
        (f"{base}/partage", {"version": str(control.version)}),
        (f"{base}/modifier", plan_form_data(control)),
    ]
    return pages, changes


def plan_form_data(control) -> dict:
    return {
        "mode": "a_distance",
        "control_date": "2026-09-01",
        "scope_actions": "Changé",
        "version": str(control.version),
    }


def _setup(app, *, shared: bool):
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world, shared="y" if shared else None)
    upload(auth, control, "1", ("preuve.pdf", make_pdf("Preuve")))
    (evidence,) = row_of(control, "1").evidence
    return world, control, evidence


def _assert_unchanged(control, evidence_id: int) -> None:
    db.session.expire_all()
    row = row_of(control, "1")
    assert row.finding is None and [e.id for e in row.evidence] == [evidence_id]
    assert control.status == "planifie" and control.scope_actions != "Changé"


def test_a_funder_not_taking_part_gets_404_everywhere(app) -> None:
    world, control, evidence = _setup(app, shared=False)
    for user in (world.stranger_controller, world.follower_controller):
        client, auth = client_as(app, user)
        pages, changes = _urls(control, evidence.id)
        for url in pages:
            assert client.get(url).status_code == 404, url
        for url, data in changes:
            assert auth.post(url, data).status_code == 404, url
        assert "<p>0 contrôle.</p>" in client.get("/qualite/").get_data(as_text=True)
    _assert_unchanged(control, evidence.id)
    denied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).all()
    assert any(e.details.get("control_id") == control.id for e in denied)


def test_a_shared_control_is_read_only_for_the_other_funders_of_the_of(app) -> None:
    world, control, evidence = _setup(app, shared=True)
    client, auth = client_as(app, world.follower_controller)
    pages, changes = _urls(control, evidence.id)
    for url in pages[:-1]:
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
    page = client.get(pages[0]).get_data(as_text=True)
    assert "vous le consultez en lecture seule" in page
    assert "Enregistrer le constat" not in page and "Émettre le rapport" not in page
    assert client.get(pages[-1]).status_code == 403  # the plan form
    for url, data in changes:
        assert auth.post(url, data).status_code == 403, url
    listing = client.get("/qualite/").get_data(as_text=True)
    assert "Formation Témoin" in listing and "Partagé par un autre financeur" in listing
    # Shared does not reach a funder that does not follow the OF.
    stranger, _ = client_as(app, world.stranger_controller)
    assert stranger.get(pages[0]).status_code == 404
    _assert_unchanged(control, evidence.id)


def test_sharing_can_be_turned_on_and_off_by_the_lead(app) -> None:
    world, control, _ = _setup(app, shared=False)
    follower, _ = client_as(app, world.follower_controller)
    assert follower.get(f"/qualite/controles/{control.id}").status_code == 404
    _, auth = client_as(app, world.controller)
    db.session.refresh(control)
    auth.post(
        f"/qualite/controles/{control.id}/partage",
        {"shared": "y", "version": str(control.version)},
    )
    assert follower.get(f"/qualite/controles/{control.id}").status_code == 200
    db.session.refresh(control)
    auth.post(f"/qualite/controles/{control.id}/partage", {"version": str(control.version)})
    assert follower.get(f"/qualite/controles/{control.id}").status_code == 404
    actions = [
        e.action
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == str(control.id))
        )
    ]
    assert "quality_control.shared" in actions and "quality_control.unshared" in actions


def test_a_partner_funder_fills_the_grid(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world, partners=[str(world.partner.id)])
    partner, partner_auth = client_as(app, world.partner_controller)
    page = partner.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Enregistrer le constat" in page
    response = set_finding(partner_auth, control, "1", "conforme", observations="Vu au site")
    assert response.status_code == 303
    row = row_of(control, "1")
    assert row.finding == "conforme" and row.updated_by_id == world.partner_controller.id


def test_the_provider_sees_its_controls_only_once_reported(app, outbox) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    of, of_auth = client_as(app, world.provider_user)
    assert of.get(f"/qualite/controles/{control.id}").status_code == 404
    assert of.get(f"/qualite/controles/{control.id}/rapport").status_code == 404
    fill_all(control, **{"2": "nc_mineure"})
    db.session.refresh(control)
    auth.post(
        f"/qualite/controles/{control.id}/rapport/emettre",
        {"version": str(control.version), "confirme": "oui"},
    )
    page = of.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Non-conformité mineure" in page
    assert "Enregistrer le constat" not in page and "Modifier le contrôle" not in page
    # Changes are not the OF's (its answers are the corrective actions').
    response = of_auth.post(
        f"/qualite/controles/{control.id}/indicateurs/1", {"ind1-finding": "nc_majeure"}
    )
    assert response.status_code == 403
    # Another OF sees nothing of it.
    other, _ = client_as(app, world.other_provider_user)
    assert other.get(f"/qualite/controles/{control.id}").status_code == 404
    assert other.get(f"/qualite/controles/{control.id}/rapport.zip").status_code == 404
    assert row_of(control, "1").finding == "conforme"


def test_every_change_is_audited(app, outbox) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    set_finding(auth, control, "1", "conforme")
    upload(auth, control, "1", ("preuve.pdf", make_pdf("Preuve")))
    (evidence,) = row_of(control, "1").evidence
    auth.post(f"/qualite/controles/{control.id}/preuves/{evidence.id}/retirer", {})
    db.session.refresh(control)
    auth.post(
        f"/qualite/controles/{control.id}/modifier",
        plan_form(world, participants="Claire et Paul", version=str(control.version)),
    )
    fill_all(control)
    db.session.refresh(control)
    auth.post(
        f"/qualite/controles/{control.id}/rapport/emettre",
        {"version": str(control.version), "confirme": "oui"},
    )
    actions = {e.action for e in db.session.scalars(select(AuditEvent))}
    assert {
        "quality_control.created",
        "quality_finding.recorded",
        "quality_evidence.added",
        "quality_evidence.removed",
        "quality_control.updated",
        "quality_control.reported",
    } <= actions


def _zip_names(client, url: str) -> list[str]:
    import io
    import zipfile

    response = client.get(url)
    assert response.status_code == 200
    data = response.data
    response.close()
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_a_shared_control_does_not_hand_out_another_funders_dossier_pieces(app) -> None:
    """Sharing a control shares its findings and the controllers' files, not the pieces of
    the lead funder's dossiers (beneficiaries' invoices, certificates…): a funder that only
    reads the control sees their titles, never the files; the OF gets its own pieces."""
    from tests.quality.helpers import add_invoice

    world, control, uploaded = _setup(app, shared=True)
    piece = add_invoice(world)
    lead_client, lead = client_as(app, world.controller)
    assert (
        lead.post(
            f"/qualite/controles/{control.id}/indicateurs/9/pieces", {"pc9-pieces": [str(piece.id)]}
        ).status_code
        == 303
    )
    (from_dossier,) = row_of(control, "9").evidence
    base = f"/qualite/controles/{control.id}"

    follower, _ = client_as(app, world.follower_controller)
    page = follower.get(base).get_data(as_text=True)
    assert "non communiquée" in page
    assert f"/preuves/{from_dossier.id}" not in page and f"/preuves/{uploaded.id}" in page
    assert follower.get(f"{base}/preuves/{from_dossier.id}").status_code == 404
    downloaded = follower.get(f"{base}/preuves/{uploaded.id}")
    assert downloaded.status_code == 200
    downloaded.close()
    assert "non communiquée" in follower.get(f"{base}/rapport").get_data(as_text=True)
    names = _zip_names(follower, f"{base}/rapport.zip")
    assert any(n.endswith("preuve.pdf") for n in names)
    assert not any("facture-mars.pdf" in n for n in names)

    # The lead (and the OF, once reported) get the piece in the archive.
    names = _zip_names(lead_client, f"{base}/rapport.zip")
    assert any("facture-mars.pdf" in n for n in names)
    fill_all(control)
    control.status = "rapport"
    db.session.commit()
    provider, _ = client_as(app, world.provider_user)
    downloaded = provider.get(f"{base}/preuves/{from_dossier.id}")
    assert downloaded.status_code == 200
    downloaded.close()
