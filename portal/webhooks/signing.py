"""The signature of a delivery, and the encryption of endpoints' secrets at rest.

A delivery carries `X-Portal-Timestamp` (Unix seconds) and `X-Portal-Signature:
v1=<hex>`, where hex is HMAC-SHA256(secret, "<timestamp>.<body>"). A receiver recomputes
it and refuses a timestamp older than a few minutes (`TOLERANCE_SECONDS`): a captured
delivery replayed later is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.fernet import Fernet

TIMESTAMP_HEADER = "X-Portal-Timestamp"
SIGNATURE_HEADER = "X-Portal-Signature"
EVENT_HEADER = "X-Portal-Event"
DELIVERY_HEADER = "X-Portal-Delivery"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 (a marker, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches, and the timestamp is recent."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate.strip())
        for candidate in signature_header.split(",")
    )


def _fernet(secret_key: str) -> Fernet:
    key = hashlib.sha256(b"portal-webhook-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret_key: str, secret: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(secret_key: str, encrypted: str) -> str:
    return _fernet(secret_key).decrypt(encrypted.encode()).decode()
