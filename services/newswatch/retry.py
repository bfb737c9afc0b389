"""Waiting before another try: exponential back-off with optional jitter, and the ``Retry-After`` header.

Every service that retries (the poller's feed schedule, notify's webhooks, the worker's producer) takes its
delays from :func:`backoff_delay` and reads a server's hint with :func:`parse_retry_after`, so "the n-th
failure waits ``base * 2**(n-1)``, never longer than the cap, never sooner than the server asked" means the
same thing everywhere.

    backoff_delay(3, base=60, cap=21_600)                       # 240.0
    backoff_delay(3, base=60, cap=21_600, jitter=0.2, rand=0.0)   # 192.0 (240 - 20%)
    parse_retry_after("120", datetime.now(UTC))                 # 120.0
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["backoff_delay", "parse_retry_after"]

# 2**62 seconds outlasts any cap; a larger exponent would only risk an OverflowError.
_MAX_EXPONENT = 62


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rand: float = 0.5,
    retry_after: float | None = None,
    retry_after_cap: float | None = None,
) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (values below 1 count as 1).

    ``base * 2**(failures-1)`` capped at ``cap``; then spread by ``jitter`` (relative, +/-) where ``rand``, a
    uniform number in [0, 1) the caller draws, places it (0.5 = no spread; passed in so tests are exact), and
    capped at ``cap`` again. A server's ``retry_after`` is a floor, itself capped at ``retry_after_cap``
    (default ``cap``) so a hostile hint cannot park the caller for ever.

    >>> [backoff_delay(n, base=1, cap=10) for n in (1, 2, 3, 4, 5)]
    [1.0, 2.0, 4.0, 8.0, 10.0]
    >>> backoff_delay(1, base=1, cap=10, retry_after=30)
    10.0
    """
    exponent = min(max(failures, 1) - 1, _MAX_EXPONENT)
    delay = min(cap, base * 2.0**exponent)
    if jitter:
        delay = min(cap, delay * (1.0 + jitter * (2.0 * rand - 1.0)))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, cap if retry_after_cap is None else retry_after_cap))
    return float(max(0.0, delay))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date, RFC 9110 section 10.2.3).

    None when absent or unreadable; a date in the past gives 0. A date without a zone is read as UTC (HTTP
    dates are GMT).

    >>> parse_retry_after("120", datetime(2024, 1, 1, tzinfo=UTC))
    120.0
    >>> parse_retry_after("Mon, 01 Jan 2024 00:01:00 GMT", datetime(2024, 1, 1, tzinfo=UTC))
    60.0
    >>> parse_retry_after("soon", datetime(2024, 1, 1, tzinfo=UTC)) is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
