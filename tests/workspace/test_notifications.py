"""The news count of the header and the « Nouveautés » page: what is new for each role,
counted in one query, never beyond the user's funder or OF."""

from __future__ import annotations

from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.models import DocumentRequest, QualiopiAlert, Role, Signalement, SignalementState
from portal.models.public_list import ListImport
from portal.models.service_fait import RequestStatus
from tests.factories import DossierFactory, FunderFactory, ProviderFactory


def _request(dossier, status: RequestStatus, due_in_days: int = 7) -> DocumentRequest:
    row = DocumentRequest(
        dossier_id=dossier.id,
        funder_id=dossier.funder_id,
        due_date=clock.today() + timedelta(days=due_in_days),
        message="Pièces manquantes.",
        status=status.value,
    )
    db.session.add(row)
    db.session.commit()
    return row


def _news(client) -> str:
    response = client.get("/nouveautes/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_controller_sees_answers_late_requests_and_ministry_requests(client, login_as):
    user = login_as(Role.CONTROLLER)
    dossier = DossierFactory(funder=user.funder)
    _request(dossier, RequestStatus.ANSWERED)
    _request(dossier, RequestStatus.ANSWERED)
    _request(dossier, RequestStatus.OPEN, due_in_days=-2)
    _request(dossier, RequestStatus.OPEN, due_in_days=5)  # not late: not news
    db.session.add(
        Signalement(
            funder_id=user.funder_id,
            provider_id=dossier.provider_id,
            state=SignalementState.INFO_REQUESTED.value,
        )
    )
    # Another funder's news is not this controller's.
    other = DossierFactory(funder=FunderFactory())
    _request(other, RequestStatus.ANSWERED)
    db.session.commit()

    page = _news(client)

    assert "2 réponses d&#39;organismes à lire" in page
    assert "1 demande de pièces en attente après sa date limite" in page
    assert "1 demande de complément du ministère" in page
    assert "/service-fait/?statut=a_controler" in page
    home = client.get("/").get_data(as_text=True)
    assert 'hx-get="/nouveautes/compte"' in home
    count = client.get("/nouveautes/compte", headers={"HX-Request": "true"})
    assert '<span class="count-badge">4</span>' in count.get_data(as_text=True)


def test_unread_alerts_count_for_the_funder_only(client, login_as):
    user = login_as(Role.FUNDER_ADMIN)
    provider = ProviderFactory()
    run = ListImport(source="test", as_of=clock.today(), status="succeeded", triggered_by="test")
    db.session.add(run)
    db.session.flush()
    for funder_id in (user.funder_id, FunderFactory().id):
        db.session.add(
            QualiopiAlert(
                funder_id=funder_id,
                provider_id=provider.id,
                import_id=run.id,
                nda=provider.nda,
                list_as_of=clock.today(),
            )
        )
    db.session.commit()

    page = _news(client)

    assert "1 alerte de la liste publique non lue" in page


def test_an_of_sees_the_requests_it_must_answer(client, login_as):
    user = login_as(Role.PROVIDER)
    dossier = DossierFactory(provider=user.provider)
    _request(dossier, RequestStatus.OPEN)
    _request(dossier, RequestStatus.CLOSED)
    _request(DossierFactory(), RequestStatus.OPEN)  # another OF's

    page = _news(client)

    assert "1 demande de pièces à laquelle répondre" in page
    assert "/service-fait/organisme/demandes/" in page


def test_nothing_new_says_so(client, login_as):
    login_as(Role.MINISTRY, region_code="76")

    page = _news(client)

    assert "Rien de nouveau" in page
    assert "count-badge" not in page


def test_the_header_count_costs_one_query_whatever_the_role(app, client, login_as, count_queries):
    from portal.notifications import news_for

    for role in Role:
        user = login_as(role, **({"region_code": "76"} if role == Role.MINISTRY else {}))
        with app.test_request_context():
            user = db.session.get(type(user), user.id)
            with count_queries() as counter:
                news_for(user)
        assert counter.count == 1, (role, counter.statements)
