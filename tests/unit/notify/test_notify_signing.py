"""Webhook signatures: verifiable by a subscriber, bound to body and timestamp, replay-limited."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from newswatch.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature

TS = 1_700_000_000
BODY = b'{"alert_id": "x"}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", TS, BODY) == f"v1={expected}"
    assert SIGNATURE_HEADER == "X-Newswatch-Signature" and TIMESTAMP_HEADER == "X-Newswatch-Timestamp"


def test_valid_signature_verifies_within_tolerance() -> None:
    header = sign("s3cret", TS, BODY)
    assert verify_signature("s3cret", str(TS), BODY, header, 300, now=TS + 299)
    assert verify_signature(b"s3cret", TS, BODY, header, 300, now=TS - 299)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("wrong", TS, BODY, TS),  # other secret
        ("s3cret", TS, BODY + b" ", TS),  # body altered
        ("s3cret", TS + 1, BODY, TS),  # timestamp altered
        ("s3cret", TS, BODY, TS + 301),  # replayed too late
        ("s3cret", TS, BODY, TS - 301),  # from the future
    ],
)
def test_tampered_or_stale_requests_fail(secret: str, timestamp: int, body: bytes, now: int) -> None:
    header = sign("s3cret", TS, BODY)
    assert not verify_signature(secret, timestamp, body, header, 300, now=now)


@pytest.mark.parametrize("header", ["", "v1=", "garbage", "v1=" + "0" * 64, "v0=abc, nope"])
def test_malformed_headers_fail(header: str) -> None:
    assert not verify_signature("s3cret", TS, BODY, header, 300, now=TS)


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5e9", "-"])
def test_malformed_timestamps_fail(timestamp: str) -> None:
    assert not verify_signature("s3cret", timestamp, BODY, sign("s3cret", TS, BODY), 300, now=TS)


def test_rotation_accepts_any_listed_signature() -> None:
    header = f"{sign('old', TS, BODY)}, {sign('new', TS, BODY)}"
    assert verify_signature("new", TS, BODY, header, 300, now=TS)
    assert verify_signature("old", TS, BODY, header, 300, now=TS)
