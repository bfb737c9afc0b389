"""Every metric of the poller (namespace ``newswatch``, subsystem ``poller``); see the poller section of
docs/metrics.md.

Label values are bounded and created at start so every series begins at zero: ``outcome``, ``code``,
``result`` and ``reason`` come from the fixed sets below, ``feed`` is a configured feed name.

    metrics = PollerMetrics(["un-news-en"], registry=CollectorRegistry())
    metrics.polls.labels(outcome="ok").inc()
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from newswatch.poller.normalise import REJECT_REASONS

__all__ = ["HTTP_CODES", "ITEM_RESULTS", "OUTCOMES", "PollerMetrics", "code_label"]

OUTCOMES: tuple[str, ...] = (
    "ok",
    "not_modified",
    "http_error",
    "network_error",
    "timeout",
    "too_large",
    "parse_error",
    "refused",
    "rate_limited",
    "publish_error",
)
HTTP_CODES: tuple[str, ...] = (
    "200", "301", "302", "303", "304", "307", "308", "400", "401", "403", "404", "410", "429",
    "500", "502", "503", "504", "other",
)  # fmt: skip
ITEM_RESULTS: tuple[str, ...] = ("new", "duplicate", "rejected")
_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def code_label(status: int) -> str:
    """The bounded ``code`` label of an HTTP status (``"other"`` outside :data:`HTTP_CODES`).

    >>> code_label(304), code_label(418)
    ('304', 'other')
    """
    text = str(status)
    return text if text in HTTP_CODES else "other"


class PollerMetrics:
    """The poller's metrics, registered in ``registry`` (a fresh one per test)."""

    def __init__(self, feeds: Iterable[str], registry: CollectorRegistry = REGISTRY) -> None:
        common = {"namespace": "newswatch", "subsystem": "poller", "registry": registry}
        self.polls = Counter(
            "polls",
            "Feed polls by outcome.",
            ["outcome"],
            **common,  # type: ignore[arg-type]
        )
        self.http_responses = Counter(
            "http_responses",
            "HTTP responses by status code (bounded set, others as 'other').",
            ["code"],
            **common,  # type: ignore[arg-type]
        )
        self.response_bytes = Counter(
            "response_bytes",
            "Bytes of feed bodies received (decoded).",
            **common,  # type: ignore[arg-type]
        )
        self.items = Counter(
            "items",
            "Feed entries by result (new, duplicate, rejected).",
            ["result"],
            **common,  # type: ignore[arg-type]
        )
        self.items_rejected = Counter(
            "items_rejected",
            "Rejected feed entries by reason.",
            ["reason"],
            **common,  # type: ignore[arg-type]
        )
        self.poll_duration = Histogram(
            "poll_duration_seconds",
            "Time to fetch and parse one feed.",
            buckets=_DURATION_BUCKETS,
            **common,  # type: ignore[arg-type]
        )
        self.feed_last_success = Gauge(
            "feed_last_success_timestamp_seconds",
            "Unix time of the last successful poll of each feed.",
            ["feed"],
            **common,  # type: ignore[arg-type]
        )
        self.feed_failures = Gauge(
            "feed_consecutive_failures",
            "Failures of each feed since its last success.",
            ["feed"],
            **common,  # type: ignore[arg-type]
        )
        self.published = Counter(
            "published",
            "Articles acknowledged by Kafka.",
            **common,  # type: ignore[arg-type]
        )
        for outcome in OUTCOMES:
            self.polls.labels(outcome=outcome)
        for code in HTTP_CODES:
            self.http_responses.labels(code=code)
        for result in ITEM_RESULTS:
            self.items.labels(result=result)
        for reason in REJECT_REASONS:
            self.items_rejected.labels(reason=reason)
        for feed in feeds:
            self.feed_last_success.labels(feed=feed)
            self.feed_failures.labels(feed=feed)

    def observe_response(self, status: int, nbytes: int) -> None:
        """Count one HTTP response and its body bytes (the fetcher's observer)."""
        self.http_responses.labels(code=code_label(status)).inc()
        if nbytes:
            self.response_bytes.inc(nbytes)

    def reject(self, reason: str, count: int = 1) -> None:
        """Count ``count`` rejected entries; a reason outside :data:`REJECT_REASONS` counts as invalid."""
        self.items.labels(result="rejected").inc(count)
        self.items_rejected.labels(reason=reason if reason in REJECT_REASONS else "invalid").inc(count)
