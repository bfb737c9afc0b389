"""Schedule tables: hints after success, exponential back-off with jitter after failure, header parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newswatch.poller.schedule import (
    ScheduleLimits,
    delay_after_failure,
    delay_after_success,
    parse_max_age,
)

LIMITS = ScheduleLimits(min_interval=60, max_interval=86_400, backoff_base=60, backoff_max=21_600, jitter=0.2)
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "hints", "expected"),
    [
        (900, {}, 900),
        (900, {"max_age": 300}, 900),  # a shorter hint never makes us poll faster
        (900, {"max_age": 3600}, 3600),
        (900, {"ttl": 1800}, 1800),
        (900, {"retry_after": 7200}, 7200),
        (900, {"max_age": 3600, "ttl": 1800, "retry_after": 120}, 3600),
        (900, {"max_age": 10**7}, 86_400),  # capped
        (10, {}, 60),  # floored at the minimum interval
        (900, {"max_age": 0}, 900),
    ],
)
def test_delay_after_success(interval: float, hints: dict[str, float], expected: float) -> None:
    assert delay_after_success(interval, LIMITS, **hints) == expected


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, 60),
        (2, 120),
        (3, 240),
        (4, 480),
        (5, 960),
        (8, 7680),
        (9, 15_360),
        (10, 21_600),
        (50, 21_600),
        (10**6, 21_600),
    ],
)
def test_backoff_doubles_then_caps_without_jitter(failures: int, expected: float) -> None:
    assert delay_after_failure(failures, LIMITS, rand=0.5) == expected


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, 192.0), (0.25, 216.0), (0.5, 240.0), (0.75, 264.0), (0.999999, 287.99995)],
)
def test_jitter_spreads_plus_minus_twenty_percent(rand: float, expected: float) -> None:
    assert delay_after_failure(3, LIMITS, rand=rand) == pytest.approx(expected)


def test_jitter_never_exceeds_the_cap() -> None:
    assert delay_after_failure(30, LIMITS, rand=0.999) == 21_600


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [(1, 600, 600), (1, 30, 60), (8, 600, 7680), (1, 10**9, 86_400), (1, None, 60), (1, 0, 60)],
)
def test_retry_after_is_a_floor_on_backoff(failures: int, retry_after: float | None, expected: float) -> None:
    assert delay_after_failure(failures, LIMITS, rand=0.5, retry_after=retry_after) == expected


def test_zero_failures_is_treated_as_first() -> None:
    assert delay_after_failure(0, LIMITS, rand=0.5) == 60


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("public, max-age=300", 300.0),
        ("max-age=0", 0.0),
        ('max-age="600"', 600.0),
        ("s-maxage=100", None),
        ("private, s-maxage=100, max-age=50", 50.0),
        ("no-cache, max-age=300", None),
        ("no-store", None),
        ("MAX-AGE=90", 90.0),
    ],
)
def test_parse_max_age(header: str | None, expected: float | None) -> None:
    assert parse_max_age(header) == expected
