"""When to poll a feed next: pure functions over the server's hints and the feed's failure count (Miniflux's
``ScheduleNextCheck``).

After a success the next check is ``max(configured interval, Retry-After, Cache-Control max-age, RSS <ttl>)``,
clamped to ``[min_interval, max_interval]``. After a failure it is an exponential back-off with jitter,
``backoff_base * 2**(failures-1)`` capped at ``backoff_max``, but never sooner than a Retry-After hint
(:func:`newswatch.retry.backoff_delay`; the header is read by :func:`newswatch.retry.parse_retry_after`).

    limits = ScheduleLimits()
    delay_after_success(900, limits, max_age=3600)            # 3600.0
    delay_after_failure(3, limits, rand=0.5)                  # 240.0 (60 * 2**2, no jitter at rand=0.5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newswatch.retry import backoff_delay

__all__ = ["ScheduleLimits", "delay_after_failure", "delay_after_success", "parse_max_age"]

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
    return backoff_delay(
        failures,
        base=limits.backoff_base,
        cap=limits.backoff_max,
        jitter=limits.jitter,
        rand=rand,
        retry_after=retry_after,
        retry_after_cap=limits.max_interval,
    )
