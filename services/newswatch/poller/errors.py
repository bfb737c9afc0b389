"""Exceptions of the poller; httpx, feedparser, kafka-python and sqlite3 errors are translated at the edge.

PollerError
├── FeedListError             the feed list YAML is missing or invalid
├── FeedFetchError            one feed could not be fetched (``outcome`` names the class of failure)
│   ├── FeedTimeoutError          connect/read timeout or the whole-fetch deadline   (timeout)
│   ├── FeedNetworkError          DNS, connection, TLS, protocol or decoding failure (network_error)
│   ├── FeedHTTPError             a non-2xx/304 status, or too many redirects        (http_error)
│   │   └── FeedRateLimitedError      429 or 503, maybe with Retry-After             (rate_limited)
│   ├── FeedTooLargeError         the body exceeds the size cap                      (too_large)
│   └── FeedRefusedError          SSRF guard: the URL or a redirect is not allowed   (refused)
├── FeedParseError            the body is not a feed at all                          (parse_error)
└── StoreError                the local dedup/state store failed

try:
    result = await fetcher.fetch(feed, validators)
except FeedFetchError as exc:
    metrics.polls.labels(outcome=exc.outcome).inc()
"""

from __future__ import annotations

__all__ = [
    "FeedFetchError",
    "FeedHTTPError",
    "FeedListError",
    "FeedNetworkError",
    "FeedParseError",
    "FeedRateLimitedError",
    "FeedRefusedError",
    "FeedTimeoutError",
    "FeedTooLargeError",
    "PollerError",
    "StoreError",
]


class PollerError(Exception):
    """Root of every poller error."""


class FeedListError(PollerError):
    """The feed list cannot be read or does not validate."""


class FeedFetchError(PollerError):
    """Fetching ``url`` failed; ``outcome`` is the metrics label of the failure class."""

    outcome = "network_error"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message


class FeedTimeoutError(FeedFetchError):
    outcome = "timeout"


class FeedNetworkError(FeedFetchError):
    outcome = "network_error"


class FeedHTTPError(FeedFetchError):
    """The server answered with ``status`` (0 when the failure is a redirect loop or limit)."""

    outcome = "http_error"

    def __init__(self, url: str, message: str, status: int = 0) -> None:
        super().__init__(url, message)
        self.status = status


class FeedRateLimitedError(FeedHTTPError):
    """429/503; ``retry_after_seconds`` is the server's hint (None when absent or unparsable)."""

    outcome = "rate_limited"

    def __init__(self, url: str, message: str, status: int, retry_after_seconds: float | None) -> None:
        super().__init__(url, message, status)
        self.retry_after_seconds = retry_after_seconds


class FeedTooLargeError(FeedFetchError):
    outcome = "too_large"


class FeedRefusedError(FeedFetchError):
    outcome = "refused"


class FeedParseError(PollerError):
    """The body of ``url`` is not a parsable feed."""

    outcome = "parse_error"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message


class StoreError(PollerError):
    """The local state store (SQLite) failed."""
