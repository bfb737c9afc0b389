"""Alerts decoded strictly from the topic, encoded HTML-inert for webhooks, escaped for the console."""

from __future__ import annotations

import json

import pytest
from tests.unit.notify.receiver import make_alert

from newswatch.contracts import validate_record
from newswatch.notify.console import escape_text, format_alert
from newswatch.notify.encoding import MAX_ALERT_BYTES, decode_alert, dumps_inert, encode_alert
from newswatch.notify.errors import AlertDecodeError

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>\u2028\x1b[2J\r'


def test_round_trip_and_schema_valid() -> None:
    alert = make_alert()
    body = encode_alert(alert)
    validate_record("alert", json.loads(body))
    assert decode_alert(body) == alert


def test_hostile_title_is_inert_in_json_but_decodes_to_the_original() -> None:
    alert = make_alert(headline=HOSTILE)
    body = encode_alert(alert)
    for raw in (b"<", b">", b"&", "\u2028".encode()):
        assert raw not in body
    assert json.loads(body)["headline"] == HOSTILE
    assert "<" not in dumps_inert({"k": "<b>"})


def test_console_line_is_escaped() -> None:
    line = format_alert(make_alert(headline=HOSTILE))
    assert "<script>" not in line and "<img" not in line
    assert "\x1b" not in line and "\r" not in line and "\u2028" not in line
    assert "&lt;script&gt;" in line and "\\x1b[2J" in line
    assert "\n" not in escape_text("a\nb") and len(escape_text("x" * 1000)) <= 301


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "decode_error"),
        (b"\xff\xfe", "decode_error"),
        (b"{not json", "decode_error"),
        (b"[]", "schema_invalid"),
        (b'{"alert_id": "x"}', "schema_invalid"),
        (b"{" + b" " * MAX_ALERT_BYTES + b"}", "payload_too_large"),
    ],
)
def test_bad_records_raise_with_a_deadletter_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(AlertDecodeError) as info:
        decode_alert(raw)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "raw",
    [
        b'{"alert_id": "a", "version": ' + b"9" * 5000 + b"}",  # json.loads: ValueError (int digit limit)
        b"[" * 200_000 + b"]" * 200_000,  # json.loads: RecursionError
    ],
)
def test_pathological_json_is_a_decode_error_not_a_crash(raw: bytes) -> None:
    with pytest.raises(AlertDecodeError) as info:
        decode_alert(raw)
    assert info.value.reason == "decode_error"
