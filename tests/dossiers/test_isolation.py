"""Guessing identifiers reveals nothing: another OF's (or another funder's) dossier, piece
or file answers 404, on GET and POST, with or without HTMX, nothing is stored, and the
refusal is audited."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Document, Piece, Role
from tests.dossiers.piece_helpers import fields_for, make_dossier, make_pdf, stored_files
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.support.auth import csrf_token

PDF = make_pdf("Piece")


@pytest.fixture
def world(app):
    """Funder F funds OF A and OF B; each OF has a dossier with one piece."""
    from werkzeug.datastructures import FileStorage

    from portal.dossiers import pieces as service

    funder = FunderFactory()
    provider_a, provider_b = ProviderFactory(), ProviderFactory()
    dossier_a = make_dossier(funder, provider_a, reference="A-1")
    dossier_b = make_dossier(funder, provider_b, reference="B-1")
    pieces = {}
    for dossier, provider in ((dossier_a, provider_a), (dossier_b, provider_b)):
        owner = UserFactory(role=Role.PROVIDER.value, provider=provider)
        (pieces[dossier.id],) = service.add_pieces(
            owner,
            dossier,
            "releve_depenses",
            fields_for("releve_depenses", dossier),
            [FileStorage(io.BytesIO(PDF), filename="r.pdf")],
        )
    db.session.commit()
    return {
        "funder": funder,
        "provider_a": provider_a,
        "provider_b": provider_b,
        "a": dossier_a.id,
        "b": dossier_b.id,
        "piece_a": pieces[dossier_a.id].id,
        "piece_b": pieces[dossier_b.id].id,
    }


def routes(dossier: int, piece: int) -> list[tuple[str, str]]:
    return [
        ("GET", f"/dossiers/{dossier}"),
        ("GET", f"/dossiers/{dossier}/pieces/nouvelle?type=facture"),
        ("POST", f"/dossiers/{dossier}/pieces/nouvelle?type=facture"),
        ("POST", f"/dossiers/{dossier}/pieces/valider?type=facture&champ=period_start"),
        ("GET", f"/dossiers/{dossier}/pieces/{piece}/remplacer"),
        ("POST", f"/dossiers/{dossier}/pieces/{piece}/remplacer"),
        ("GET", f"/dossiers/{dossier}/pieces/{piece}/fichier"),
    ]


ROUTE_IDS = ["detail", "form", "upload", "validate", "replace-form", "replace", "download"]


def send(client, method: str, path: str, token: str, *, htmx: bool):
    headers = {"X-CSRFToken": token}
    if htmx:
        headers["HX-Request"] = "true"
    if method == "GET":
        return client.get(path, headers=headers)
    data = {
        **{"period_start": "2026-01-01", "period_end": "2026-01-31", "amount": "10"},
        "files": (io.BytesIO(PDF), "intrus.pdf"),
    }
    return client.post(path, data=data, headers=headers, content_type="multipart/form-data")


def denied_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")))


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("index", range(7), ids=ROUTE_IDS)
def test_an_of_guessing_another_ofs_ids_gets_404(app, client, login_as, world, index, htmx) -> None:
    intruder = login_as(Role.PROVIDER, provider=world["provider_b"])
    token = csrf_token(client)
    before_files = stored_files(app)
    before_pieces = db.session.scalar(select(func.count(Piece.id)))
    method, path = routes(world["a"], world["piece_a"])[index]

    response = send(client, method, path, token, htmx=htmx)

    assert response.status_code == 404, (method, path)
    body = response.get_data(as_text=True)
    assert "A-1" not in body and "r.pdf" not in body
    assert db.session.scalar(select(func.count(Piece.id))) == before_pieces
    assert db.session.scalar(select(func.count(Document.id))) == before_pieces
    assert stored_files(app) == before_files
    (refusal,) = denied_events()
    assert refusal.actor_id == intruder.id
    assert refusal.details["dossier_id"] == world["a"]
    assert refusal.details["method"] == method


@pytest.mark.parametrize("index", [4, 5, 6], ids=["replace-form", "replace", "download"])
def test_a_piece_of_another_dossier_is_404_even_through_ones_own_dossier(
    app, client, login_as, world, index
) -> None:
    intruder = login_as(Role.PROVIDER, provider=world["provider_b"])
    token = csrf_token(client)
    method, path = routes(world["b"], world["piece_a"])[index]
    response = send(client, method, path, token, htmx=False)
    assert response.status_code == 404
    (refusal,) = denied_events()
    assert refusal.actor_id == intruder.id
    assert refusal.details["piece_id"] == world["piece_a"]
    assert refusal.details["reason"] == "pièce d'un autre dossier"


@pytest.mark.parametrize("index", range(7), ids=ROUTE_IDS)
def test_identifiers_that_do_not_exist_are_404(client, login_as, world, index) -> None:
    login_as(Role.PROVIDER, provider=world["provider_a"])
    token = csrf_token(client)
    method, path = routes(999_999, 999_999)[index]
    assert send(client, method, path, token, htmx=False).status_code == 404


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_controller_of_another_funder_gets_404(client, login_as, world, htmx) -> None:
    login_as(Role.CONTROLLER, funder=FunderFactory())
    token = csrf_token(client)
    for index in (0, 6):  # the routes funder staff may use: the page and the file
        method, path = routes(world["a"], world["piece_a"])[index]
        assert send(client, method, path, token, htmx=htmx).status_code == 404
    assert len(denied_events()) == 2
    # Sending pieces is the OF's: refused by role, whatever the dossier (nothing to guess).
    method, path = routes(world["a"], world["piece_a"])[1]
    assert send(client, method, path, token, htmx=htmx).status_code == 403


def test_the_owners_reach_everything(client, login_as, world) -> None:
    login_as(Role.PROVIDER, provider=world["provider_a"])
    for index in (0, 1, 4):
        _method, path = routes(world["a"], world["piece_a"])[index]
        assert client.get(path).status_code == 200, path
    download = client.get(routes(world["a"], world["piece_a"])[6][1])
    assert download.status_code == 200 and download.get_data() == PDF
    download.close()
    assert denied_events() == []


def test_the_controller_of_the_funder_sees_both_ofs_dossiers(client, login_as, world) -> None:
    login_as(Role.CONTROLLER, funder=world["funder"])
    for dossier, piece in ((world["a"], world["piece_a"]), (world["b"], world["piece_b"])):
        assert client.get(f"/dossiers/{dossier}").status_code == 200
        download = client.get(f"/dossiers/{dossier}/pieces/{piece}/fichier")
        assert download.status_code == 200
        download.close()
