"""The home page's to-do list (portal/todo.py): per role, counts of what waits, each line
leading to its list filtered the same way, inside the user's funder or region, read in
one query."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest

from portal import clock, todo
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    DocumentRequest,
    ImportStatus,
    ListImport,
    QualiopiAlert,
    RequestStatus,
    Role,
    Signalement,
    SignalementState,
)
from portal.quality.rules import NcStatus
from portal.service_fait.controls import control_for
from tests.dossiers.piece_helpers import make_dossier
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.quality.corrective_helpers import make_control, make_world, row
from tests.service_fait.control_helpers import dossier_of


def _request(dossier, status: str, due_in_days: int) -> DocumentRequest:
    request = DocumentRequest(
        dossier_id=dossier.id,
        funder_id=dossier.funder_id,
        due_date=clock.today() + timedelta(days=due_in_days),
        items=[],
        message="Merci d'envoyer la feuille d'émargement.",
        status=status,
    )
    db.session.add(request)
    db.session.commit()
    return request


def _import(status: str) -> ListImport:
    run = ListImport(source="liste.csv", as_of=clock.today(), status=status, triggered_by="système")
    db.session.add(run)
    db.session.commit()
    return run


def _signalement(world, state: str, *, sent_days_ago: int | None = None, region="76"):
    sent = utcnow() - timedelta(days=sent_days_ago) if sent_days_ago is not None else None
    signalement = Signalement(
        funder_id=world.funder.id,
        provider_id=world.provider.id,
        state=state,
        region_code=region,
        sent_at=sent,
    )
    db.session.add(signalement)
    db.session.commit()
    return signalement


def _other_world() -> SimpleNamespace:
    funder, provider = FunderFactory(), ProviderFactory()
    return SimpleNamespace(
        funder=funder,
        provider=provider,
        controller=UserFactory(role=Role.CONTROLLER.value, funder=funder),
        dossier=make_dossier(funder, provider),
        partner_dossier=make_dossier(funder, provider),
    )


@pytest.fixture
def world(app):
    """Two funders' worth of work: every count of the lead funder's staff has something,
    and the other funder's items must never be counted."""
    w = make_world()
    other = _other_world()  # another funder, another OF: never counted
    # Service fait: two to control for the controller, one unassigned, and one of the
    # other funder; an answered request and a late one.
    mine = [dossier_of(w.funder, w.provider) for _ in range(2)]
    for dossier in mine:
        control_for(dossier).assigned_to_id = w.controller.id
    unassigned = dossier_of(w.funder, w.provider)
    db.session.commit()
    dossier_of(other.funder, other.provider)
    _request(mine[0], RequestStatus.ANSWERED.value, 5)
    _request(unassigned, RequestStatus.OPEN.value, -2)
    _request(unassigned, RequestStatus.OPEN.value, 3)  # not late
    _request(dossier_of(other.funder, other.provider), RequestStatus.ANSWERED.value, 5)
    # Qualiopi alerts: one not acknowledged, one acknowledged, one of the other funder.
    runs = [_import(ImportStatus.SUCCEEDED), _import(ImportStatus.UNCHANGED)]
    for run, funder, seen in (
        (runs[0], w.funder, False),
        (runs[1], w.funder, True),
        (runs[0], other.funder, False),
    ):
        db.session.add(
            QualiopiAlert(
                funder_id=funder.id,
                provider_id=w.provider.id,
                import_id=run.id,
                nda=w.provider.nda,
                left_list=True,
                list_as_of=clock.today(),
                acknowledged_at=utcnow() if seen else None,
            )
        )
    db.session.commit()
    _import(ImportStatus.FAILED)  # since the last list in force: a problem
    # Quality: an NC answered by the OF (to review), one still open.
    control = make_control(w)
    row(control, "2").nc_status = NcStatus.ANSWERED.value
    other_control = make_control(other, partner=False)
    row(other_control, "2").nc_status = NcStatus.ANSWERED.value
    db.session.commit()
    # Signalements: info requested, awaiting approval; sent (new) and stale for the liaison.
    _signalement(w, SignalementState.INFO_REQUESTED.value, sent_days_ago=3)
    _signalement(w, SignalementState.AWAITING_APPROVAL.value)
    _signalement(w, SignalementState.SENT.value, sent_days_ago=1)
    _signalement(w, SignalementState.UNDER_REVIEW.value, sent_days_ago=400)
    _signalement(other, SignalementState.SENT.value, sent_days_ago=1, region="11")
    _signalement(other, SignalementState.INFO_REQUESTED.value, sent_days_ago=3)
    UserFactory(role=Role.CONTROLLER.value, funder=w.funder, password_hash=None)  # invited
    UserFactory(role=Role.CONTROLLER.value, funder=other.funder, password_hash=None)
    return w


def _counts(groups) -> dict[str, int]:
    return {line.key: line.count for group in groups for line in group.lines}


def _line(html: str, key: str) -> tuple[int, str]:
    """The count and the link of a home-page line."""
    found = re.search(
        rf'<li id="todo-{key}"[^>]*>\s*<a href="([^"]*)"><span class="todo-count">(\d+)</span>',
        html,
    )
    assert found, key
    return int(found.group(2)), unescape(found.group(1))


