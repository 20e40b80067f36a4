"""The control page and its grid: findings saved per row (HTMX and without JavaScript), the
major-only rule, deadlines, conflicts, evidence (files checked by content, pieces of the
sampled dossiers), the result and the issue of the report."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Document, QualityEvidence
from tests.quality.helpers import (
    add_invoice,
    client_as,
    fill_all,
    make_pdf,
    make_world,
    plan,
    row_of,
    set_finding,
    upload,
)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_page_groups_the_grid_by_criterion(app) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world, certif_region="y")
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Critère 1 — Les conditions d&#39;information du public" in page
    assert "Critère 7 —" in page
    assert "Certif&#39;Région — Critère spécifique Certif&#39;Région" in page
    assert 'id="indicateur-4"' in page and 'id="indicateur-CR-C"' in page
    assert 'id="indicateur-3"' not in page  # not certifying actions
    # Indicator 4 can only give a major NC; 1 can give both.
    row_4 = page.split('id="indicateur-4"')[1].split("</article>")[0]
    row_1 = page.split('id="indicateur-1"')[1].split("</article>")[0]
    assert "NC majeure uniquement" in row_4 and "NC majeure uniquement" not in row_1
    assert "5 mineures = 1 majeure, règle à confirmer" in page
    assert "Émettre le rapport" not in page  # rows still to fill
    assert f"{len(control.findings)} indicateurs à renseigner" in page


def test_a_finding_saved_with_htmx_returns_the_row_with_its_deadline(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    response = set_finding(
        auth, control, "4", "nc_majeure", observations="Aucune analyse du besoin", htmx=True
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<article id="indicateur-4"')
    assert 'aria-live="polite"' in body
    assert "constat enregistré (non-conformité majeure)" in body
    assert "30/11/2026" in body  # 31 August + 3 months
    row = row_of(control, "4")
    assert (row.finding, row.deadline, row.nc_status) == (
        "nc_majeure",
        date(2026, 11, 30),
        "ouverte",
    )
    assert row.updated_by_id == world.controller.id
    event = _events("quality_finding.recorded")[-1]
    assert event.details["code"] == "4" and event.details["finding"] == "nc_majeure"


def test_without_javascript_the_form_posts_and_returns_to_the_row(app) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    response = set_finding(auth, control, "2", "nc_mineure")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/qualite/controles/{control.id}#indicateur-2")
    assert row_of(control, "2").deadline == date(2027, 2, 28)  # 31 August + 6 months
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Échéance de l'action corrective : <strong>28/02/2027</strong>" in page
    # Another finding clears the deadline and the corrective action.
    set_finding(auth, control, "2", "conforme")
    row = row_of(control, "2")
    assert (row.finding, row.deadline, row.nc_status) == ("conforme", None, None)


def test_a_major_only_indicator_cannot_be_a_minor_nc(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    response = set_finding(auth, control, "4", "nc_mineure", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ne peut donner qu&#39;une non-conformité majeure" in body
    assert 'aria-invalid="true"' in body
    assert row_of(control, "4").finding is None
    # Without JavaScript: the whole page, with the message at the row.
    response = set_finding(auth, control, "4", "nc_mineure")
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)
    assert "ne peut donner qu&#39;une non-conformité majeure" in response.get_data(as_text=True)


def test_not_applicable_needs_a_reason(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    # 28 is not in this grid (no AFEST): 404.
    response = auth.post(
        f"/qualite/controles/{control.id}/indicateurs/28",
        {"ind28-finding": "conforme"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 404
    body = set_finding(auth, control, "12", "non_applicable", htmx=True).get_data(as_text=True)
    assert "Dites pourquoi cet indicateur ne s&#39;applique pas." in body
    set_finding(auth, control, "12", "non_applicable", reason="Formations de 2 jours", htmx=True)
    row = row_of(control, "12")
    assert (row.finding, row.not_applicable_reason) == ("non_applicable", "Formations de 2 jours")


def test_a_stale_row_is_not_overwritten(app) -> None:
    world = make_world()
    _, auth = client_as(app, world.controller)
    control = plan(auth, world)
    old = row_of(control, "1").version
    set_finding(auth, control, "1", "conforme", observations="Site à jour")
    response = set_finding(
        auth, control, "1", "nc_mineure", observations="Autre fenêtre", htmx=True, version=old
    )
    assert response.status_code == 409
    assert response.headers["HX-Refresh"] == "true"  # htmx does not swap a 409: reload
    body = response.get_data(as_text=True)
    assert "modifié entre-temps" in body and "Site à jour" in body
    row = row_of(control, "1")
    assert (row.finding, row.observations) == ("conforme", "Site à jour")


def test_evidence_files_are_checked_by_content(app) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    response = upload(auth, control, "1", ("capture.pdf", make_pdf("Site web")), htmx=True)
    assert response.status_code == 200
    assert "1 fichier de preuve ajouté" in response.get_data(as_text=True)
    (evidence,) = row_of(control, "1").evidence
    assert evidence.document.original_name == "capture.pdf"
    download = client.get(f"/qualite/controles/{control.id}/preuves/{evidence.id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")
    download.close()
    # A text file named .pdf is refused; a good file sent with it is not kept either.
    documents = db.session.scalar(select(db.func.count(Document.id)))
    response = upload(
        auth,
        control,
        "1",
        ("ok.pdf", make_pdf("Autre")),
        ("faux.pdf", b"ceci n'est pas un PDF"),
        htmx=True,
    )
    body = response.get_data(as_text=True)
    assert "« faux.pdf »" in body and "Aucun fichier de cet envoi n&#39;a été enregistré" in body
    assert db.session.scalar(select(db.func.count(Document.id))) == documents
    assert len(row_of(control, "1").evidence) == 1
    assert _events("quality_evidence.upload_refused")
    # Removing it.
    response = auth.post(f"/qualite/controles/{control.id}/preuves/{evidence.id}/retirer", {})
    assert response.status_code == 303
    assert row_of(control, "1").evidence == []
    assert _events("quality_evidence.removed")[-1].details["title"] == "capture.pdf"


def test_pieces_of_the_sampled_dossiers_may_be_joined(app) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)  # samples world.dossier only
    piece = add_invoice(world)
    other = add_invoice(world, world.second_dossier)  # not sampled
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "facture-mars.pdf" in page
    response = auth.post(
        f"/qualite/controles/{control.id}/indicateurs/9/pieces",
        {"pc9-pieces": [str(other.id)]},
        headers={"HX-Request": "true"},
    )
    assert "Seules les pièces des dossiers échantillonnés" in response.get_data(as_text=True)
    response = auth.post(
        f"/qualite/controles/{control.id}/indicateurs/9/pieces", {"pc9-pieces": [str(piece.id)]}
    )
    assert response.status_code == 303
    (evidence,) = row_of(control, "9").evidence
    assert evidence.piece_id == piece.id and world.dossier.reference in evidence.title
    download = client.get(f"/qualite/controles/{control.id}/preuves/{evidence.id}")
    assert download.data.startswith(b"%PDF-")
    download.close()


def test_the_report_is_issued_when_every_row_is_filled(app, outbox) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    response = auth.post(
        f"/qualite/controles/{control.id}/rapport/emettre",
        {"version": str(control.version), "confirme": "oui"},
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Le rapport ne peut être émis que lorsque chaque indicateur a un constat" in page
    fill_all(control, **{"2": "nc_mineure", "4": "nc_majeure"})
    db.session.refresh(control)
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Émettre le rapport" in page
    response = auth.post(
        f"/qualite/controles/{control.id}/rapport/emettre",
        {"version": str(control.version), "confirme": "oui"},
    )
    assert response.status_code == 303
    db.session.refresh(control)
    assert control.status == "rapport" and control.reported_at is not None
    (mail,) = outbox
    assert mail.to == ["of@exemple.test"]
    assert "rapport émis" in mail.subject
    assert "Indicateur 4" in mail.body and "30/11/2026" in mail.body
    assert f"/qualite/controles/{control.id}" in mail.body
    assert _events("quality_control.reported")[0].details["notified"] == ["of@exemple.test"]
    # The findings are fixed now.
    response = set_finding(auth, control, "1", "nc_mineure", htmx=True)
    assert "les constats, les preuves et le périmètre sont figés" in response.get_data(as_text=True)
    assert row_of(control, "1").finding == "conforme"
    response = upload(auth, control, "1", ("tard.pdf", make_pdf("Tard")), htmx=True)
    assert "figés" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(QualityEvidence.id))) == 0
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Enregistrer le constat" not in page


def test_the_result_counts_requalified_minors(app) -> None:
    world = make_world()
    client, auth = client_as(app, world.controller)
    control = plan(auth, world)
    fill_all(control, **{code: "nc_mineure" for code in ("1", "2", "8", "9", "12")})
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Non-conformités mineures : <strong>5</strong>" in page
    assert "plus <strong>1</strong> par requalification des mineures" in page
    app.config["QUALITY_MINORS_PER_MAJOR"] = 0
    page = client.get(f"/qualite/controles/{control.id}").get_data(as_text=True)
    assert "Requalification des mineures désactivée" in page


def test_the_control_page_runs_a_fixed_number_of_queries(app, count_queries) -> None:
    """A bigger grid, more evidence, more non-conformities with their answers: the same
    number of queries."""
    from portal.models import CorrectiveMessage

    world = make_world()
    client, auth = client_as(app, world.controller)

    def page_queries(control) -> int:
        db.session.commit()
        db.session.expire_all()  # nothing already loaded by the test
        with count_queries() as counter:
            assert client.get(f"/qualite/controles/{control.id}").status_code == 200
        return counter.count

    def reported(control, ncs: dict[str, str], messages: int) -> None:
        fill_all(control, **ncs)
        control.status = "rapport"  # the corrective-action blocks show
        for code in ncs:
            for number in range(messages):
                db.session.add(
                    CorrectiveMessage(
                        finding_id=row_of(control, code).id,
                        kind="plan",
                        body=f"Réponse {number}",
                        author_id=world.provider_user.id,
                    )
                )

    small = plan(auth, world)
    upload(auth, small, "1", ("a.pdf", make_pdf("A")))
    reported(small, {"1": "nc_mineure"}, 1)
    few = page_queries(small)

    flags = dict.fromkeys(
        ("certifying", "apprenticeship", "work_based", "subcontracting", "certif_region"), "y"
    )
    big = plan(auth, world, **flags)
    assert len(big.findings) == 44 > len(small.findings) == 22
    for code in ("2", "8", "13", "CR-A"):
        upload(auth, big, code, ("b.pdf", make_pdf(code)), ("c.pdf", make_pdf(code + "c")))
    reported(
        big, {"1": "nc_mineure", "2": "nc_mineure", "8": "nc_majeure", "CR-A": "nc_mineure"}, 3
    )
    assert page_queries(big) == few
