"""Requests for documents: the loop through the web client (the controller asks, the OF
sees exactly what is asked and answers with a file and a message, the controller sees the
answer), mails, access, refused uploads, closing, templates."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from decimal import Decimal

from flask import Flask, render_template
from sqlalchemy import func, select

from portal import clock
from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import (
    AuditEvent,
    ControlMessage,
    ControlStatus,
    Document,
    DocumentRequest,
    MessageTemplate,
    RequestStatus,
    Role,
    ServiceFaitControl,
)
from portal.service_fait import document_requests as service
from tests.dossiers.piece_helpers import stored_files
from tests.dossiers.test_pieces import fetch
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.service_fait.request_helpers import (
    answer,
    ask,
    first_slot_key,
    make_dossier,
    make_pdf,
    setup_dossier,
    text_of,
)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _only_request() -> DocumentRequest:
    db.session.expire_all()
    return db.session.scalars(select(DocumentRequest)).one()


def _control_status(dossier_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(
        select(ServiceFaitControl.status).where(ServiceFaitControl.dossier_id == dossier_id)
    )


def _add_invoice(dossier, user):
    from tests.dossiers.piece_helpers import first_month

    start, end = first_month(dossier)
    from datetime import date

    from werkzeug.datastructures import FileStorage

    pieces = pieces_service.add_pieces(
        user,
        dossier,
        "facture",
        {
            "period_start": date.fromisoformat(start),
            "period_end": date.fromisoformat(end),
            "invoice_number": "F-1",
            "invoice_date": date.fromisoformat(end),
            "amount_excl_tax": Decimal("1000"),
            "amount_incl_tax": Decimal("1200"),
            "hours_billed": Decimal("70"),
        },
        [FileStorage(__import__("io").BytesIO(make_pdf()), filename="facture-aout.pdf")],
    )
    db.session.commit()
    return pieces[0]


def test_the_request_loop_end_to_end(app: Flask, auth, outbox) -> None:
    s = setup_dossier()
    invoice = _add_invoice(s.dossier, s.provider_user)
    certificate_key = first_slot_key(s.dossier, "certificat_realisation")
    today = clock.today()
    due = today + timedelta(days=10)

    # The controller: the form lists the expected pieces and the pieces received.
    auth.log_in(s.controller)
    form_page = auth.client.get(f"/service-fait/dossiers/{s.dossier.id}/demandes/nouvelle")
    assert form_page.status_code == 200
    html = form_page.get_data(as_text=True)
    assert certificate_key in html
    assert f'value="piece:{invoice.id}"' in html
    assert f'value="{(today + timedelta(days=15)).isoformat()}"' in html  # default due date
    assert "Pièces manquantes" in html  # a portal template, created on first use

    response = ask(
        auth,
        s.dossier,
        [certificate_key, f"piece:{invoice.id}"],
        **{
            f"motif-piece:{invoice.id}": "Le montant TTC ne correspond pas au devis.",
            "message": "Bonjour, merci de compléter le dossier.",
            "due_date": due.isoformat(),
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#requests-panel")
    created = _only_request()
    assert created.status == RequestStatus.OPEN
    assert created.due_date == due
    assert [(i["kind"], i["piece_id"], i["reason"]) for i in created.items] == [
        ("certificat_realisation", None, ""),
        ("facture", invoice.id, "Le montant TTC ne correspond pas au devis."),
    ]
    assert _control_status(s.dossier.id) == ControlStatus.WAITING_PROVIDER
    (event,) = _events("service_fait.request_created")
    assert event.actor_id == s.controller.id
    assert event.details["dossier_id"] == s.dossier.id
    assert event.details["due_date"] == due.isoformat()

    # The OF's users are told by email: the dossier, the items, the due date, the link.
    (mail,) = outbox
    assert mail.to == [s.provider_user.email]
    assert s.dossier.reference in mail.subject
    assert f"Dossier {s.dossier.reference}" in mail.subject
    assert due.strftime("%d/%m/%Y") in mail.body
    assert "Certificat de réalisation du " in mail.body
    assert "Le montant TTC ne correspond pas au devis." in mail.body
    assert f"/service-fait/organisme/demandes/{created.id}" in mail.body
    auth.logout()

    # The OF: a notice on its home and dossiers pages, and exactly what is asked.
    auth.log_in(s.provider_user)
    home = text_of(auth.client.get("/").get_data(as_text=True))
    assert "1 demande de pièces attend votre réponse" in home
    assert f"Dossier {s.dossier.reference}" in home
    mine = text_of(auth.client.get("/dossiers/").get_data(as_text=True))
    assert "1 demande de pièces attend votre réponse" in mine
    detail = text_of(auth.client.get(f"/dossiers/{s.dossier.id}").get_data(as_text=True))
    assert "Demandes de pièces du financeur" in detail
    assert "1 demande(s) attendent votre réponse." in detail

    page = auth.client.get(f"/service-fait/organisme/demandes/{created.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", html, flags=re.S)
    assert [(label.strip(), reason.strip()) for label, reason in rows] == [
        (item["label"], item["reason"] or "—") for item in created.items
    ]
    assert "Bonjour, merci de compléter le dossier." in html
    assert due.strftime("%d/%m/%Y") in html
    # Links to the dossier's upload pages: a new certificate for the period, the invoice
    # to replace.
    assert f"/dossiers/{s.dossier.id}/pieces/nouvelle?type=certificat_realisation" in html
    assert f"/dossiers/{s.dossier.id}/pieces/{invoice.id}/remplacer" in html

    before = stored_files(app)
    pdf = make_pdf()
    response = answer(auth, created.id, "Voici le certificat signé.", [("certificat.pdf", pdf)])
    assert response.status_code == 303
    answered = _only_request()
    assert answered.status == RequestStatus.ANSWERED
    assert answered.answered_at is not None
    assert _control_status(s.dossier.id) == ControlStatus.TO_CONTROL
    reply = db.session.scalars(
        select(ControlMessage).where(ControlMessage.side == service.SIDE_PROVIDER)
    ).one()
    assert reply.body == "Voici le certificat signé."
    (document,) = reply.documents
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()
    assert document.original_name == "certificat.pdf"
    assert stored_files(app) - before == {document.storage_key}
    (event,) = _events("service_fait.request_answered")
    assert event.actor_id == s.provider_user.id
    assert event.details["files"][0]["sha256"] == document.sha256
    # The notice is gone.
    assert "attend votre réponse" not in text_of(auth.client.get("/").get_data(as_text=True))

    # The controller is told, and sees the answer with its file.
    answered_mail = outbox[-1]
    assert answered_mail.to == [s.controller.email]
    assert "a répondu" in answered_mail.subject
    assert "Voici le certificat signé." in answered_mail.body
    assert "certificat.pdf" in answered_mail.body
    auth.logout()
    auth.log_in(s.controller)
    page = auth.client.get(f"/service-fait/demandes/{created.id}")
    html = page.get_data(as_text=True)
    assert "Voici le certificat signé." in html
    assert "Réponse reçue" in html
    link = f"/service-fait/dossiers/{s.dossier.id}/messages/{reply.id}/fichiers/{document.id}"
    assert link in html
    download = fetch(auth.client, link)
    assert download.status_code == 200
    assert download.data == pdf
    assert "attachment" in download.headers["Content-Disposition"]
    assert _events("service_fait.attachment_downloaded")


def test_the_panel_shows_the_thread_and_the_form(app: Flask, auth) -> None:
    s = setup_dossier()
    service.create_request(
        s.controller,
        s.dossier,
        selected=[first_slot_key(s.dossier)],
        reasons={},
        message="Il manque la facture.",
        due_date=clock.today() + timedelta(days=3),
    )
    db.session.commit()  # the test body is its own edge (services do not commit)
    with app.test_request_context():
        html = render_template(
            "service_fait/_requests_panel.html",
            requests_panel=service.panel_context(s.dossier, s.controller),
        )
    assert 'id="requests-panel"' in html
    assert "1 demande(s) en attente de l'organisme." in text_of(html)
    assert "Il manque la facture." in html
    assert 'id="request-form"' in html
    assert "Clore la demande" in html
    assert f"/service-fait/dossiers/{s.dossier.id}/dossier-de-controle.zip" in html


def test_the_request_form_refuses_what_is_missing(app: Flask, auth, outbox) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    yesterday = clock.today() - timedelta(days=1)
    response = ask(auth, s.dossier, [], message="  ", due_date=yesterday.isoformat())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert service.NO_ITEM in text_of(html)
    assert service.NO_MESSAGE in text_of(html)
    assert service.DUE_IN_PAST in text_of(html)
    assert "<html" in html  # without JavaScript: the whole page

    # With HTMX: the form alone, with what was typed.
    key = first_slot_key(s.dossier)
    response = ask(
        auth,
        s.dossier,
        [key, "autre"],
        message="Un message",
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="request-form"')
    assert service.OTHER_NEEDS_REASON in text_of(html)
    assert f'value="{key}" checked' in html
    assert "Un message" in html
    assert db.session.scalar(select(func.count(DocumentRequest.id))) == 0
    assert outbox == []


def test_the_request_is_sent_with_htmx(app: Flask, auth, outbox) -> None:
    s = setup_dossier()
    auth.log_in(s.controller)
    response = ask(auth, s.dossier, [first_slot_key(s.dossier)], headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/service-fait/dossiers/{s.dossier.id}"
    assert _only_request().status == RequestStatus.OPEN
    assert len(outbox) == 1


def test_templates_fill_the_message(app: Flask, auth) -> None:
    s = setup_dossier()
    other = MessageTemplate(
        funder_id=FunderFactory().id, title="Modèle étranger", body="Texte secret"
    )
    own = MessageTemplate(funder_id=s.dossier.funder_id, title="Le nôtre", body="Notre texte")
    db.session.add_all([other, own])
    db.session.commit()
    auth.log_in(s.controller)
    page = auth.client.get(f"/service-fait/dossiers/{s.dossier.id}/demandes/nouvelle")
    html = page.get_data(as_text=True)
    assert "Le nôtre" in html
    assert "Texte secret" not in html and "Modèle étranger" not in html

    # HTMX: the message box, filled.
    part = auth.client.get(
        f"/service-fait/dossiers/{s.dossier.id}/demandes/modele?modele={own.id}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert part.startswith('<div id="message-field">')
    assert "Notre texte" in part
    part = auth.client.get(
        f"/service-fait/dossiers/{s.dossier.id}/demandes/modele?modele={other.id}"
    ).get_data(as_text=True)
    assert "Texte secret" not in part

    # Without JavaScript: "Reprendre le modèle" posts and shows the form with the text.
    response = ask(auth, s.dossier, [], action="modele", modele=str(own.id), message="")
    assert response.status_code == 200
    assert "Notre texte</textarea>" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(DocumentRequest.id))) == 0


def _make_request(s, **values) -> DocumentRequest:
    request = service.create_request(
        s.controller,
        s.dossier,
        selected=values.pop("selected", [first_slot_key(s.dossier)]),
        reasons={},
        message=values.pop("message", "Merci d'envoyer la facture."),
        due_date=values.pop("due_date", clock.today() + timedelta(days=15)),
    )
    return request


def test_another_of_or_another_funder_gets_404(app: Flask, auth, outbox) -> None:
    s = setup_dossier()
    created = _make_request(s)
    reply = service.answer_request(
        s.provider_user, created, message="Voici", files=[_file("piece.pdf", make_pdf())]
    )
    document = reply.documents[0]
    file_path = f"/service-fait/dossiers/{s.dossier.id}/messages/{reply.id}/fichiers/{document.id}"

    other_of = UserFactory(role=Role.PROVIDER.value, provider=ProviderFactory())
    auth.log_in(other_of)
    assert auth.client.get(f"/service-fait/organisme/demandes/{created.id}").status_code == 404
    assert answer(auth, created.id, "Intrus").status_code == 404
    assert fetch(auth.client, file_path).status_code == 404
    listing = text_of(auth.client.get("/service-fait/organisme/demandes/").text)
    assert f"Dossier {s.dossier.reference}" not in listing
    auth.logout()

    other_controller = UserFactory(role=Role.CONTROLLER.value, funder=FunderFactory())
    auth.log_in(other_controller)
    assert auth.client.get(f"/service-fait/demandes/{created.id}").status_code == 404
    assert (
        auth.client.get(f"/service-fait/dossiers/{s.dossier.id}/demandes/nouvelle").status_code
        == 404
    )
    assert ask(auth, s.dossier, [first_slot_key(s.dossier)]).status_code == 404
    response = auth.post(
        f"/service-fait/demandes/{created.id}/clore", {"outcome": service.CLOSE_SETTLED}
    )
    assert response.status_code == 404
    assert fetch(auth.client, file_path).status_code == 404
    auth.logout()

    # The OF cannot reach the controller's pages; the controller not the OF's.
    auth.log_in(s.provider_user)
    assert auth.client.get(f"/service-fait/demandes/{created.id}").status_code == 403
    own = fetch(auth.client, file_path)  # its own answer's file
    assert own.status_code == 200
    auth.logout()
    auth.log_in(s.controller)
    assert auth.client.get(f"/service-fait/organisme/demandes/{created.id}").status_code == 403

    db.session.expire_all()
    assert _only_request().status == RequestStatus.ANSWERED
    assert db.session.scalar(select(func.count(DocumentRequest.id))) == 1
    denied = _events("access.denied")
    assert len(denied) >= 8
    assert len(outbox) == 2  # the request, the answer: nothing else was sent


def _file(name: str, content: bytes):
    import io

    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(content), filename=name)


def test_a_refused_upload_leaves_everything_as_it_was(app: Flask, auth, outbox) -> None:
    s = setup_dossier()
    created = _make_request(s)
    outbox.clear()
    auth.log_in(s.provider_user)
    before_files = stored_files(app)
    before_messages = db.session.scalar(select(func.count(ControlMessage.id)))
    response = answer(
        auth,
        created.id,
        "Voici les pièces.",
        [("bon.pdf", make_pdf()), ("image.png", b"<!doctype html><title>piege</title>")],
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "« image.png »" in html
    assert "Rien n'a été envoyé" in text_of(html)
    assert "Voici les pièces.</textarea>" in html  # what was typed stays

    db.session.expire_all()
    assert _only_request().status == RequestStatus.OPEN
    assert _only_request().answered_at is None
    assert db.session.scalar(select(func.count(ControlMessage.id))) == before_messages
    assert db.session.scalar(select(func.count(Document.id))) == 0
    assert stored_files(app) == before_files
    assert _control_status(s.dossier.id) == ControlStatus.WAITING_PROVIDER
    assert outbox == []
    (event,) = _events("service_fait.answer_upload_refused")
    assert event.details["dossier_id"] == s.dossier.id
    assert _events("service_fait.request_answered") == []


def test_an_answer_needs_a_message_and_a_closed_request_takes_none(app: Flask, auth) -> None:
    s = setup_dossier()
    created = _make_request(s)
    auth.log_in(s.provider_user)
    response = answer(auth, created.id, "   ", [("bon.pdf", make_pdf())])
    assert response.status_code == 200
    assert service.NO_ANSWER_MESSAGE in text_of(response.get_data(as_text=True))
    assert _only_request().status == RequestStatus.OPEN

    service.close_request(s.controller, _only_request(), outcome=service.CLOSE_WITHDRAWN)
    page = auth.client.get(f"/service-fait/organisme/demandes/{created.id}").get_data(as_text=True)
    assert "Cette demande est close" in text_of(page)
    assert 'id="answer-form"' not in page
    response = answer(auth, created.id, "Trop tard ?")
    assert service.REQUEST_CLOSED in text_of(response.get_data(as_text=True))
    assert _only_request().status == RequestStatus.CLOSED


def test_the_controller_closes_a_request(app: Flask, auth) -> None:
    s = setup_dossier()
    created = _make_request(s)
    assert _control_status(s.dossier.id) == ControlStatus.WAITING_PROVIDER
    auth.log_in(s.controller)
    response = auth.post(
        f"/service-fait/demandes/{created.id}/clore",
        {"outcome": service.CLOSE_SETTLED, "note": "Reçu par courrier."},
    )
    assert response.status_code == 303
    closed = _only_request()
    assert closed.status == RequestStatus.CLOSED
    assert closed.closed_at is not None
    assert _control_status(s.dossier.id) == ControlStatus.TO_CONTROL
    last = db.session.scalars(select(ControlMessage).order_by(ControlMessage.id.desc())).first()
    assert "Réglée" in last.body and "Reçu par courrier." in last.body
    (event,) = _events("service_fait.request_closed")
    assert event.details["outcome"] == service.CLOSE_SETTLED
    # Closing twice is refused, and says so.
    response = auth.post(
        f"/service-fait/demandes/{created.id}/clore",
        {"outcome": service.CLOSE_SETTLED},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert len(_events("service_fait.request_closed")) == 1


def test_the_answer_goes_to_the_assignee_or_the_funders_controllers(app: Flask, outbox) -> None:
    s = setup_dossier()
    colleague = UserFactory(role=Role.CONTROLLER.value, funder=s.dossier.funder)
    UserFactory(role=Role.CONTROLLER.value, funder=FunderFactory())  # another funder's
    created = _make_request(s)
    outbox.clear()
    service.answer_request(s.provider_user, created, message="Voici")
    assert sorted(m.to[0] for m in outbox) == sorted([s.controller.email, colleague.email])

    control = db.session.scalar(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == s.dossier.id)
    )
    control.assigned_to_id = colleague.id
    db.session.commit()
    outbox.clear()
    service.answer_request(s.provider_user, _only_request(), message="Et encore ceci")
    assert [m.to[0] for m in outbox] == [colleague.email]


def test_the_of_lists_its_requests(app: Flask, auth) -> None:
    s = setup_dossier()
    _make_request(s)
    other = make_dossier(provider=ProviderFactory())
    other_controller = UserFactory(role=Role.CONTROLLER.value, funder=other.funder)
    service.create_request(
        other_controller,
        other,
        selected=[first_slot_key(other)],
        reasons={},
        message="Autre",
        due_date=clock.today(),
    )
    auth.log_in(s.provider_user)
    page = text_of(auth.client.get("/service-fait/organisme/demandes/").get_data(as_text=True))
    assert f"Dossier {s.dossier.reference}" in page
    assert f"Dossier {other.reference}" not in page
    assert "1 demande(s) attendent votre réponse." in page


def test_funder_admins_manage_their_templates(app: Flask, auth, login_as) -> None:
    admin = login_as(Role.FUNDER_ADMIN)
    page = auth.client.get("/service-fait/modeles").get_data(as_text=True)
    assert "Pièces manquantes" in page  # the portal's defaults
    response = auth.post(
        "/service-fait/modeles/nouveau",
        {"title": "Relevé de connexions", "body": "Merci d'envoyer les relevés."},
        token_from="/service-fait/modeles/nouveau",
    )
    assert response.status_code == 303
    template = db.session.scalars(
        select(MessageTemplate).where(MessageTemplate.funder_id == admin.funder_id)
    ).one()
    response = auth.post(
        f"/service-fait/modeles/{template.id}/modifier",
        {"title": "Relevés de connexion", "body": "Nouveau texte"},
        token_from=f"/service-fait/modeles/{template.id}/modifier",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(MessageTemplate, template.id).body == "Nouveau texte"
    # The portal's templates and another funder's are not editable here.
    default = db.session.scalars(
        select(MessageTemplate).where(MessageTemplate.funder_id.is_(None))
    ).first()
    assert auth.client.get(f"/service-fait/modeles/{default.id}/modifier").status_code == 404
    response = auth.post(f"/service-fait/modeles/{default.id}/supprimer", {})
    assert response.status_code == 404
    template_id = template.id
    response = auth.post(f"/service-fait/modeles/{template_id}/supprimer", {})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(MessageTemplate, template_id) is None
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("service_fait.template_created") == 1
    assert actions.count("service_fait.template_updated") == 1
    assert actions.count("service_fait.template_deleted") == 1
    auth.logout()
    login_as(Role.CONTROLLER)
    assert auth.client.get("/service-fait/modeles").status_code == 403


def test_the_control_page_shows_the_panel(app: Flask, auth) -> None:
    s = setup_dossier()
    _make_request(s)
    auth.log_in(s.controller)
    page = auth.client.get(f"/service-fait/dossiers/{s.dossier.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="requests-panel"' in html
    assert "Merci d'envoyer la facture." in text_of(html)
    assert 'id="request-form"' in html


def test_the_of_list_and_notice_take_a_fixed_number_of_queries(
    app: Flask, auth, count_queries
) -> None:
    s = setup_dossier()
    auth.log_in(s.provider_user)

    def counted(path: str) -> int:
        with count_queries() as counter:
            assert auth.client.get(path).status_code == 200
        return counter.count

    _make_request(s)
    few = counted("/service-fait/organisme/demandes/"), counted("/")
    for _ in range(4):
        other = make_dossier(s.dossier.funder, s.dossier.provider)
        service.create_request(
            s.controller,
            other,
            selected=[first_slot_key(other)],
            reasons={},
            message="Encore",
            due_date=clock.today(),
        )
    many = counted("/service-fait/organisme/demandes/"), counted("/")
    assert many == few
