"""Webhook signatures: verifiable by a subscriber, bound to body, timestamp and delivery id, time-limited."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from newswatch.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from newswatch.notify.signing import delivery_id_for

TS = 1_700_000_000
BODY = b'{"alert_id": "x"}'
DELIVERY = "al-3f9c2d7e41b0a6c58e2d9f17:2"


def _sign(secret: str = "s3cret", ts: int = TS, body: bytes = BODY, delivery: str = DELIVERY) -> str:
    return sign(secret, ts, body, delivery_id=delivery)


def test_signature_is_hmac_sha256_over_timestamp_delivery_id_and_body() -> None:
    content = b"1700000000." + DELIVERY.encode() + b"." + BODY
    expected = hmac.new(b"s3cret", content, hashlib.sha256).hexdigest()
    assert _sign() == f"v2={expected}"
    assert SIGNATURE_HEADER == "X-Newswatch-Signature" and TIMESTAMP_HEADER == "X-Newswatch-Timestamp"


def test_valid_signature_verifies_within_tolerance() -> None:
    header = _sign()
    assert verify_signature("s3cret", str(TS), BODY, header, 300, delivery_id=DELIVERY, now=TS + 299)
    assert verify_signature(b"s3cret", TS, BODY, header, 300, delivery_id=DELIVERY, now=TS - 299)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "delivery", "now"),
    [
        ("wrong", TS, BODY, DELIVERY, TS),  # other secret
        ("s3cret", TS, BODY + b" ", DELIVERY, TS),  # body altered
        ("s3cret", TS + 1, BODY, DELIVERY, TS),  # timestamp altered
        ("s3cret", TS, BODY, "al-3f9c2d7e41b0a6c58e2d9f17:3", TS),  # delivery id altered (dedup bypass)
        ("s3cret", TS, BODY, DELIVERY, TS + 301),  # replayed too late
        ("s3cret", TS, BODY, DELIVERY, TS - 301),  # from the future
    ],
)
def test_tampered_or_stale_requests_fail(
    secret: str, timestamp: int, body: bytes, delivery: str, now: int
) -> None:
    assert not verify_signature(secret, timestamp, body, _sign(), 300, delivery_id=delivery, now=now)


def test_a_v1_signature_without_the_delivery_id_is_refused() -> None:
    v1 = "v1=" + hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert not verify_signature("s3cret", TS, BODY, v1, 300, delivery_id=DELIVERY, now=TS)


@pytest.mark.parametrize("header", ["", "v2=", "garbage", "v2=" + "0" * 64, "v0=abc, nope"])
def test_malformed_headers_fail(header: str) -> None:
    assert not verify_signature("s3cret", TS, BODY, header, 300, delivery_id=DELIVERY, now=TS)


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        "abc",
        "1.5e9",
        "-",
        "-1700000000",
        "+1700000000",
        " 1700000000",
        "1700000000\n",
        "1_700_000_000",
        "١٧٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: str.isdigit() and int() accept them
        "１７００００００００",  # full-width digits
        "9" * 400,  # int() takes it, then float arithmetic raised OverflowError
        "0" * 13 + "1700000000",  # over 12 digits even when the value is small
    ],
)
def test_malformed_timestamps_fail(timestamp: str) -> None:
    # a float clock, like time.time(): an int too large for a float used to raise OverflowError here
    assert not verify_signature("s3cret", timestamp, BODY, _sign(), 300, delivery_id=DELIVERY, now=TS + 0.5)


@pytest.mark.parametrize("timestamp", [10**400, -TS, True])
def test_out_of_range_integer_timestamps_fail(timestamp: int) -> None:
    assert not verify_signature("s3cret", timestamp, BODY, _sign(), 300, delivery_id=DELIVERY, now=TS + 0.5)


@pytest.mark.parametrize("delivery", ["", "a.b:1", "al-1", "al-1:1\n", "café:1", "a:1:2", ":1", "a:"])
def test_foreign_delivery_ids_fail_verification_and_are_not_signed(delivery: str) -> None:
    assert not verify_signature("s3cret", TS, BODY, _sign(), 300, delivery_id=delivery, now=TS)
    with pytest.raises(ValueError, match="delivery id"):
        sign("s3cret", TS, BODY, delivery_id=delivery)


def test_overlong_delivery_ids_fail_verification() -> None:
    delivery = "a" * 9000 + ":1"
    header = _sign(delivery=delivery)  # the sender may sign it, a receiver refuses the oversized header
    assert not verify_signature("s3cret", TS, BODY, header, 300, delivery_id=delivery, now=TS)


@pytest.mark.parametrize(
    ("alert_id", "version", "expected"),
    [
        ("al-3f9c2d7e41b0a6c58e2d9f17", 2, "al-3f9c2d7e41b0a6c58e2d9f17:2"),
        ("mw_ml~1", 1, "mw_ml~1:1"),
        ("café.1", 1, "caf%C3%A9%2E1:1"),
        ("a:b/c d\n", 3, "a%3Ab%2Fc%20d%0A:3"),
    ],
)
def test_delivery_ids_are_header_safe_and_dot_free(alert_id: str, version: int, expected: str) -> None:
    delivery = delivery_id_for(alert_id, version)
    assert delivery == expected
    header = sign("s3cret", TS, BODY, delivery_id=delivery)
    assert verify_signature("s3cret", TS, BODY, header, 300, delivery_id=delivery, now=TS)


def test_the_longest_alert_id_makes_a_valid_delivery_id() -> None:
    delivery = delivery_id_for("\U0001f600" * 128, 10**4000)  # 4 UTF-8 bytes each, 3 characters per byte
    assert verify_signature("s3cret", TS, BODY, _sign(delivery=delivery), 300, delivery_id=delivery, now=TS)


def test_rotation_accepts_any_listed_signature() -> None:
    header = f"{_sign('old')}, {_sign('new')}"
    assert verify_signature("new", TS, BODY, header, 300, delivery_id=DELIVERY, now=TS)
    assert verify_signature("old", TS, BODY, header, 300, delivery_id=DELIVERY, now=TS)
