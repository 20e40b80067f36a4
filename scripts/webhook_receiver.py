"""A local webhook receiver: prints every notification and whether its signature holds.

    python scripts/webhook_receiver.py --secret whsec_… [--port 8765]

Register http://127.0.0.1:8765/ as a receiver (Administration > Accès API, or
``POST /api/v1/webhooks``), start ``flask --app wsgi worker``, and watch. Standard library
only: a receiver of your own checks the signature the same way (`verify` below):
HMAC-SHA256 of "<X-Portal-Timestamp>.<body>" with the secret, compared with
X-Portal-Signature (``v1=<hex>``), and a timestamp of less than five minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes) -> str:
    if not timestamp or not signature:
        return "en-têtes de signature absents"
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return "horodatage illisible"
    if age > TOLERANCE_SECONDS:
        return f"horodatage trop ancien ({age:.0f} s) : rejeu ?"
    expected = (
        "v1="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    if not any(hmac.compare_digest(expected, s.strip()) for s in signature.split(",")):
        return "signature fausse"
    return "signature valide"


def main() -> None:
    parser = argparse.ArgumentParser(description="Récepteur local de notifications.")
    parser.add_argument("--secret", required=True, help="Le secret du récepteur (whsec_…).")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            verdict = verify(
                args.secret,
                self.headers.get("X-Portal-Timestamp"),
                self.headers.get("X-Portal-Signature"),
                body,
            )
            print(
                f"--- {self.headers.get('X-Portal-Event')} "
                f"(envoi {self.headers.get('X-Portal-Delivery')}) : {verdict}"
            )
            try:
                print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
            except ValueError:
                print(body[:500])
            self.send_response(200 if verdict == "signature valide" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    print(f"Récepteur sur http://127.0.0.1:{args.port}/ ; Ctrl-C pour arrêter.")
    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
