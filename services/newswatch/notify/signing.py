"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``, sent with the timestamp to stop replays.

Every webhook request carries two headers::

    X-Newswatch-Timestamp: 1700000000
    X-Newswatch-Signature: v1=<hex HMAC-SHA256(secret, b"1700000000." + body)>

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and rejects timestamps
outside its tolerance (default 300 s), so a captured request cannot be replayed later:

    ok = verify_signature(secret, request.headers[TIMESTAMP_HEADER], body,
                          request.headers[SIGNATURE_HEADER], tolerance=300)
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEME",
    "TIMESTAMP_HEADER",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-Newswatch-Timestamp"
SIGNATURE_HEADER = "X-Newswatch-Signature"
DELIVERY_HEADER = "X-Newswatch-Delivery"
SIGNATURE_SCHEME = "v1"


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp`` (Unix seconds).

    >>> sign("s3cret", 1700000000, b"{}")[:3]
    'v1='
    """
    mac = hmac.new(_secret_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` and that is within ``tolerance`` s of now.

    ``header`` may list several comma-separated signatures (during a secret rotation); one match suffices.

    >>> ts = 1700000000
    >>> verify_signature("s3cret", ts, b"{}", sign("s3cret", ts, b"{}"), 300, now=ts + 10)
    True
    >>> verify_signature("s3cret", ts, b"{}", sign("s3cret", ts, b"{}"), 300, now=ts + 3600)
    False
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret, ts, body)
    candidates = [part.strip() for part in header.split(",") if part.strip()]
    # compare_digest for each candidate; evaluate all to keep timing independent of the match position
    matches = [hmac.compare_digest(expected.encode(), c.encode()) for c in candidates]
    return any(matches)
