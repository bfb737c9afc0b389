"""The poller: one object that owns the schedule and polls feeds through fetch → parse → normalise → dedup →
publish → mark seen → save validators and next check.

A poll's failure is classified once (``PollReport.outcome``), counted, and turns into a back-off for that feed
only; the other feeds keep their own schedule. Validators are saved only after a clean parse *and* a fully
acknowledged publish, so a broker outage makes the next poll fetch the whole feed again and publish what was
not acknowledged. Parsing and normalising (CPU-bound: ~1.5 s per 1,000 entries) run in the poller's own
threads, so the event loop keeps fetching meanwhile and the default executor stays free for DNS look-ups.

    poller = Poller(feeds, fetcher=fetcher, publisher=publisher, store=store, metrics=metrics)
    reports = await poller.run_once()          # every feed once
    await poller.run(stop_event)               # the scheduler loop, until stop_event is set
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from newswatch.contracts import Article
from newswatch.poller.errors import FeedFetchError, FeedParseError, FeedRateLimitedError
from newswatch.poller.feeds import FeedConfig
from newswatch.poller.fetch import FetchResult, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.normalise import MAX_RECORD_BYTES, FeedContext, Rejected, normalise_entry
from newswatch.poller.parse import ParsedFeed, parse_feed
from newswatch.poller.publish import PublishOutcome
from newswatch.poller.schedule import ScheduleLimits, delay_after_failure, delay_after_success
from newswatch.poller.store import FeedState, Store

__all__ = ["MAX_ENTRIES_PER_FEED", "ArticleSink", "FeedSource", "PollReport", "Poller"]

log = logging.getLogger(__name__)

MAX_ENTRIES_PER_FEED = 1000
"""Default cap of the entries read from one document (about 1.5 s of CPU)."""
_PARSE_THREADS = 2
"""Parsing holds the GIL, so more threads add no speed; two let one huge document not stall every feed."""


class FeedSource(Protocol):
    """What the poller needs from the fetcher (``Fetcher`` implements it)."""

    async def fetch(self, url: str, validators: Validators, *, allow_private: bool = ...) -> FetchResult: ...


class ArticleSink(Protocol):
    """What the poller needs from the publisher (``Publisher`` implements it)."""

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome: ...


@dataclass(frozen=True, slots=True)
class PollReport:
    """The result of polling one feed once."""

    feed: str
    outcome: str
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    unpublished: int = 0
    next_check_in_seconds: float = 0.0
    error: str | None = None


class Poller:
    """Polls ``feeds``; all collaborators are passed in so tests can swap any of them."""

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        fetcher: FeedSource,
        publisher: ArticleSink,
        store: Store,
        metrics: PollerMetrics,
        limits: ScheduleLimits | None = None,
        max_concurrency: int = 32,
        shutdown_grace_seconds: float = 30.0,
        max_record_bytes: int = MAX_RECORD_BYTES,
        max_entries_per_feed: int = MAX_ENTRIES_PER_FEED,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._feeds = tuple(feeds)
        self._fetcher = fetcher
        self._publisher = publisher
        self._store = store
        self._metrics = metrics
        self._limits = limits or ScheduleLimits()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._grace = shutdown_grace_seconds
        self._max_record_bytes = max_record_bytes
        self._max_entries = max_entries_per_feed
        self._parse_pool = ThreadPoolExecutor(_PARSE_THREADS, thread_name_prefix="newswatch-parse")
        self._rng = rng or random.Random()
        self._clock = clock

    @property
    def feeds(self) -> tuple[FeedConfig, ...]:
        return self._feeds

    def close(self) -> None:
        """Stop the parse threads (a parse in progress finishes on its own)."""
        self._parse_pool.shutdown(wait=False, cancel_futures=True)

    # --- one feed -------------------------------------------------------------------------------------------

    async def poll_feed(self, feed: FeedConfig) -> PollReport:
        """Poll ``feed`` once, whatever its schedule says; never raises for a feed-level failure."""
        state = self._store.feed_state(feed.url)
        started = time.perf_counter()
        try:
            result = await self._fetcher.fetch(feed.url, state.validators, allow_private=feed.allow_private)
        except FeedFetchError as exc:
            self._metrics.poll_duration.observe(time.perf_counter() - started)
            retry_after = exc.retry_after_seconds if isinstance(exc, FeedRateLimitedError) else None
            return self._failed(feed, state, exc.outcome, exc.message, retry_after)
        if result.not_modified:
            self._metrics.poll_duration.observe(time.perf_counter() - started)
            return self._succeeded(feed, state, "not_modified", result, None)
        loop = asyncio.get_running_loop()
        try:
            parsed, outcomes = await loop.run_in_executor(self._parse_pool, self._prepare, feed, result)
        except FeedParseError as exc:
            self._metrics.poll_duration.observe(time.perf_counter() - started)
            return self._failed(feed, state, exc.outcome, exc.message, result.retry_after)
        self._metrics.poll_duration.observe(time.perf_counter() - started)
        if parsed.bozo:
            log.info("feed_malformed", extra={"feed": feed.name, "feed_url": feed.url, "bozo": parsed.bozo})
        articles, duplicates, rejected = self._new_articles(feed, parsed, outcomes)
        published = await self._publisher.publish(articles) if articles else PublishOutcome(acked=())
        # Kafka refused these for their size: a counted rejection, not a failure that would retry forever.
        for article_id in published.rejected:
            self._metrics.reject("too_large")
            log.warning("entry_rejected", extra={"feed": feed.name, "reason": "too_large", "id": article_id})
        rejected += len(published.rejected)
        if published.acked:
            self._store.mark_seen([(article_id, feed.name) for article_id in published.acked])
            self._metrics.published.inc(len(published.acked))
            self._metrics.items.labels(result="new").inc(len(published.acked))
        if published.failed:
            report = self._failed(feed, state, "publish_error", published.error or "not acknowledged", None)
            return _with(report, duplicates, rejected, published)
        return _with(self._succeeded(feed, state, "ok", result, parsed), duplicates, rejected, published)

    def _prepare(self, feed: FeedConfig, result: FetchResult) -> tuple[ParsedFeed, list[Article | Rejected]]:
        """Parse and normalise one document (in a parse thread): the document, and one outcome an entry."""
        parsed = parse_feed(
            result.body, url=result.url, content_type=result.content_type, max_entries=self._max_entries
        )
        context = FeedContext(
            feed_url=feed.url,
            fetched_at=datetime.now(UTC),
            namespace=feed.name,
            base_url=result.url,
            outlet=feed.outlet or parsed.title,
            feed_language=parsed.language,
            config_language=feed.language,
        )
        limit = self._max_record_bytes
        return parsed, [normalise_entry(entry, context, max_record_bytes=limit) for entry in parsed.entries]

    def _new_articles(
        self, feed: FeedConfig, parsed: ParsedFeed, outcomes: Sequence[Article | Rejected]
    ) -> tuple[list[Article], int, int]:
        for reason in parsed.rejected:
            self._metrics.reject(reason)
        if parsed.dropped:
            self._metrics.reject("too_many", parsed.dropped)
            log.warning(
                "feed_truncated",
                extra={"feed": feed.name, "dropped": parsed.dropped, "max_entries": self._max_entries},
            )
        candidates: dict[str, Article] = {}
        duplicates = 0
        rejected = len(parsed.rejected) + parsed.dropped
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                rejected += 1
                self._metrics.reject(outcome.reason)
                log.debug("entry_rejected", extra={"feed": feed.name, "reason": outcome.reason})
            elif outcome.id in candidates:
                duplicates += 1
            else:
                candidates[outcome.id] = outcome
        fresh = set(self._store.unseen(list(candidates)))
        duplicates += len(candidates) - len(fresh)
        if duplicates:
            self._metrics.items.labels(result="duplicate").inc(duplicates)
        return [article for key, article in candidates.items() if key in fresh], duplicates, rejected

    def _succeeded(
        self, feed: FeedConfig, state: FeedState, outcome: str, result: FetchResult, parsed: ParsedFeed | None
    ) -> PollReport:
        now = self._clock()
        delay = delay_after_success(
            feed.interval_seconds,
            self._limits,
            max_age=result.max_age,
            ttl=parsed.ttl_seconds if parsed else None,
            retry_after=result.retry_after,
        )
        self._store.save_feed_state(
            feed.url, FeedState(result.validators, now + delay, failures=0, last_success_at=now)
        )
        self._metrics.polls.labels(outcome=outcome).inc()
        self._metrics.feed_last_success.labels(feed=feed.name).set(now)
        self._metrics.feed_failures.labels(feed=feed.name).set(0)
        log.info(
            "feed_polled",
            extra={
                "feed": feed.name,
                "feed_url": feed.url,
                "outcome": outcome,
                "next_in_s": round(delay),
            },
        )
        return PollReport(feed.name, outcome, next_check_in_seconds=delay)

    def _failed(
        self,
        feed: FeedConfig,
        state: FeedState,
        outcome: str,
        error: str,
        retry_after: float | None,
    ) -> PollReport:
        now = self._clock()
        failures = state.failures + 1
        delay = delay_after_failure(failures, self._limits, rand=self._rng.random(), retry_after=retry_after)
        self._store.save_feed_state(
            feed.url, FeedState(state.validators, now + delay, failures, state.last_success_at)
        )
        self._metrics.polls.labels(outcome=outcome).inc()
        self._metrics.feed_failures.labels(feed=feed.name).set(failures)
        log.warning(
            "feed_poll_failed",
            extra={
                "feed": feed.name,
                "feed_url": feed.url,
                "outcome": outcome,
                "error": error,
                "failures": failures,
                "next_in_s": round(delay),
            },
        )
        return PollReport(feed.name, outcome, next_check_in_seconds=delay, error=error)

    # --- many feeds -----------------------------------------------------------------------------------------

    async def _guarded(self, feed: FeedConfig, stop: asyncio.Event | None) -> PollReport | None:
        async with self._slots:
            if stop is not None and stop.is_set():
                return None
            try:
                return await self.poll_feed(feed)
            except Exception as exc:  # a bug or a store failure in one feed must not stop the others
                log.error("feed_poll_crashed", extra={"feed": feed.name, "feed_url": feed.url}, exc_info=exc)
                return None

    async def run_once(self, stop: asyncio.Event | None = None) -> list[PollReport]:
        """Poll every feed once (ignoring the schedule), ``max_concurrency`` at a time.

        When ``stop`` is set, feeds not yet started are skipped and polls in flight get the shutdown grace
        period to finish; those still running then are cancelled (their items were not marked seen, so the
        next pass publishes them) and left out of the reports.
        """
        tasks = [
            asyncio.create_task(self._guarded(feed, stop), name=f"poll:{feed.name}") for feed in self._feeds
        ]
        if stop is not None and tasks:
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
            while not stopped.done() and not all(task.done() for task in tasks):
                await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not all(task.done() for task in tasks):
                log.info("poller_draining", extra={"in_flight": sum(not t.done() for t in tasks)})
                _, pending = await asyncio.wait(tasks, timeout=self._grace)
                for task in pending:
                    task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [report for report in results if isinstance(report, PollReport)]

    async def run(self, stop: asyncio.Event, on_report: Callable[[PollReport], None] | None = None) -> None:
        """Poll each feed when it is due until ``stop`` is set; then start nothing new, let polls in flight
        finish (up to the shutdown grace period) and return."""
        due = {feed.name: self._store.feed_state(feed.url).next_check_at for feed in self._feeds}
        tasks: dict[str, asyncio.Task[PollReport | None]] = {}
        while not stop.is_set():
            now = self._clock()
            for feed in self._feeds:
                if feed.name not in tasks and due[feed.name] <= now:
                    tasks[feed.name] = asyncio.create_task(
                        self._guarded(feed, stop), name=f"poll:{feed.name}"
                    )
            for name, task in list(tasks.items()):
                if task.done():
                    del tasks[name]
                    report = task.result()
                    due[name] = now + (report.next_check_in_seconds if report else self._limits.backoff_base)
                    if report is not None and on_report is not None:
                        on_report(report)
            waiting = [when for name, when in due.items() if name not in tasks]
            sleep = min([*waiting, now + 1.0]) - now if not tasks else 0.2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.05, min(sleep, 1.0)))
        if tasks:
            log.info("poller_draining", extra={"in_flight": len(tasks)})
            _, pending = await asyncio.wait(tasks.values(), timeout=self._grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def _with(report: PollReport, duplicates: int, rejected: int, published: PublishOutcome) -> PollReport:
    return PollReport(
        feed=report.feed,
        outcome=report.outcome,
        new=len(published.acked),
        duplicate=duplicates,
        rejected=rejected,
        unpublished=published.failed,
        next_check_in_seconds=report.next_check_in_seconds,
        error=report.error,
    )
