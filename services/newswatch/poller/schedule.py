"""When to poll a feed next: pure functions over the server's hints and the feed's failure count (Miniflux's
``ScheduleNextCheck``).

After a success the next check is ``max(configured interval, Retry-After, Cache-Control max-age, RSS <ttl>)``,
clamped to ``[min_interval, max_interval]``. After a failure it is an exponential back-off with jitter,
``backoff_base * 2**(failures-1)`` capped at ``backoff_max``, but never sooner than a Retry-After hint.

    limits = ScheduleLimits()
    delay_after_success(900, limits, max_age=3600)            # 3600.0
    delay_after_failure(3, limits, rand=0.5)                  # 240.0 (60 * 2**2, no jitter at rand=0.5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "ScheduleLimits",
    "delay_after_failure",
    "delay_after_success",
    "parse_max_age",
    "parse_retry_after",
]

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ScheduleLimits:
    """Bounds of the schedule, in seconds (built from :class:`PollerSettings`)."""

    min_interval: float = 60.0
    max_interval: float = 86_400.0
    backoff_base: float = 60.0
    backoff_max: float = 21_600.0
    jitter: float = 0.2


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date); None when absent or invalid.

    >>> parse_retry_after("120", datetime(2024, 1, 1, tzinfo=UTC))
    120.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` in seconds from a ``Cache-Control`` header; None when absent, or with no-cache/no-store.

    >>> parse_max_age("public, max-age=300")
    300.0
    """
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def delay_after_success(
    interval: float,
    limits: ScheduleLimits,
    *,
    max_age: float | None = None,
    ttl: float | None = None,
    retry_after: float | None = None,
) -> float:
    """Seconds until the next check of a feed that was just polled successfully.

    >>> delay_after_success(600, ScheduleLimits(), ttl=1800)
    1800.0
    """
    hints = [hint for hint in (max_age, ttl, retry_after) if hint is not None and hint > 0]
    return float(_clamp(max([interval, *hints]), limits.min_interval, limits.max_interval))


def delay_after_failure(
    failures: int, limits: ScheduleLimits, *, rand: float, retry_after: float | None = None
) -> float:
    """Seconds until the next try after the ``failures``-th consecutive failure (``failures >= 1``).

    ``rand`` is a uniform number in [0, 1) that sets the jitter (0.5 = none), passed in so tests are exact.

    >>> delay_after_failure(1, ScheduleLimits(jitter=0), rand=0.0)
    60.0
    """
    exponent = min(max(failures, 1) - 1, 62)
    base = min(limits.backoff_max, limits.backoff_base * 2.0**exponent)
    jittered = base * (1.0 + limits.jitter * (2.0 * rand - 1.0))
    delay = min(limits.backoff_max, jittered)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, limits.max_interval))
    return max(0.0, delay)
