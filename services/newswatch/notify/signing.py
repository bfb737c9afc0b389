"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<delivery id>.<body>``, sent with the timestamp to stop
replays and bound to the delivery id receivers deduplicate on.

Every webhook request carries three headers::

    X-Newswatch-Timestamp: 1700000000
    X-Newswatch-Delivery: al-3f9c2d7e41b0a6c58e2d9f17:2
    X-Newswatch-Signature: v2=<hex HMAC-SHA256(secret, b"1700000000.al-3f9c2d7e41b0a6c58e2d9f17:2." + body)>

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and rejects timestamps
outside its tolerance (default 300 s), so a captured request cannot be replayed later, nor re-sent under
another delivery id to slip past the receiver's deduplication:

    ok = verify_signature(secret, request.headers[TIMESTAMP_HEADER], body,
                          request.headers[SIGNATURE_HEADER], tolerance=300,
                          delivery_id=request.headers[DELIVERY_HEADER])
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEME",
    "TIMESTAMP_HEADER",
    "delivery_id_for",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-Newswatch-Timestamp"
SIGNATURE_HEADER = "X-Newswatch-Signature"
DELIVERY_HEADER = "X-Newswatch-Delivery"
#: v1 signed ``<timestamp>.<body>`` only; v2 adds the delivery id. A v1 verifier fails closed on v2 headers.
SIGNATURE_SCHEME = "v2"

# Unix seconds are 10 digits until the year 2286; 12 leave room and keep int()/float() arithmetic trivial.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# The shape delivery_id_for() produces: no ".", so the signed content ``ts.id.body`` splits one way only.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9_~%-]+:[0-9]+")
# Receivers take the id from a header; 128 characters of alert id percent-encoded take at most 1,536, and a
# version is at most 4,300 digits (Python's int parsing limit), so anything longer is foreign.
_DELIVERY_ID_MAX_CHARS = 8192


def delivery_id_for(alert_id: str, version: int) -> str:
    """The ``X-Newswatch-Delivery`` value ``<alert_id>:<version>``, header-safe and dot-free.

    Characters outside ``A-Z a-z 0-9 - _ ~`` are percent-encoded (UTF-8), ``.`` included, so any alert id
    fits an HTTP header and the signed content stays unambiguous; the worker's ids (``al-<hex>``) pass as is.

    >>> delivery_id_for("al-3f9c", 2), delivery_id_for("café.1", 1)
    ('al-3f9c:2', 'caf%C3%A9%2E1:1')
    """
    return f"{quote(alert_id, safe='-_~').replace('.', '%2E')}:{version}"


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _signed_content(timestamp: int, delivery: str, body: bytes) -> bytes:
    return f"{timestamp}.{delivery}.".encode("ascii") + body


def sign(secret: str | bytes, timestamp: int, body: bytes, *, delivery_id: str) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp`` (Unix seconds) as ``delivery_id``.

    >>> sign("s3cret", 1700000000, b"{}", delivery_id="al-3f9c:1")[:3]
    'v2='
    """
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise ValueError(f"not a delivery id: {delivery_id[:80]!r} (build it with delivery_id_for())")
    mac = hmac.new(_secret_bytes(secret), _signed_content(timestamp, delivery_id, body), hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={mac.hexdigest()}"


def _parse_timestamp(timestamp: str | int) -> int | None:
    """Unix seconds from a header value: 1 to 12 ASCII digits, nothing else (no sign, space or other digits).

    ``str.isdigit`` and ``int`` accept non-ASCII digits ("١٢٣") and a 400-digit value overflows float
    arithmetic, so the text is matched explicitly first.
    """
    text = str(timestamp) if isinstance(timestamp, int) and not isinstance(timestamp, bool) else timestamp
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        return None
    return int(text)


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance: float = 300,
    *,
    delivery_id: str,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` as ``delivery_id`` at ``timestamp``, within ``tolerance`` s of now.

    ``header`` may list several comma-separated signatures (during a secret rotation); one match suffices.
    Malformed input (a timestamp that is not 1-12 ASCII digits, a foreign delivery id) gives False.

    >>> ts, d = 1700000000, "al-3f9c:1"
    >>> verify_signature("s3cret", ts, b"{}", sign("s3cret", ts, b"{}", delivery_id=d), 300,
    ...                  delivery_id=d, now=ts + 10)
    True
    >>> verify_signature("s3cret", ts, b"{}", sign("s3cret", ts, b"{}", delivery_id=d), 300,
    ...                  delivery_id="al-3f9c:2", now=ts + 10)
    False
    """
    ts = _parse_timestamp(timestamp)
    if ts is None or not isinstance(delivery_id, str) or len(delivery_id) > _DELIVERY_ID_MAX_CHARS:
        return False
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret, ts, body, delivery_id=delivery_id)
    candidates = [part.strip() for part in header.split(",") if part.strip()]
    # compare_digest for each candidate; evaluate all to keep timing independent of the match position
    matches = [hmac.compare_digest(expected.encode(), c.encode()) for c in candidates]
    return any(matches)
