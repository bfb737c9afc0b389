"""Decode input records, and turn the ones that cannot be processed into DeadLetter v1 records (pure).

article = decode_article(raw, max_bytes=1_000_000)        # raises a RecordRejectedError subclass
candidate = decode_candidate(raw)                         # raises RecordSchemaError
letter = dead_letter(source, RecordSchemaError("title: missing"), failed_at=now)
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from newswatch.contracts import Article, Candidate, DeadLetter
from newswatch.worker.errors import (
    RecordDecodeError,
    RecordRejectedError,
    RecordSchemaError,
    RecordTooLargeError,
)

__all__ = ["SourceRecord", "dead_letter", "decode_article", "decode_candidate"]

_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record as read from Kafka: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def decode_article(raw: bytes | None, *, max_bytes: int) -> Article:
    """Parse and validate one ``news.articles.v1`` value; raise the RecordRejectedError that says why not.

    decode_article(b'{"id": "a1", ...}', max_bytes=1_000_000)   # -> Article
    """
    if raw is None:
        raise RecordDecodeError("record has no value (tombstone)")
    if len(raw) > max_bytes:
        raise RecordTooLargeError(f"record is {len(raw)} bytes, limit {max_bytes}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordDecodeError(f"not UTF-8: {exc}") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordDecodeError(f"not JSON: {exc}") from exc
    try:  # the typed model enforces schemas/article.v1.json (tests/unit/contracts keeps them in step)
        return Article.model_validate(data)
    except (ValidationError, ValueError, TypeError) as exc:
        raise RecordSchemaError(f"article invalid: {exc}") from exc


def decode_candidate(raw: bytes | None) -> Candidate:
    """Parse and validate one value of the internal candidate topic (``schemas/candidate.v1.json``)."""
    try:
        return Candidate.model_validate_json(raw or b"")
    except ValidationError as exc:
        raise RecordSchemaError(f"candidate invalid: {exc}") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dead_letter(
    source: SourceRecord,
    error: RecordRejectedError | Exception,
    *,
    failed_at: datetime,
    max_original_bytes: int = 262_144,
) -> DeadLetter:
    """Build the DeadLetter v1 record for ``source``; the original value is kept base64, truncated.

    letter = dead_letter(source, RecordDecodeError("not JSON"), failed_at=datetime.now(UTC))
    letter.reason   # "decode_error"
    """
    reason = error.reason if isinstance(error, RecordRejectedError) else "other"
    value = source.value or b""
    detail = f"{type(error).__name__}: {error}"
    if len(value) > max_original_bytes:
        detail += f" (original truncated to {max_original_bytes} of {len(value)} bytes)"
    return DeadLetter(
        service="worker",
        reason=reason,
        error=detail[:_MAX_ERROR_CHARS],
        topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        original_key_b64=None if source.key is None else _b64(source.key[:max_original_bytes]),
        original_value_b64=_b64(value[:max_original_bytes]),
        original_size_bytes=len(value),
        failed_at=failed_at,
    )
