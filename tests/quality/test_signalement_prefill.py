"""From a control that calls for it to a signalement draft: the offer, the prefilled facts,
indicators, dossiers and evidence, one draft per control, and who may draft."""

from __future__ import annotations

import io
from datetime import date

from flask import Flask, render_template
from flask_login import login_user

from portal.extensions import db
from portal.models import AuditEvent, QualityControl, Signalement
from portal.quality import rules
from portal.quality import signalement as drafting
from tests.dossiers.piece_helpers import make_pdf
from tests.quality.corrective_helpers import (
    add_evidence,
    add_piece,
    answer_path,
    client_as,
    make_control,
    make_world,
    row,
    store_document,
    text_of,
)


def _path(control: QualityControl) -> str:
    return f"/qualite/controles/{control.id}/signalement"


def _signalements() -> list[Signalement]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Signalement).order_by(Signalement.id)))


def _offer(app: Flask, user, control: QualityControl, can_edit: bool = True) -> str:
    with app.test_request_context("/"):
        login_user(user)
        control = db.session.get(QualityControl, control.id)
        result = drafting.control_result(control)
        return render_template(
            "quality/_signalement_offer.html",
            control=control,
            result=result,
            can_edit=can_edit,
            signalement_offer=drafting.offer(user, control, result) if can_edit else None,
        )


def test_offer_shown_when_the_result_calls_for_it(app: Flask) -> None:
    world = make_world()
    control = make_control(world)

    html = _offer(app, world.controller, control)

    assert "Rédiger un signalement prérempli" in html
    assert f'action="/qualite/controles/{control.id}/signalement"' in html
    assert 'name="csrf_token"' in html
    assert "1 non-conformité majeure" in html
    assert "3 non-conformités non levées" in html
    assert _offer(app, world.reader_controller, control, can_edit=False).strip() == ""


def test_no_offer_for_a_conforming_control(app: Flask) -> None:
    world = make_world()
    control = make_control(world, grid=(("1", "conforme", ""), ("2", "conforme", "")))

    assert "Rédiger" not in _offer(app, world.controller, control)
    _, auth = client_as(app, world.controller)
    response = auth.post(_path(control))
    assert response.status_code == 303
    assert _signalements() == []


def test_offer_mentions_requalified_minors(app: Flask) -> None:
    world = make_world()
    grid = tuple((str(code), "nc_mineure", "") for code in (1, 2, 3, 8, 9))
    control = make_control(world, grid=grid)
    for finding in control.findings:
        finding.nc_status = rules.NcStatus.LIFTED.value
    db.session.commit()

    html = _offer(app, world.controller, control)

    assert "1 non-conformité majeure" in html
    assert "5 mineures = 1 majeure, règle à confirmer" in html


def test_draft_is_prefilled_from_the_control(app: Flask) -> None:
    world = make_world()
    control = make_control(world, control_date=date(2026, 8, 31))
    major = row(control, "4")
    add_evidence(major, document=store_document(app, "grille-controle.pdf"))
    add_evidence(major, piece=add_piece(world))  # the lead funder's dossier
    add_evidence(major, piece=add_piece(world, world.partner_dossier))  # the partner's
    _, provider_auth = client_as(app, world.provider_user)
    provider_auth.post(
        answer_path(control, major),
        {
            "plan": "Plan d'action",
            "version": str(major.version),
            "preuves": [(io.BytesIO(make_pdf("Preuve")), "preuve-of.pdf")],
        },
        content_type="multipart/form-data",
    )
    client, auth = client_as(app, world.controller)

    response = auth.post(_path(control))

    (signalement,) = _signalements()
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/signalements/{signalement.id}/modifier")
    assert signalement.state == "brouillon"
    assert signalement.funder_id == world.funder.id
    assert signalement.provider_id == world.provider.id
    what = signalement.facts_what
    assert "le 31/08/2026" in what
    assert "Indicateur 4" in what
    assert "non-conformité majeure" in what
    assert "Aucune analyse du besoin n'est formalisée" in what
    assert "À corriger avant le 30/11/2026" in what
    assert "réponse de l'organisme à examiner" in what
    assert "Certif'Région" in what
    assert "Transitions Pro Occitanie, OPCO Santé" in what
    assert signalement.facts_when == "Contrôle qualité du 31/08/2026"
    assert "Comptable assistant" in signalement.facts_where
    # RNQ indicators only: Certif'Région's are named in the facts.
    assert signalement.indicators == [2, 4]
    assert [d.id for d in signalement.dossiers] == [world.dossier.id]
    kinds = sorted((e.kind, e.title) for e in signalement.evidence)
    assert [k for k, _ in kinds] == ["fichier", "fichier", "piece"]
    titles = " ".join(t for _, t in kinds)
    assert "grille-controle.pdf" in titles
    assert "Preuve de l'organisme — preuve-of.pdf" in titles
    piece_evidence = next(e for e in signalement.evidence if e.kind == "piece")
    assert piece_evidence.dossier_id == world.dossier.id
    assert all(e.file is not None for e in signalement.evidence)
    control = db.session.get(QualityControl, control.id)
    assert control.signalement_id == signalement.id
    event = db.session.scalar(
        db.select(AuditEvent).where(AuditEvent.action == "quality.signalement_drafted")
    )
    assert event.details["signalement_id"] == signalement.id
    # The draft form opens with what was prefilled, and it is substantiated.
    page = text_of(client.get(f"/signalements/{signalement.id}/modifier"))
    assert "Aucune analyse du besoin" in page


def test_one_draft_per_control(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    _, auth = client_as(app, world.controller)
    first = auth.post(_path(control))
    _, admin_auth = client_as(app, world.admin)

    second = admin_auth.post(_path(control))

    (signalement,) = _signalements()
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    html = _offer(app, world.controller, control)
    assert "Rédiger" not in html
    assert signalement.reference in html


def test_partner_drafts_its_own_and_the_lead_is_told(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    _, partner_auth = client_as(app, world.partner_controller)

    assert partner_auth.post(_path(control)).status_code == 303

    (signalement,) = _signalements()
    assert signalement.funder_id == world.partner.id
    assert [d.id for d in signalement.dossiers] == [world.partner_dossier.id]
    html = _offer(app, world.controller, control)
    assert "Un autre financeur participant a déjà rédigé un signalement" in html
    _, auth = client_as(app, world.controller)
    assert auth.post(_path(control)).status_code == 303
    assert len(_signalements()) == 1


def test_who_may_not_draft(app: Flask) -> None:
    world = make_world()
    control = make_control(world, shared=True)
    _, reader = client_as(app, world.reader_controller)
    _, stranger = client_as(app, world.stranger_controller)
    _, provider = client_as(app, world.provider_user)

    assert reader.post(_path(control)).status_code == 403
    assert stranger.post(_path(control)).status_code == 404
    assert provider.post(_path(control)).status_code == 403
    assert _signalements() == []


def test_planned_control_is_not_drafted(app: Flask) -> None:
    world = make_world()
    control = make_control(world, status="planifie")
    client, auth = client_as(app, world.controller)

    response = auth.post(_path(control), follow_redirects=False)

    assert response.status_code == 303
    assert _signalements() == []
    assert "rapport de ce contrôle n'est pas encore émis" in text_of(
        client.get(response.headers["Location"])
    )
