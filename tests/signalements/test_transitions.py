"""The loop through the web: the controller sends, the liaison takes it in charge, asks for
more, the funder answers in the thread, the liaison forwards it to a certifier and closes
it; each transition dated, audited, and told to the other side in the portal and by mail.
The approval step; dismissing, merging; and refusals (wrong state, wrong role, not
substantiated, missing fields) that change nothing."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import select

from portal import audit, clock
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Certifier,
    Signalement,
    SignalementMessage,
    SignalementNotification,
)
from portal.signalements import services
from tests.dossiers.piece_helpers import make_pdf
from tests.signalements.helpers import (
    bring_to,
    client_as,
    make_world,
    substantiated,
    text_of,
)


def _fresh(s: Signalement) -> Signalement:
    db.session.expire_all()
    return db.session.get(Signalement, s.id)


def _actions() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("signalement.%"))
            .order_by(AuditEvent.id)
        )
    )


def _notices(user) -> list[str]:
    return list(
        db.session.scalars(
            select(SignalementNotification.text)
            .where(SignalementNotification.user_id == user.id)
            .order_by(SignalementNotification.id)
        )
    )


def _act(auth, s: Signalement, action: str, data: dict | None = None, **kw):
    return auth.post(
        f"/signalements/{s.id}/actions/{action}",
        # The confirmation step of the irreversible actions: tests/test_confirmation.py.
        {"version": str(_fresh(s).version), "confirme": "oui", **(data or {})},
        **kw,
    )


def test_the_whole_loop_through_the_web(app: Flask, outbox) -> None:
    w = make_world()
    certifier = Certifier(name="AFNOR Certification")
    db.session.add(certifier)
    db.session.commit()
    s = substantiated(w)
    funder, funder_auth = client_as(app, w.controller)
    ministry, ministry_auth = client_as(app, w.liaison)

    # The controller sends: the liaisons of region 76 and the national ones are told.
    response = _act(funder_auth, s, "transmettre")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/signalements/{s.id}"
    sent = _fresh(s)
    assert sent.state == "transmis" and sent.sent_at is not None
    assert sent.region_code == "76"
    assert sorted(m.to[0] for m in outbox) == sorted([w.liaison.email, w.national.email])
    assert w.far_liaison.email not in [m.to[0] for m in outbox]
    assert outbox[0].subject.startswith(f"Signalement {s.reference} (Formation Témoin)")
    assert "transmis au ministère" in outbox[0].subject
    assert f"/signalements/{s.id}" in outbox[0].body
    assert _notices(w.liaison) == [f"{s.reference} (Formation Témoin) : transmis au ministère."]
    assert _notices(w.controller) == []

    # The liaison sees it in the inbox, and opening it marks the notice read.
    inbox = ministry.get("/signalements/").get_data(as_text=True)
    assert s.reference in inbox and "(1 non lue)" in inbox
    page = text_of(ministry.get(f"/signalements/{s.id}").get_data(as_text=True))
    assert "Prendre en charge" in page
    assert services.unread_count(w.liaison) == 0

    # Takes it in charge, asks for more: the author is told, by mail with the question.
    outbox.clear()
    assert _act(ministry_auth, s, "prendre_en_charge").status_code == 303
    assert _fresh(s).ministry_assignee_id == w.liaison.id
    question = "Pouvez-vous joindre les feuilles d'émargement de mars ?"
    assert _act(ministry_auth, s, "demander_complement", {"message": question}).status_code == 303
    asked = _fresh(s)
    assert asked.state == "complement_demande" and asked.info_requested_at is not None
    assert [m.to[0] for m in outbox] == [w.controller.email, w.controller.email]
    assert question in outbox[-1].body
    assert "complément d'information demandé" in _notices(w.controller)[-1]

    # The funder sees the question and answers, with a file: back under review.
    funder_page = text_of(funder.get(f"/signalements/{s.id}").get_data(as_text=True))
    assert "Le ministère demande un complément" in funder_page and question in funder_page
    outbox.clear()
    answer = "Voici les feuilles de mars, signées d'avance."
    response = _act(
        funder_auth,
        s,
        "repondre",
        {"message": answer, "fichiers": [(io.BytesIO(make_pdf("Emargement")), "mars.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    answered = _fresh(s)
    assert answered.state == "en_examen" and answered.info_answered_at is not None
    thread = db.session.scalars(select(SignalementMessage).order_by(SignalementMessage.id)).all()
    assert [(m.side, m.kind) for m in thread] == [
        ("ministere", "demande"),
        ("financeur", "reponse"),
    ]
    added = [e for e in answered.evidence if e.message_id == thread[1].id]
    assert [e.document.original_name for e in added] == ["mars.pdf"]
    assert [m.to[0] for m in outbox] == [w.liaison.email]  # the liaison in charge only
    assert answer in outbox[0].body

    # Forwarded to the certifier: which, when, the reference; the funder sees the outcome.
    outbox.clear()
    today = clock.today()
    response = _act(
        ministry_auth,
        s,
        "transmettre_certificateur",
        {
            "certificateur": str(certifier.id),
            "date_transmission": today.isoformat(),
            "reference_certificateur": "DREETS-OCC-2026-042",
        },
    )
    assert response.status_code == 303
    forwarded = _fresh(s)
    assert forwarded.state == "transmis_certificateur"
    assert forwarded.certifier_id == certifier.id
    assert forwarded.certifier_name == "AFNOR Certification"
    assert forwarded.certifier_sent_on == today
    assert forwarded.certifier_reference == "DREETS-OCC-2026-042"
    assert forwarded.outcome == "transmis_certificateur"
    assert [m.to[0] for m in outbox] == [w.controller.email]
    assert "AFNOR Certification" in outbox[0].body
    funder_page = text_of(funder.get(f"/signalements/{s.id}").get_data(as_text=True))
    assert "Suite donnée Transmis au certificateur : à AFNOR Certification" in funder_page

    # Closed; nothing more may be done.
    assert _act(ministry_auth, s, "clore", {"message": "Le certificateur accuse réception."})
    closed = _fresh(s)
    assert closed.state == "clos" and closed.closed_at is not None
    assert _actions() == [
        "signalement.created",
        "signalement.updated",
        "signalement.transmettre",
        "signalement.prendre_en_charge",
        "signalement.demander_complement",
        "signalement.repondre",
        "signalement.transmettre_certificateur",
        "signalement.clore",
    ]
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "signalement.transmettre_certificateur")
    ).all()
    assert events[0].funder_id == w.funder.id
    assert events[0].details["reference"] == "DREETS-OCC-2026-042"
    assert events[0].details["from"] == "en_examen"
    assert events[0].details["to"] == "transmis_certificateur"
    assert audit.verify_chain().ok
    history = text_of(funder.get(f"/signalements/{s.id}").get_data(as_text=True))
    for label in ("Transmis au ministère", "Pris en charge par le ministère", "Clos"):
        assert label in history


def test_a_transition_from_the_wrong_state_is_refused_and_not_applied(app: Flask, outbox) -> None:
    w = make_world()
    s = bring_to(w, "en_examen")
    _ministry, auth = client_as(app, w.liaison)
    before = _fresh(s).version
    outbox.clear()
    response = _act(auth, s, "prendre_en_charge", follow_redirects=True)
    text = text_of(response.get_data(as_text=True))
    assert "Impossible de prendre le signalement en charge : le signalement est « En examen »" in (
        text
    )
    refused = _fresh(s)
    assert refused.state == "en_examen" and refused.version == before
    assert outbox == []
    assert "signalement.prendre_en_charge" in _actions()
    assert _actions().count("signalement.prendre_en_charge") == 1


def test_a_transition_by_the_wrong_role_is_refused(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    _funder, auth = client_as(app, w.controller)
    response = _act(auth, s, "prendre_en_charge", follow_redirects=True)
    assert "seul un correspondant ministériel le peut" in text_of(response.get_data(as_text=True))
    assert _fresh(s).state == "transmis"
    unknown = _act(auth, s, "publier", follow_redirects=True)
    assert "Action inconnue" in text_of(unknown.get_data(as_text=True))


def test_an_unsubstantiated_draft_cannot_be_sent(app: Flask, outbox) -> None:
    w = make_world()
    s = services.create_draft(w.controller, w.provider)
    _client, auth = client_as(app, w.controller)
    response = _act(auth, s, "transmettre", follow_redirects=True)
    text = text_of(response.get_data(as_text=True))
    assert "Le signalement n'est pas encore étayé, rien n'a été envoyé" in text
    assert "Indicateurs : choisissez au moins un indicateur" in text
    assert _fresh(s).state == "brouillon"
    assert outbox == []


def test_the_actions_forms_refuse_what_is_missing(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "en_examen")
    _ministry, auth = client_as(app, w.liaison)
    empty = _act(auth, s, "demander_complement", {"message": "  "})
    assert empty.status_code == 422
    assert "Écrivez ce que vous demandez au financeur." in empty.get_data(as_text=True)
    forward = _act(
        auth,
        s,
        "transmettre_certificateur",
        {"date_transmission": "2999-01-01", "reference_certificateur": ""},
    )
    assert forward.status_code == 422
    text = text_of(forward.get_data(as_text=True))
    assert "Choisissez le certificateur dans la liste, ou écrivez son nom." in text
    assert "La date de transmission ne peut pas être dans le futur." in text
    assert "Indiquez la référence de la transmission" in text
    dismiss = _act(auth, s, "classer_sans_suite", {"motif": "autre"})
    assert dismiss.status_code == 422
    assert "Précisez le motif." in dismiss.get_data(as_text=True)
    assert _fresh(s).state == "en_examen"


def test_a_free_text_certifier_is_recorded(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "en_examen")
    _ministry, auth = client_as(app, w.liaison)
    response = _act(
        auth,
        s,
        "transmettre_certificateur",
        {
            "autre_certificateur": "Certif'Région",
            "date_transmission": clock.today().isoformat(),
            "reference_certificateur": "CR-12",
        },
    )
    assert response.status_code == 303
    forwarded = _fresh(s)
    assert forwarded.certifier_id is None and forwarded.certifier_name == "Certif'Région"


def test_dismissed_with_a_coded_reason_then_closed(app: Flask, outbox) -> None:
    w = make_world()
    s = bring_to(w, "complement_demande")  # no answer came
    _ministry, auth = client_as(app, w.liaison)
    response = _act(
        auth,
        s,
        "classer_sans_suite",
        {"motif": "faits_non_etablis", "precision": "Aucune réponse du financeur."},
    )
    assert response.status_code == 303
    dismissed = _fresh(s)
    assert dismissed.state == "classe_sans_suite"
    assert dismissed.outcome == "sans_suite"
    assert dismissed.outcome_reason_code == "faits_non_etablis"
    assert dismissed.outcome_reason == "Aucune réponse du financeur."
    assert "Aucune réponse du financeur." in outbox[-1].body
    assert _act(auth, s, "clore").status_code == 303
    assert _fresh(s).state == "clos"


def test_merged_with_another_signalement_on_the_same_of(app: Flask) -> None:
    w = make_world()
    kept = bring_to(w, "en_examen")
    duplicate = substantiated(w, author=w.other_controller)
    services.transition(w.other_controller, duplicate, "transmettre")
    _ministry, auth = client_as(app, w.liaison)
    wrong = _act(auth, duplicate, "fusionner", {"fusion": "SIG-99999"})
    assert wrong.status_code == 422
    response = _act(auth, duplicate, "fusionner", {"fusion": kept.reference, "message": "Doublon"})
    assert response.status_code == 303
    merged = _fresh(duplicate)
    assert merged.state == "clos"
    assert merged.outcome == "fusionne" and merged.merged_into_id == kept.id
    assert merged.ministry_assignee_id == w.liaison.id
    page = text_of(
        client_as(app, w.other_controller)[0]
        .get(f"/signalements/{duplicate.id}")
        .get_data(as_text=True)
    )
    assert f"Fusionné avec un autre signalement : le signalement conservé est {kept.reference}" in (
        page
    )


def test_the_approval_step_when_the_funder_requires_it(app: Flask, outbox) -> None:
    w = make_world()
    admin_client, admin_auth = client_as(app, w.admin)
    assert admin_client.get("/signalements/parametres").status_code == 200
    admin_auth.post("/signalements/parametres", {"approbation": "1"})
    assert services.approval_required(w.funder.id)
    s = substantiated(w)
    _controller, auth = client_as(app, w.controller)

    # The controller may not send: the page offers "submit", and sending is refused.
    page = text_of(_controller.get(f"/signalements/{s.id}").get_data(as_text=True))
    assert "Soumettre à l'approbation" in page and "Transmettre au ministère" not in page
    refused = _act(auth, s, "transmettre", follow_redirects=True)
    assert "soumettez le signalement à l'approbation" in text_of(refused.get_data(as_text=True))
    outbox.clear()
    assert _act(auth, s, "soumettre").status_code == 303
    assert _fresh(s).state == "a_approuver"
    assert [m.to[0] for m in outbox] == [w.admin.email]
    # The ministry does not see it yet.
    assert client_as(app, w.liaison)[0].get(f"/signalements/{s.id}").status_code == 404

    # The admin sends it back with a reason, the controller submits again, the admin approves.
    assert _act(admin_auth, s, "renvoyer", {"message": "Précisez les dates."}).status_code == 303
    assert _fresh(s).state == "brouillon"
    assert "Précisez les dates." in outbox[-1].body and outbox[-1].to == [w.controller.email]
    _act(auth, s, "soumettre")
    outbox.clear()
    assert _act(admin_auth, s, "approuver").status_code == 303
    approved = _fresh(s)
    assert approved.state == "transmis"
    assert approved.approved_by_id == w.admin.id and approved.approved_at is not None
    recipients = sorted(m.to[0] for m in outbox)
    assert recipients == sorted([w.liaison.email, w.national.email, w.controller.email])
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "signalement.approuver")
    ).one()
    assert event.details["approved_by"] == w.admin.email


def test_an_admin_sending_directly_records_the_approval(app: Flask) -> None:
    w = make_world()
    services.save_settings(w.admin, approval_required=True)
    s = substantiated(w, author=w.admin)
    _client, auth = client_as(app, w.admin)
    assert _act(auth, s, "transmettre").status_code == 303
    sent = _fresh(s)
    assert sent.state == "transmis" and sent.approved_by_id == w.admin.id


def test_messages_in_the_thread_reach_the_other_side(app: Flask, outbox) -> None:
    w = make_world()
    s = bring_to(w, "en_examen")
    _funder, funder_auth = client_as(app, w.controller)
    outbox.clear()
    response = funder_auth.post(
        f"/signalements/{s.id}/messages", {"message": "Un élément de plus."}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/signalements/{s.id}#fil"
    assert [m.to[0] for m in outbox] == [w.liaison.email]
    assert "nouveau message du financeur" in _notices(w.liaison)[-1]
    empty = funder_auth.post(f"/signalements/{s.id}/messages", {"message": ""})
    assert empty.status_code == 422
    draft = services.create_draft(w.controller, w.provider)
    closed = funder_auth.post(
        f"/signalements/{draft.id}/messages", {"message": "Trop tôt."}, follow_redirects=True
    )
    assert "On ne peut écrire dans le fil" in text_of(closed.get_data(as_text=True))


def test_notices_are_listed_and_marked_read(app: Flask) -> None:
    w = make_world()
    s = bring_to(w, "transmis")
    client, auth = client_as(app, w.liaison)
    page = text_of(client.get("/signalements/notifications").get_data(as_text=True))
    assert "Non lue · " in page and f"{s.reference} (Formation Témoin) : transmis" in page
    response = auth.post("/signalements/notifications/lues", {})
    assert response.status_code == 303
    assert services.unread_count(w.liaison) == 0
