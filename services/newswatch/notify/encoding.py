"""Alert records in and out: decode what is on the topic, encode what subscribers receive.

Outgoing JSON escapes ``<``, ``>``, ``&`` and the line separators U+2028/U+2029 as ``\\uXXXX``, so a title
carrying ``<script>`` stays inert even if a receiver pastes the raw body into an HTML page; the decoded
value is still the original text (receivers escape it when they render it).

    alert = decode_alert(record.value)        # raises AlertDecodeError(reason=...)
    body = encode_alert(alert)                # bytes, sorted keys, HTML-safe
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from newswatch.contracts import Alert, RecordInvalidError, validate_record
from newswatch.notify.errors import AlertDecodeError

__all__ = ["MAX_ALERT_BYTES", "decode_alert", "dumps_inert", "encode_alert"]

MAX_ALERT_BYTES = 1_000_000

_INERT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_INERT_TABLE = str.maketrans(_INERT)


def dumps_inert(value: Any) -> str:
    """``json.dumps`` whose output contains no raw ``<``, ``>`` or ``&`` (same decoded value).

    >>> dumps_inert({"t": "<b>"})
    '{"t": "\\\\u003cb\\\\u003e"}'
    """
    # json.dumps never emits these characters outside string literals, so translating the whole text is safe.
    return json.dumps(value, ensure_ascii=False, sort_keys=True).translate(_INERT_TABLE)


def encode_alert(alert: Alert) -> bytes:
    """The webhook body: the Alert v1 record as HTML-inert UTF-8 JSON (validates against alert.v1.json)."""
    return dumps_inert(alert.model_dump(mode="json", exclude_none=False)).encode("utf-8")


def decode_alert(raw: bytes | None) -> Alert:
    """Parse one ``news.alerts.v1`` value into an :class:`Alert`, or raise :class:`AlertDecodeError`.

    >>> decode_alert(b'{"alert_id": ...}')
    """
    if raw is None:
        raise AlertDecodeError("empty record value (tombstone)", reason="decode_error")
    if len(raw) > MAX_ALERT_BYTES:
        raise AlertDecodeError(
            f"record of {len(raw)} bytes exceeds {MAX_ALERT_BYTES}", reason="payload_too_large"
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError besides JSONDecodeError: an integer over Python's 4,300-digit limit; RecursionError:
        # nesting deeper than the parser's stack. Uncaught, either would stop the intake for good.
        raise AlertDecodeError(f"not JSON: {exc}", reason="decode_error") from exc
    try:
        validate_record("alert", data)
        return Alert.model_validate(data)
    except (RecordInvalidError, ValidationError) as exc:
        raise AlertDecodeError(str(exc)[:2000], reason="schema_invalid") from exc
