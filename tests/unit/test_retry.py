"""The shared retry helpers: exponential back-off with jitter and the Retry-After header."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from newswatch import retry
from newswatch.retry import backoff_delay, parse_retry_after

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(retry)
    assert result.failed == 0 and result.attempted >= 5


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(-3, 0.5), (0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (10**6, 30.0)],
)
def test_backoff_doubles_from_the_first_failure_then_caps(failures: int, expected: float) -> None:
    assert backoff_delay(failures, base=0.5, cap=30.0) == expected


@pytest.mark.parametrize(
    ("rand", "expected"), [(0.0, 192.0), (0.25, 216.0), (0.5, 240.0), (0.75, 264.0), (0.999999, 287.99995)]
)
def test_jitter_spreads_the_delay_by_plus_minus_its_fraction(rand: float, expected: float) -> None:
    assert backoff_delay(3, base=60, cap=21_600, jitter=0.2, rand=rand) == pytest.approx(expected)


def test_jitter_never_pushes_past_the_cap() -> None:
    assert backoff_delay(30, base=60, cap=21_600, jitter=0.2, rand=0.999) == 21_600


@pytest.mark.parametrize(
    ("retry_after", "retry_after_cap", "expected"),
    [
        (None, None, 4.0),
        (0.0, None, 4.0),  # "retry now" never makes the wait shorter than the back-off
        (2.0, None, 4.0),
        (6.0, None, 6.0),
        (3600.0, None, 8.0),  # capped at the back-off cap by default
        (3600.0, 100.0, 100.0),  # or at the cap the caller gives
        (float("inf"), 100.0, 100.0),
    ],
)
def test_retry_after_is_a_capped_floor(
    retry_after: float | None, retry_after_cap: float | None, expected: float
) -> None:
    delay = backoff_delay(3, base=1, cap=8, retry_after=retry_after, retry_after_cap=retry_after_cap)
    assert delay == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("120", 120.0),
        ("0", 0.0),
        (" 45 ", 45.0),
        ("Sat, 28 Nov 2026 12:10:00 GMT", 600.0),
        ("Sat, 28 Nov 2026 12:10:00 -0000", 600.0),  # no zone: read as UTC, not local time
        ("Sat, 28 Nov 2026 11:00:00 GMT", 0.0),  # in the past
        ("-5", None),
        ("soon", None),
        ("1.5", None),
        ("\u00b2", None),  # a digit to str.isdigit, not to int()
        ("\u0661\u0662", None),  # Arabic-Indic digits are not delta-seconds
        ("Sat, 28 Nov 99999 12:10:00 GMT", None),
        ("9" * 5000, float("inf")),  # past int()'s digit limit: a number all the same, never an error
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected
