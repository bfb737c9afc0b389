"""newswatch.poller: polls RSS/Atom/JSON feeds and publishes new articles to Kafka (``newswatch poll``).

from newswatch.poller import Poller, load_feeds, parse_feed, normalise_entry
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newswatch.lazy import lazy_attributes

if TYPE_CHECKING:
    from newswatch.poller.errors import FeedFetchError, FeedListError, FeedParseError, PollerError, StoreError
    from newswatch.poller.feeds import FeedConfig, load_feeds, parse_feeds
    from newswatch.poller.fetch import AddressGuard, Fetcher, FetchLimits, FetchResult, Validators
    from newswatch.poller.metrics import PollerMetrics
    from newswatch.poller.normalise import (
        FeedContext,
        Rejected,
        article_id,
        canonical_url,
        detect_language,
        normalise_entry,
        strip_html,
    )
    from newswatch.poller.parse import ParsedFeed, RawEntry, parse_feed
    from newswatch.poller.publish import Publisher, PublishOutcome
    from newswatch.poller.schedule import ScheduleLimits, delay_after_failure, delay_after_success
    from newswatch.poller.service import Poller, PollReport
    from newswatch.poller.settings import PollerSettings
    from newswatch.poller.store import FeedState, Store

__all__ = [
    "AddressGuard",
    "FeedConfig",
    "FeedContext",
    "FeedFetchError",
    "FeedListError",
    "FeedParseError",
    "FeedState",
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "ParsedFeed",
    "PollReport",
    "Poller",
    "PollerError",
    "PollerMetrics",
    "PollerSettings",
    "PublishOutcome",
    "Publisher",
    "RawEntry",
    "Rejected",
    "ScheduleLimits",
    "Store",
    "StoreError",
    "Validators",
    "article_id",
    "canonical_url",
    "delay_after_failure",
    "delay_after_success",
    "detect_language",
    "load_feeds",
    "normalise_entry",
    "parse_feed",
    "parse_feeds",
    "strip_html",
]

# Each name loads its module on first use, so importing the settings never loads the rest of the package.
_LAZY = {
    "FeedFetchError": "newswatch.poller.errors",
    "FeedListError": "newswatch.poller.errors",
    "FeedParseError": "newswatch.poller.errors",
    "PollerError": "newswatch.poller.errors",
    "StoreError": "newswatch.poller.errors",
    "FeedConfig": "newswatch.poller.feeds",
    "load_feeds": "newswatch.poller.feeds",
    "parse_feeds": "newswatch.poller.feeds",
    "AddressGuard": "newswatch.poller.fetch",
    "Fetcher": "newswatch.poller.fetch",
    "FetchLimits": "newswatch.poller.fetch",
    "FetchResult": "newswatch.poller.fetch",
    "Validators": "newswatch.poller.fetch",
    "PollerMetrics": "newswatch.poller.metrics",
    "FeedContext": "newswatch.poller.normalise",
    "Rejected": "newswatch.poller.normalise",
    "article_id": "newswatch.poller.normalise",
    "canonical_url": "newswatch.poller.normalise",
    "detect_language": "newswatch.poller.normalise",
    "normalise_entry": "newswatch.poller.normalise",
    "strip_html": "newswatch.poller.normalise",
    "ParsedFeed": "newswatch.poller.parse",
    "RawEntry": "newswatch.poller.parse",
    "parse_feed": "newswatch.poller.parse",
    "Publisher": "newswatch.poller.publish",
    "PublishOutcome": "newswatch.poller.publish",
    "ScheduleLimits": "newswatch.poller.schedule",
    "delay_after_failure": "newswatch.poller.schedule",
    "delay_after_success": "newswatch.poller.schedule",
    "Poller": "newswatch.poller.service",
    "PollReport": "newswatch.poller.service",
    "PollerSettings": "newswatch.poller.settings",
    "FeedState": "newswatch.poller.store",
    "Store": "newswatch.poller.store",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
