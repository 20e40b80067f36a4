"""Corrective actions: the OF sees its non-conformities with their deadlines and answers
them (action plan and proof, files checked by content); the funders taking part lift or
keep them; the last lift closes the control; stale forms and other OF change nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

from flask import Flask

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, CorrectiveMessage, Document, QualityControl
from portal.quality import rules
from tests.dossiers.piece_helpers import make_pdf
from tests.quality.corrective_helpers import (
    HTMX,
    answer_path,
    client_as,
    decision_path,
    fresh,
    make_control,
    make_world,
    row,
    text_of,
)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)))


def _stored_files(app: Flask) -> list[Path]:
    return [p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file()]


def _answer(auth, control, finding, plan="Analyse du besoin formalisée.", files=(), **kw):
    data = {"plan": plan, "version": str(finding.version), "retour": "espace"}
    if files:
        data["preuves"] = list(files)
    return auth.post(answer_path(control, finding), data, content_type="multipart/form-data", **kw)


# --- The OF's space ----------------------------------------------------------------------------


def test_provider_sees_its_nonconformities_with_deadlines(app: Flask) -> None:
    world = make_world()
    control = make_control(world, control_date=date(2026, 8, 31))
    make_control(world, status="planifie")  # not reported: the OF does not see it
    client, _ = client_as(app, world.provider_user)

    page = client.get("/qualite/mes-controles")

    assert page.status_code == 200
    text = text_of(page)
    assert "Contrôle du 31/08/2026" in text
    assert text.count("Contrôle du") == 1
    assert "Transitions Pro Occitanie" in text
    # 3 months for the major, 6 for the minors, month ends kept.
    assert "Échéance 30/11/2026" in text
    assert "Échéance 28/02/2027" in text
    assert "Aucune analyse du besoin n'est formalisée" in text
    assert "Certif'Région" in text
    assert text.count("Votre plan d'action") == 3
    assert row(control, "1").id  # conforming rows are not listed as NC
    assert f'id="nc-{row(control, "1").id}"' not in page.get_data(as_text=True)


def test_overdue_nonconformity_is_highlighted_for_the_provider(app: Flask) -> None:
    world = make_world()
    make_control(world, control_date=clock.today() - timedelta(days=200))
    client, _ = client_as(app, world.provider_user)

    page = client.get("/qualite/mes-controles")

    html = page.get_data(as_text=True)
    assert "nc-overdue" in html
    assert text_of(page).count("En retard : échéance dépassée") == 3


def test_another_provider_sees_nothing_and_cannot_answer(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    client, auth = client_as(app, world.other_provider_user)

    assert "Aucun contrôle qualité" in text_of(client.get("/qualite/mes-controles"))
    finding = row(control, "4")
    response = _answer(auth, control, finding)

    assert response.status_code == 404
    assert fresh(finding).nc_status == "ouverte"
    assert _events("access.denied")


def test_provider_answers_with_plan_and_proof(app: Flask, outbox: list) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    client, auth = client_as(app, world.provider_user)

    response = _answer(
        auth,
        control,
        finding,
        plan="Une grille d'analyse du besoin est remplie à chaque entrée.",
        files=[(io.BytesIO(make_pdf("Grille")), "grille-analyse.pdf")],
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/qualite/mes-controles#nc-{finding.id}")
    finding = fresh(finding)
    assert finding.nc_status == rules.NcStatus.ANSWERED.value
    (message,) = finding.messages
    assert message.kind == "plan"
    assert message.author_id == world.provider_user.id
    assert [d.original_name for d in message.documents] == ["grille-analyse.pdf"]
    # The lead funder's controller is mailed, not the partner's.
    assert [m.to for m in outbox] == [[world.controller.email]]
    assert "grille d'analyse du besoin" in outbox[0].body
    (event,) = _events("quality.nc_answered")
    assert event.details["files"][0]["name"] == "grille-analyse.pdf"

    page = text_of(client.get("/qualite/mes-controles"))
    assert "Réponse de l'organisme à examiner" in page
    assert "Votre réponse est en cours d'examen par le contrôleur." in page
    assert "grille-analyse.pdf" in page


def test_answer_under_htmx_swaps_the_block(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "2")
    _, auth = client_as(app, world.provider_user)

    response = _answer(auth, control, finding, headers=HTMX)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith(f'<section id="nc-{finding.id}"')
    assert "Votre réponse est envoyée" in html
    assert 'aria-live="polite"' in html


def test_refused_upload_changes_nothing(app: Flask, outbox: list) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, auth = client_as(app, world.provider_user)
    before = _stored_files(app)

    response = _answer(
        auth,
        control,
        finding,
        files=[
            (io.BytesIO(make_pdf("Bonne")), "bonne.pdf"),
            (io.BytesIO(b"MZ\x90\x00 not a pdf"), "faux.pdf"),
        ],
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "« faux.pdf »" in text
    assert "Seuls les fichiers PDF, JPEG et PNG sont acceptés" in text
    assert "Analyse du besoin formalisée." in text  # what was typed is kept
    finding = fresh(finding)
    assert finding.nc_status == "ouverte"
    assert finding.messages == []
    assert db.session.scalar(db.select(db.func.count(Document.id))) == 0
    assert _stored_files(app) == before
    assert outbox == []
    assert _events("quality.upload_refused")


def test_empty_plan_is_refused_inline(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, auth = client_as(app, world.provider_user)

    response = _answer(auth, control, finding, plan="  ", headers=HTMX)

    assert response.status_code == 200
    assert "Décrivez votre plan d'action" in text_of(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert fresh(finding).nc_status == "ouverte"


def test_provider_cannot_lift(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, auth = client_as(app, world.provider_user)

    response = auth.post(
        decision_path(control, finding), {"decision": "lever", "version": finding.version}
    )

    assert response.status_code == 403
    assert fresh(finding).nc_status == "ouverte"


# --- Lifting and keeping -----------------------------------------------------------------------


def test_keep_needs_a_reason_then_the_provider_answers_again(app: Flask, outbox: list) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, provider_auth = client_as(app, world.provider_user)
    _answer(provider_auth, control, finding)
    finding = fresh(finding)
    _, auth = client_as(app, world.controller)
    outbox.clear()

    refused = auth.post(
        decision_path(control, finding),
        {"decision": "maintenir", "motif": "", "version": finding.version},
        headers=HTMX,
    )
    assert refused.status_code == 200
    assert "Dites pourquoi la non-conformité est maintenue" in text_of(refused)
    assert fresh(finding).nc_status == "reponse"

    kept = auth.post(
        decision_path(control, finding),
        {
            "decision": "maintenir",
            "motif": "La grille n'est pas signée par le stagiaire.",
            "version": finding.version,
        },
    )
    assert kept.status_code == 303
    assert kept.headers["Location"].endswith(f"/qualite/controles/{control.id}#nc-{finding.id}")
    finding = fresh(finding)
    assert finding.nc_status == "maintenue"
    assert finding.decided_by_id == world.controller.id
    assert [m.kind for m in finding.messages] == ["plan", "maintenue"]
    assert [m.to for m in outbox] == [[world.provider_user.email]]
    assert "La grille n'est pas signée" in outbox[0].body
    assert _events("quality.nc_kept")

    again = _answer(provider_auth, control, finding, plan="La grille est désormais signée.")
    assert again.status_code == 303
    assert fresh(finding).nc_status == "reponse"


def test_lifting_every_nonconformity_closes_the_control(app: Flask, outbox: list) -> None:
    world = make_world()
    control = make_control(world)
    _, auth = client_as(app, world.controller)
    _, partner_auth = client_as(app, world.partner_controller)
    ncs = [row(control, code) for code in ("2", "4", "CR-A")]

    for index, finding in enumerate(ncs):
        who = partner_auth if index == 1 else auth  # the partner funder may decide too
        response = who.post(
            decision_path(control, finding),
            {"decision": "lever", "motif": "Preuve reçue.", "version": finding.version},
        )
        assert response.status_code == 303
        db.session.expire_all()
        status = db.session.get(QualityControl, control.id).status
        assert status == ("clos" if index == 2 else "rapport")

    control = db.session.get(QualityControl, control.id)
    assert control.closed_at is not None
    assert all(fresh(f).nc_status == "levee" for f in ncs)
    assert len(_events("quality.nc_lifted")) == 3
    assert len(_events("quality.control_closed")) == 1
    assert len(outbox) == 3
    assert "le contrôle est clos" in outbox[-1].body
    assert (
        db.session.scalar(
            db.select(db.func.count(CorrectiveMessage.id)).where(CorrectiveMessage.kind == "levee")
        )
        == 3
    )


def test_funder_reading_a_shared_control_cannot_decide(app: Flask) -> None:
    world = make_world()
    control = make_control(world, shared=True)
    finding = row(control, "4")
    _, auth = client_as(app, world.reader_controller)

    response = auth.post(
        decision_path(control, finding), {"decision": "lever", "version": finding.version}
    )

    assert response.status_code == 403
    assert fresh(finding).nc_status == "ouverte"


def test_funder_outside_the_control_gets_404(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, auth = client_as(app, world.stranger_controller)

    response = auth.post(
        decision_path(control, finding), {"decision": "lever", "version": finding.version}
    )

    assert response.status_code == 404


def test_stale_version_changes_nothing(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    stale = finding.version
    _, auth = client_as(app, world.controller)
    _, partner_auth = client_as(app, world.partner_controller)
    assert (
        partner_auth.post(
            decision_path(control, finding),
            {"decision": "maintenir", "motif": "Pas de réponse.", "version": stale},
        ).status_code
        == 303
    )

    plain = auth.post(decision_path(control, finding), {"decision": "lever", "version": stale})
    htmx = auth.post(
        decision_path(control, finding), {"decision": "lever", "version": stale}, headers=HTMX
    )

    assert plain.status_code == 303
    assert htmx.status_code == 409
    assert htmx.headers["HX-Refresh"] == "true"
    assert "modifiée entre-temps" in text_of(htmx)
    finding = fresh(finding)
    assert finding.nc_status == "maintenue"
    assert [m.kind for m in finding.messages] == ["maintenue"]
    assert not _events("quality.nc_lifted")


def test_stale_answer_changes_nothing(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, auth = client_as(app, world.provider_user)
    data = {"plan": "Plan", "version": str(finding.version + 1), "retour": "espace"}

    response = auth.post(answer_path(control, finding), data, headers=HTMX)

    assert response.status_code == 409
    assert fresh(finding).messages == []


def test_proof_files_download_for_those_who_see_the_control(app: Flask) -> None:
    world = make_world()
    control = make_control(world)
    finding = row(control, "4")
    _, provider_auth = client_as(app, world.provider_user)
    _answer(provider_auth, control, finding, files=[(io.BytesIO(make_pdf("P")), "preuve.pdf")])
    (message,) = fresh(finding).messages
    (document,) = message.documents
    path = f"/qualite/controles/{control.id}/messages/{message.id}/fichiers/{document.id}"

    controller, _ = client_as(app, world.controller)
    response = controller.get(path)
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    assert "attachment" in response.headers["Content-Disposition"]
    response.close()
    assert _events("quality.corrective_file_downloaded")

    stranger, _ = client_as(app, world.stranger_controller)
    assert stranger.get(path).status_code == 404
    other_of, _ = client_as(app, world.other_provider_user)
    assert other_of.get(path).status_code == 404


def test_control_page_shows_each_nonconformity_block(app: Flask) -> None:
    world = make_world()
    control = make_control(world, control_date=date(2026, 8, 31))
    finding = row(control, "4")

    controller, _ = client_as(app, world.controller)
    page = controller.get(f"/qualite/controles/{control.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="nc-{finding.id}"' in html
    text = text_of(page)
    assert "Échéance 30/11/2026" in text
    assert text.count("Lever la non-conformité") == 3
    assert "Votre plan d'action" not in text

    provider, _ = client_as(app, world.provider_user)
    text = text_of(provider.get(f"/qualite/controles/{control.id}"))
    assert text.count("Votre plan d'action") == 3
    assert "Lever la non-conformité" not in text


def test_the_home_page_tells_the_provider_what_waits_for_its_action_plan(app: Flask) -> None:
    world = make_world()
    control = make_control(world, control_date=clock.today() - timedelta(days=100))
    make_control(world, status="planifie")  # not reported: not announced
    client, auth = client_as(app, world.provider_user)

    home = text_of(client.get("/"))
    # 3 NCs: the major (3 months) is past its deadline, the minors (6 months) are not.
    assert "3 non-conformités de contrôle qualité attendent votre plan d'action" in home
    assert "dont 1 en retard" in home
    assert "Répondre dans « Mes contrôles qualité »" in home

    assert _answer(auth, control, row(control, "4")).status_code == 303
    home = text_of(client.get("/"))
    assert "2 non-conformités de contrôle qualité attendent votre plan d'action" in home

    other, _ = client_as(app, world.other_provider_user)
    assert "contrôle qualité attend" not in text_of(other.get("/"))
