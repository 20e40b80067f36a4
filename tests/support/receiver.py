"""A local HTTP receiver of webhooks, in a thread (http.server): it records what it gets,
checks the signature, and answers what the test scripts (500, slowness…)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from portal.webhooks import signing


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    delay: float = 0.0  # seconds before answering (a timeout)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def running_receiver(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            valid = signing.verify(
                receiver.secret,
                headers.get(signing.TIMESTAMP_HEADER),
                headers.get(signing.SIGNATURE_HEADER),
                body,
            )
            if receiver.delay:
                threading.Event().wait(receiver.delay)
            receiver.received.append(Received(headers, body, valid))
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
