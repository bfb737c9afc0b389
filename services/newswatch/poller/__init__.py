"""newswatch.poller: polls RSS/Atom/JSON feeds and publishes new articles to Kafka (``newswatch poll``).

from newswatch.poller import Poller, load_feeds, parse_feed, normalise_entry
"""

from newswatch.poller.errors import (
    FeedFetchError,
    FeedListError,
    FeedParseError,
    PollerError,
    StoreError,
)
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
