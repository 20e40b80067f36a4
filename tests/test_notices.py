"""The registry of page notices (portal/notices.py) and the OF's home page that uses it."""

from __future__ import annotations

from types import SimpleNamespace

from portal import notices
from portal.notices import Notice, NoticeRegistry
from tests.factories import UserFactory


def _user(role: str) -> SimpleNamespace:
    return SimpleNamespace(role=role)


def test_sources_answer_in_order_and_only_for_their_pages() -> None:
    registry = NoticeRegistry()
    registry.register("first", lambda user: [Notice("first", "a.html", {"role": user.role})])
    registry.register("none", lambda user: [])

    @registry.source("second", pages=(notices.HOME, notices.MY_DOSSIERS))
    def second(user):
        return [Notice("second", "b.html")] if user.role == "provider" else []

    assert [n.name for n in registry.notices_for(_user("provider"))] == ["first", "second"]
    assert [n.name for n in registry.notices_for(_user("controller"))] == ["first"]
    assert registry.notices_for(_user("provider"))[0].data == {"role": "provider"}
    assert [n.name for n in registry.notices_for(_user("provider"), notices.MY_DOSSIERS)] == [
        "second"
    ]
    assert registry.notices_for(_user("provider"), "nowhere") == []
    assert registry.pages() == [notices.MY_DOSSIERS, notices.HOME]


def test_order_decides_before_registration() -> None:
    registry = NoticeRegistry()
    registry.register("late", lambda user: [Notice("late", "l.html")], order=20)
    registry.register("early", lambda user: [Notice("early", "e.html")], order=10)
    assert [n.name for n in registry.notices_for(_user("provider"))] == ["early", "late"]


def test_registering_a_name_again_replaces_it() -> None:
    registry = NoticeRegistry()
    registry.register("one", lambda user: [Notice("one", "old.html")])
    registry.register("one", lambda user: [Notice("one", "new.html")])
    assert [n.template for n in registry.notices_for(_user("provider"))] == ["new.html"]


def test_the_blueprints_register_their_notices(app) -> None:
    assert notices.registry.names(notices.HOME) == [
        "document_requests",
        "quality_nonconformities",
    ]
    assert notices.registry.names(notices.MY_DOSSIERS) == ["document_requests"]


def test_staff_get_no_notice(app) -> None:
    with app.test_request_context():
        for role in ("admin", "funder_admin", "controller", "ministry"):
            assert notices.notices_for(UserFactory(role=role)) == []


def test_each_notice_is_written_by_its_partial(app) -> None:
    notice = Notice("document_requests", "service_fait/_provider_notice.html", {"waiting": []})
    with app.test_request_context():
        html = app.jinja_env.get_template("_notices.html").render(notices=[notice])
    assert "0 demande de pièces attend votre réponse" in html
