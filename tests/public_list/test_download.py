"""Importing from a URL: a local HTTP server plays data.gouv.fr."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.errors import Refused
from portal.extensions import db
from portal.models import ImportStatus, ListImport
from portal.public_list.importer import import_list
from tests.public_list.lists import CARAIBES, GARONNE, write_list


class FakeDataGouv:
    """Answers from a queue of (status, body, headers); records the requests it got."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                status, body, headers = server.responses.pop(0)
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fr/datasets/r/liste.csv"

    def serve(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.responses.append((status, body, {k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.fixture
def datagouv() -> Iterator[FakeDataGouv]:
    fake = FakeDataGouv()
    thread = threading.Thread(target=fake.httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def _list(tmp_path: Path) -> bytes:
    return write_list(tmp_path / "l.csv", [GARONNE, CARAIBES]).read_bytes()


def test_download_then_unchanged_thanks_to_the_etag(app, datagouv, tmp_path) -> None:
    datagouv.serve(200, _list(tmp_path), ETag='"v1"', Last_Modified="Sun, 01 Mar 2026 06:00:00 GMT")
    first = import_list(datagouv.url, as_of=date(2026, 3, 1))
    assert first.status == ImportStatus.SUCCEEDED and first.rows_kept == 2
    assert first.etag == '"v1"'
    datagouv.serve(304)
    second = import_list(datagouv.url, as_of=date(2026, 3, 2))
    assert second.status == ImportStatus.UNCHANGED
    assert datagouv.requests[1]["If-None-Match"] == '"v1"'
    assert datagouv.requests[1]["If-Modified-Since"] == "Sun, 01 Mar 2026 06:00:00 GMT"
    assert "portail-qualite" in datagouv.requests[0]["User-Agent"]


def test_server_errors_are_retried(app, datagouv, tmp_path) -> None:
    datagouv.serve(503, b"indisponible")
    datagouv.serve(502, b"passerelle")
    datagouv.serve(200, _list(tmp_path))
    run = import_list(datagouv.url, as_of=date(2026, 3, 1))
    assert run.status == ImportStatus.SUCCEEDED
    assert len(datagouv.requests) == 3


def test_a_persistent_error_is_refused_and_the_list_kept(app, datagouv, tmp_path) -> None:
    datagouv.serve(200, _list(tmp_path))
    import_list(datagouv.url, as_of=date(2026, 3, 1))
    for _ in range(4):
        datagouv.serve(500, b"erreur")
    with pytest.raises(Refused, match="HTTP 500"):
        import_list(datagouv.url, as_of=date(2026, 3, 2))
    in_force = db.session.scalars(
        select(ListImport).where(ListImport.status == ImportStatus.SUCCEEDED)
    ).one()
    assert in_force.as_of == date(2026, 3, 1)


def test_an_html_error_page_is_refused(app, datagouv) -> None:
    datagouv.serve(200, b"<!doctype html><html><body>Maintenance</body></html>")
    with pytest.raises(Refused, match="page HTML"):
        import_list(datagouv.url, as_of=date(2026, 3, 1))


def test_a_truncated_download_is_refused(app, datagouv, tmp_path) -> None:
    body = _list(tmp_path)
    datagouv.serve(200, body[:200], Content_Length=str(len(body)))
    with pytest.raises(Refused, match="Téléchargement"):
        import_list(datagouv.url, as_of=date(2026, 3, 1))


def test_an_unreachable_server_is_refused_in_french(app) -> None:
    with pytest.raises(Refused, match="Téléchargement impossible"):
        import_list("http://127.0.0.1:9/liste.csv", as_of=date(2026, 3, 1))