def test_the_controller_sees_the_work_of_their_funder_only(app, world):
    with app.test_request_context():
        counts = _counts(todo.controller_todo(world.controller))
    assert counts == {
        "mine": 2,
        "unassigned": 1,
        "answered": 1,
        "late_requests": 1,
        "alerts": 1,
        "nc_answers": 1,
        "info_requested": 1,
    }


def test_the_funder_admin_also_sees_approvals_imports_and_invitations(app, world):
    with app.test_request_context():
        counts = _counts(todo.funder_admin_todo(world.admin))
    assert counts["unassigned"] == 1
    assert counts["mine"] == 0  # nothing assigned to the admin
    assert counts["to_approve"] == 1
    assert counts["troubled_imports"] == 1
    assert counts["pending_users"] == 1  # their funder's invitation, not the other's


def test_an_import_in_force_settles_the_problems_before_it(app, world):
    _import(ImportStatus.UNCHANGED)
    with app.test_request_context():
        assert _counts(todo.funder_admin_todo(world.admin))["troubled_imports"] == 0


def test_the_liaison_sees_new_and_stale_signalements_of_their_region(app, world):
    liaison = UserFactory(role=Role.MINISTRY.value, region_code="76")
    with app.test_request_context():
        counts = _counts(todo.liaison_todo(liaison))
    assert counts == {"new_signalements": 1, "stale_signalements": 1}
    national = UserFactory(role=Role.MINISTRY.value, region_code=None)
    with app.test_request_context():
        assert _counts(todo.liaison_todo(national))["new_signalements"] == 2


def test_the_admin_sees_imports_and_every_invitation(app, world):
    admin = UserFactory(role=Role.ADMIN.value)
    with app.test_request_context():
        counts = _counts(todo.admin_todo(admin))
    assert counts == {"troubled_imports": 1, "pending_users": 2}


@pytest.mark.parametrize("role", ["controller", "funder_admin", "ministry", "admin"])
def test_every_role_reads_its_counts_in_one_query(app, world, count_queries, role):
    user = {
        "controller": world.controller,
        "funder_admin": world.admin,
        "ministry": UserFactory(role=Role.MINISTRY.value, region_code="76"),
        "admin": UserFactory(role=Role.ADMIN.value),
    }[role]
    user_id, funder_id = user.id, user.funder_id  # (the user is loaded, as in a request)
    assert user_id and (funder_id or role in ("ministry", "admin"))
    with app.test_request_context(), count_queries() as counter:
        groups = todo.todo_for(user)
    assert groups
    assert counter.count == 1, counter.statements


def test_the_provider_keeps_its_notices_and_has_no_todo(app):
    with app.test_request_context():
        assert todo.todo_for(UserFactory(role=Role.PROVIDER.value)) == []


def _rows_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("mine", "assigne=moi"),
        ("unassigned", "assigne=personne"),
        ("answered", "demande=repondue"),
        ("late_requests", "demande=en_retard"),
    ],
)
def test_each_queue_line_opens_the_queue_filtered_on_it(auth, world, key, expected):
    auth.log_in(world.controller)
    client = auth.client
    html = _rows_of(client, "/")
    count, link = _line(html, key)
    assert expected in link
    queue = _rows_of(client, link)
    # The queue says how many dossiers it lists: the same number as the home page.
    assert re.search(rf"<p>{count} dossiers?\.", queue), (key, count)


def test_the_other_lines_open_their_lists_filtered(auth, world):
    auth.log_in(world.controller)
    client = auth.client
    html = _rows_of(client, "/")
    count, link = _line(html, "alerts")
    assert count == 1 and link.endswith("/qualiopi/alertes?etat=non_vue")
    alerts = _rows_of(client, link)
    assert alerts.count("Marquer comme vue") == 1
    assert "Vue par" not in alerts
    count, link = _line(html, "nc_answers")
    assert count == 1 and "statut=reponse" in link
    assert "Réponse de l'organisme à examiner" in unescape(_rows_of(client, link))
    count, link = _line(html, "info_requested")
    assert count == 1 and "etat=complement_demande" in link
    _rows_of(client, link)


def test_the_funder_admin_lines_open_imports_and_invitations(auth, world):
    auth.log_in(world.admin)
    client = auth.client
    html = _rows_of(client, "/")
    count, link = _line(html, "troubled_imports")
    assert count == 1
    imports = unescape(_rows_of(client, link))
    assert "échec" in imports and "importée" not in imports
    count, link = _line(html, "pending_users")
    assert count == 1
    assert "Invitation en attente" in unescape(_rows_of(client, link))


def test_a_line_with_nothing_to_do_is_shown_quietly(auth, world):
    auth.log_in(world.admin)
    client = auth.client
    html = _rows_of(client, "/")
    assert 'id="todo-mine" class="todo-none"' in html
    assert 'id="todo-late_requests" class="todo-waiting todo-urgent"' in html
