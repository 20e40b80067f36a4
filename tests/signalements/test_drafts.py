"""Writing a signalement: starting it from an OF, a dossier or a control; the form with the
32 indicators by criterion and the evidence pickers; the checklist of what is missing,
inline (HTMX) and on saving (without JavaScript); files checked as every upload."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Document, Signalement, SignalementEvidence
from portal.signalements import services
from tests.dossiers.piece_helpers import make_pdf, stored_files
from tests.signalements.helpers import (
    FACTS,
    add_decision,
    add_finding,
    add_invoice,
    client_as,
    draft_form,
    make_world,
    text_of,
)

HTMX = {"HX-Request": "true"}


def _only() -> Signalement:
    return db.session.scalars(select(Signalement)).one()


def test_a_draft_starts_from_the_of_page_with_the_of_chosen(app: Flask) -> None:
    w = make_world()
    client, auth = client_as(app, w.controller)
    qualiopi_link = f"/signalements/nouveau?organisme={w.provider.nda}"
    page = client.get(qualiopi_link).get_data(as_text=True)
    assert f'value="{w.provider.nda}" selected' in page
    assert f"Dossier {w.dossier.reference}" in page
    response = auth.post("/signalements/nouveau", {"organisme": w.provider.nda})
    assert response.status_code == 303
    created = _only()
    assert response.headers["Location"] == f"/signalements/{created.id}/modifier"
    assert created.state == "brouillon"
    assert created.provider_id == w.provider.id
    assert created.funder_id == w.funder.id
    assert created.author_id == w.controller.id
    assert created.region_code == "76"  # the NDA's region (no list imported here)
    assert created.dossiers == []
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "signalement.created")
    ).one()
    assert event.funder_id == w.funder.id


def test_a_draft_starts_from_a_dossier_or_a_control_with_the_dossier_ticked(app: Flask) -> None:
    w = make_world()
    client, auth = client_as(app, w.controller)
    detail = client.get(f"/dossiers/{w.dossier.id}").get_data(as_text=True)
    assert f"/signalements/nouveau?dossier={w.dossier.id}" in detail
    page = client.get(f"/signalements/nouveau?dossier={w.dossier.id}&depuis=controle")
    html = page.get_data(as_text=True)
    assert f'value="{w.dossier.id}" checked' in html
    response = auth.post(
        "/signalements/nouveau",
        {"dossier": str(w.dossier.id), "dossiers": str(w.dossier.id), "depuis": "controle"},
    )
    assert response.status_code == 303
    created = _only()
    assert [d.id for d in created.dossiers] == [w.dossier.id]
    assert w.dossier.reference in created.facts_where


def test_the_start_form_lists_the_dossiers_of_the_chosen_of_with_htmx(app: Flask) -> None:
    w = make_world()
    client, _ = client_as(app, w.controller)
    fragment = client.get(
        f"/signalements/nouveau/dossiers?organisme={w.provider.nda}", headers=HTMX
    ).get_data(as_text=True)
    assert "<html" not in fragment
    assert 'id="dossier-choices"' in fragment
    assert f"Dossier {w.dossier.reference}" in fragment
    # Another funder's OF is not offered, nor reported.
    stranger = w.other_controller
    assert services.find_provider(stranger, w.provider.nda) is not None  # it follows it too
    _client2, auth2 = client_as(app, w.controller)
    from tests.factories import ProviderFactory

    unfollowed = ProviderFactory(nda="76999999999")
    response = auth2.post("/signalements/nouveau", {"organisme": unfollowed.nda})
    assert response.status_code == 200
    assert "Choisissez l'organisme que vous signalez." in text_of(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count(Signalement.id))) == 0


def test_the_form_offers_the_32_indicators_by_criterion_with_the_major_only_ones_marked(
    app: Flask,
) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider, dossiers=[w.dossier])
    client, _ = client_as(app, w.controller)
    html = client.get(f"/signalements/{s.id}/modifier").get_data(as_text=True)
    for number in range(1, 33):
        assert f'id="indicateur-{number}" name="indicateurs" value="{number}"' in html
    assert html.count("<summary>Critère ") == 7
    assert html.count("NC majeure uniquement</span>") == 17
    assert "Critère 2 — L&#39;identification précise des objectifs" in html
    assert "Uniquement pour les actions de formation par apprentissage." in html
    # The checklist says everything that is missing, from the start.
    text = text_of(html)
    assert "Il manque encore 4 éléments" in text  # what, when, indicators, evidence


def test_the_checklist_follows_the_typing_with_htmx(app: Flask) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider, dossiers=[w.dossier])
    _client, auth = client_as(app, w.controller)
    empty = auth.post(
        f"/signalements/{s.id}/verifier", draft_form(faits="", indicateurs=[]), headers=HTMX
    )
    html = empty.get_data(as_text=True)
    assert "<html" not in html and 'id="etayage"' in html
    assert 'data-field="facts_what"' in html and "Les faits : décrivez" in html
    assert "Indicateurs : choisissez au moins un indicateur" in html
    assert "Preuves : joignez au moins un élément" in html
    # A file chosen but not sent yet counts (HTMX sends its name only).
    filled = auth.post(
        f"/signalements/{s.id}/verifier",
        draft_form(dossiers=str(w.dossier.id), fichiers="[object File]"),
        headers=HTMX,
    ).get_data(as_text=True)
    assert "Signalement étayé" in filled
    assert 'class="missing"' not in filled
    # Nothing was saved by checking.
    db.session.expire_all()
    assert db.session.get(Signalement, s.id).facts_what == ""


def test_saving_without_javascript_shows_what_is_still_missing(app: Flask) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider, dossiers=[w.dossier])
    _client, auth = client_as(app, w.controller)
    response = auth.post(
        f"/signalements/{s.id}/modifier",
        draft_form(dossiers=str(w.dossier.id), version=str(s.version)),
        follow_redirects=True,
    )
    text = text_of(response.get_data(as_text=True))
    assert "Il manque encore des éléments avant de pouvoir le transmettre" in text
    assert "Il manque encore 1 élément" in text
    assert "Preuves : joignez au moins un élément" in text
    db.session.expire_all()
    saved = db.session.get(Signalement, s.id)
    assert saved.facts_what == FACTS
    assert saved.indicators == [10, 11]
    assert saved.seriousness == "serieuse"


def test_evidence_is_picked_from_the_dossiers_pieces_checks_and_decisions(app: Flask) -> None:
    w = make_world()
    invoice = add_invoice(w)
    finding = add_finding(w, invoice)
    decision = add_decision(w, invoice)
    s = services.create_draft(w.controller, w.provider, dossiers=[w.dossier])
    client, auth = client_as(app, w.controller)
    html = client.get(f"/signalements/{s.id}/modifier").get_data(as_text=True)
    for key in (f"piece-{invoice.id}", f"constat-{finding.id}", f"decision-{decision.id}"):
        assert f'name="preuves" value="{key}"' in html
    response = auth.post(
        f"/signalements/{s.id}/modifier",
        draft_form(
            dossiers=str(w.dossier.id),
            preuves=[f"piece-{invoice.id}", f"constat-{finding.id}", f"decision-{decision.id}"],
            version=str(s.version),
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/signalements/{s.id}"
    evidence = db.session.scalars(select(SignalementEvidence).order_by("id")).all()
    assert [e.kind for e in evidence] == ["piece", "constat", "decision"]
    assert evidence[0].piece_id == invoice.id
    assert "facture-mars.pdf" in evidence[0].title
    assert evidence[1].title == "Bloquant : Demi-journées sans signature"
    assert "3 demi-journées" in evidence[1].details
    assert "Partiellement conforme" in evidence[2].title
    assert "validé 900,00" in evidence[2].details
    # The control results are kept as they were when chosen, even when the checks run again.
    db.session.delete(db.session.get(type(finding), finding.id))
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(SignalementEvidence, evidence[1].id)
    assert kept.finding_id is None
    assert kept.title == "Bloquant : Demi-journées sans signature"
    # Unticking removes; the candidates list offers it again.
    items = [f"preuve-{evidence[0].id}", f"preuve-{evidence[2].id}"]
    auth.post(
        f"/signalements/{s.id}/modifier",
        draft_form(dossiers=str(w.dossier.id), preuves=items, version=str(_only().version)),
    )
    db.session.expire_all()
    assert [e.kind for e in _only().evidence] == ["piece", "decision"]


def test_the_evidence_choices_follow_the_dossiers_ticked_with_htmx(app: Flask) -> None:
    w = make_world()
    invoice = add_invoice(w)
    s = services.create_draft(w.controller, w.provider)
    _client, auth = client_as(app, w.controller)
    none = auth.post(f"/signalements/{s.id}/preuves-possibles", draft_form(), headers=HTMX)
    assert f"piece-{invoice.id}" not in none.get_data(as_text=True)
    some = auth.post(
        f"/signalements/{s.id}/preuves-possibles",
        draft_form(dossiers=str(w.dossier.id)),
        headers=HTMX,
    ).get_data(as_text=True)
    assert "<html" not in some and 'id="candidates"' in some
    assert f'value="piece-{invoice.id}"' in some


def test_files_are_uploaded_as_evidence_checked_by_content(app: Flask) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider)
    client, auth = client_as(app, w.controller)
    before = stored_files(app)
    data = draft_form(version=str(s.version))
    data["fichiers"] = [(io.BytesIO(b"<html>pas un pdf</html>"), "rapport.pdf")]
    refused = auth.post(f"/signalements/{s.id}/modifier", data, content_type="multipart/form-data")
    assert refused.status_code == 422
    text = text_of(refused.get_data(as_text=True))
    assert "« rapport.pdf » : Seuls les fichiers PDF, JPEG et PNG sont acceptés" in text
    assert stored_files(app) == before
    assert db.session.scalar(select(func.count(Document.id))) == 0
    assert db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "signalement.upload_refused")
    ).all() == ["signalement.upload_refused"]

    data = draft_form(version=str(s.version))
    data["fichiers"] = [(io.BytesIO(make_pdf("Rapport de visite")), "rapport-visite.pdf")]
    saved = auth.post(f"/signalements/{s.id}/modifier", data, content_type="multipart/form-data")
    assert saved.status_code == 303
    (evidence,) = _only().evidence
    assert evidence.kind == "fichier"
    assert evidence.document.original_name == "rapport-visite.pdf"
    assert evidence.document.content_type == "application/pdf"
    assert len(stored_files(app)) == len(before) + 1
    # It downloads, as an attachment.
    download = client.get(f"/signalements/{s.id}/preuves/{evidence.id}/fichier")
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF-")
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()


def test_a_stale_form_is_refused_and_nothing_is_saved(app: Flask) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider)
    _client, auth = client_as(app, w.controller)
    first = auth.post(f"/signalements/{s.id}/modifier", draft_form(version=str(s.version)))
    assert first.status_code == 303
    stale = auth.post(
        f"/signalements/{s.id}/modifier",
        draft_form(
            faits="Une autre version des faits, écrite sur un formulaire ancien.", version="1"
        ),
        follow_redirects=True,
    )
    assert "modifié entre-temps" in text_of(stale.get_data(as_text=True))
    db.session.expire_all()
    assert _only().facts_what == FACTS


def test_a_sent_signalement_is_no_longer_editable(app: Flask) -> None:
    from tests.signalements.helpers import bring_to

    w = make_world()
    s = bring_to(w, "transmis")
    client, auth = client_as(app, w.controller)
    page = client.get(f"/signalements/{s.id}/modifier")
    assert page.status_code == 303
    response = auth.post(
        f"/signalements/{s.id}/modifier",
        draft_form(faits="Réécrire l'histoire après l'envoi, ce qui est refusé."),
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert _only().facts_what == FACTS
