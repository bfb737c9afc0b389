"""The poller's per-feed policy with fake I/O: dedup, ack-before-seen, validators only after success,
back-off and recovery, isolation of a broken feed, and the scheduler loop's shutdown."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from newswatch.contracts import Article
from newswatch.poller import service
from newswatch.poller.errors import FeedFetchError, FeedRateLimitedError, FeedTimeoutError
from newswatch.poller.feeds import FeedConfig
from newswatch.poller.fetch import FetchResult, Validators
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.publish import PublishOutcome, encode_article
from newswatch.poller.schedule import ScheduleLimits
from newswatch.poller.service import Poller
from newswatch.poller.store import Store

URL = "https://feeds.example.org/rss"
LIMITS = ScheduleLimits(min_interval=60, max_interval=86_400, backoff_base=60, backoff_max=3600, jitter=0.0)


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{link}</link></item>" for t, link in items)
    return f'<rss version="2.0"><channel><title>T</title>{body}</channel></rss>'.encode()


def ok(body: bytes, etag: str = '"v1"', **hints: float) -> FetchResult:
    return FetchResult(URL, 200, body, "application/rss+xml", Validators(etag, None), **hints)  # type: ignore[arg-type]


class ScriptedFetcher:
    def __init__(self, script: dict[str, list[FetchResult | FeedFetchError]]) -> None:
        self.script = script
        self.requests: list[tuple[str, Validators]] = []

    async def fetch(self, url: str, validators: Validators, *, allow_private: bool = False) -> FetchResult:
        self.requests.append((url, validators))
        step = self.script[url].pop(0)
        if isinstance(step, FeedFetchError):
            raise step
        if step.status == 304:
            return FetchResult(url, 304, b"", None, validators)
        return step


class FakeSink:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.fail_next = 0

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
        if self.fail_next:
            self.fail_next -= 1
            return PublishOutcome((), len(articles), "broker down")
        self.published.extend(a.id for a in articles)
        return PublishOutcome(tuple(a.id for a in articles))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(
    script: dict[str, list[FetchResult | FeedFetchError]],
    feeds: Sequence[FeedConfig] | None = None,
    fetcher: ScriptedFetcher | None = None,
    **options: int,
) -> tuple[Poller, ScriptedFetcher, FakeSink, Store, CollectorRegistry, Clock]:
    feeds = feeds or [FeedConfig(name="f", url=URL, interval_seconds=900)]
    fetcher, sink, store, registry, clock = (
        fetcher or ScriptedFetcher(script),
        FakeSink(),
        Store.open(":memory:"),
        CollectorRegistry(),
        Clock(),
    )
    metrics = PollerMetrics([f.name for f in feeds], registry=registry)
    poller = Poller(
        feeds,
        fetcher=fetcher,
        publisher=sink,
        store=store,
        metrics=metrics,
        limits=LIMITS,
        rng=random.Random(1),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )
    return poller, fetcher, sink, store, registry, clock


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    result = registry.get_sample_value(name, labels)
    return 0.0 if result is None else result


NOT_MODIFIED = FetchResult(URL, 304, b"", None, Validators())
FEED = FeedConfig(name="f", url=URL, interval_seconds=900)


async def test_new_items_are_published_once_and_duplicates_counted() -> None:
    body = rss(
        ("A", "https://x.example/a"),
        ("B", "https://x.example/b"),
        ("B again", "https://x.example/b?utm_source=rss"),
    )
    poller, fetcher, sink, store, registry, _ = make({URL: [ok(body), ok(body, etag='"v2"')]})
    first = await poller.poll_feed(FEED)
    assert first.outcome == "ok" and first.new == 2 and first.duplicate == 1
    second = await poller.poll_feed(FEED)
    assert second.new == 0 and second.duplicate == 3
    assert len(sink.published) == 2 and store.seen_count() == 2
    assert fetcher.requests[1][1] == Validators('"v1"', None)
    assert value(registry, "newswatch_poller_published_total") == 2
    assert value(registry, "newswatch_poller_items_total", result="new") == 2
    assert value(registry, "newswatch_poller_items_total", result="duplicate") == 4
    assert value(registry, "newswatch_poller_polls_total", outcome="ok") == 2
    assert value(registry, "newswatch_poller_feed_last_success_timestamp_seconds", feed="f") == 1_000_000.0


async def test_publish_failure_keeps_validators_and_items_unseen_then_recovers() -> None:
    body = rss(("A", "https://x.example/a"))
    poller, fetcher, sink, store, registry, _ = make(
        {URL: [ok(body, etag='"v1"'), ok(body, etag='"v2"'), ok(body, etag='"v2"')]}
    )
    assert (await poller.poll_feed(FEED)).new == 1
    sink.fail_next = 1
    fresh = rss(("A", "https://x.example/a"), ("C", "https://x.example/c"))
    fetcher.script[URL] = [ok(fresh, etag='"v2"'), ok(fresh, etag='"v2"')]
    failed = await poller.poll_feed(FEED)
    assert failed.outcome == "publish_error" and failed.unpublished == 1 and failed.new == 0
    assert store.feed_state(URL).validators == Validators('"v1"', None)  # not advanced
    assert store.feed_state(URL).failures == 1
    recovered = await poller.poll_feed(FEED)
    assert recovered.outcome == "ok" and recovered.new == 1
    assert fetcher.requests[-1][1] == Validators('"v1"', None)
    assert store.feed_state(URL).validators == Validators('"v2"', None)
    assert sink.published.count(sink.published[-1]) == 1 and len(sink.published) == 2
    assert value(registry, "newswatch_poller_polls_total", outcome="publish_error") == 1


async def test_failures_back_off_exponentially_and_success_resets() -> None:
    err = FeedTimeoutError(URL, "slow")
    poller, _, _, store, registry, clock = make({URL: [err, err, err, NOT_MODIFIED]})
    delays = [(await poller.poll_feed(FEED)).next_check_in_seconds for _ in range(3)]
    assert delays == [60, 120, 240]
    assert store.feed_state(URL).failures == 3
    assert store.feed_state(URL).next_check_at == clock.now + 240
    assert value(registry, "newswatch_poller_feed_consecutive_failures", feed="f") == 3
    report = await poller.poll_feed(FEED)
    assert report.outcome == "not_modified" and report.next_check_in_seconds == 900
    assert store.feed_state(URL).failures == 0
    assert value(registry, "newswatch_poller_feed_consecutive_failures", feed="f") == 0
    assert value(registry, "newswatch_poller_polls_total", outcome="timeout") == 3


async def test_rate_limit_honours_retry_after() -> None:
    poller, *_ = make({URL: [FeedRateLimitedError(URL, "429", 429, 1800.0)]})
    report = await poller.poll_feed(FEED)
    assert report.outcome == "rate_limited" and report.next_check_in_seconds == 1800


async def test_success_honours_ttl_and_max_age() -> None:
    body = b'<rss version="2.0"><channel><ttl>60</ttl><item><title>A</title><link>https://x.example/a</link></item></channel></rss>'
    poller, *_ = make({URL: [ok(body, max_age=600.0)]})
    assert (await poller.poll_feed(FEED)).next_check_in_seconds == 3600


async def test_parse_error_and_rejections_are_counted() -> None:
    bad = FeedConfig(name="bad", url="https://bad.example/rss", interval_seconds=900)
    body = rss(("A", "https://x.example/a"), ("no link", ""))
    poller, _, _, _, registry, _ = make(
        {
            URL: [ok(body)],
            bad.url: [FetchResult(bad.url, 200, b"<html>nope</html>", "text/html", Validators())],
        },
        feeds=[FEED, bad],
    )
    reports = {r.feed: r for r in await poller.run_once()}
    assert reports["bad"].outcome == "parse_error"
    assert reports["f"].outcome == "ok" and reports["f"].new == 1 and reports["f"].rejected == 1
    assert value(registry, "newswatch_poller_items_rejected_total", reason="no_url") == 1
    assert value(registry, "newswatch_poller_polls_total", outcome="parse_error") == 1


async def test_a_crashing_feed_does_not_stop_the_others() -> None:
    other = FeedConfig(name="other", url="https://other.example/rss", interval_seconds=900)
    poller, *_ = make({URL: [], other.url: [ok(rss(("A", "https://x.example/a")))]}, feeds=[FEED, other])
    reports = await poller.run_once()  # URL's script is empty: IndexError inside poll_feed
    assert [r.feed for r in reports] == ["other"]


async def test_scheduler_polls_when_due_and_stops_cleanly() -> None:
    hang = asyncio.Event()

    class SlowFetcher(ScriptedFetcher):
        async def fetch(
            self, url: str, validators: Validators, *, allow_private: bool = False
        ) -> FetchResult:
            self.requests.append((url, validators))
            if len(self.requests) > 1:
                await hang.wait()
            return NOT_MODIFIED

    fetcher = SlowFetcher({})
    poller, _, _, store, _, clock = make({URL: []}, fetcher=fetcher)
    stop = asyncio.Event()
    seen = []
    loop_task = asyncio.create_task(poller.run(stop, on_report=seen.append))
    for _ in range(50):
        await asyncio.sleep(0.02)
        if seen:
            break
    assert len(fetcher.requests) == 1 and seen[0].outcome == "not_modified"
    clock.now += 901  # due again: the second fetch hangs until released
    for _ in range(100):
        await asyncio.sleep(0.02)
        if len(fetcher.requests) == 2:
            break
    assert len(fetcher.requests) == 2
    stop.set()
    await asyncio.sleep(0.05)
    assert not loop_task.done()  # in-flight poll is drained, not dropped
    hang.set()
    await asyncio.wait_for(loop_task, timeout=5)
    assert store.feed_state(URL).next_check_at == clock.now + 900


class SizeLimitedSink(FakeSink):
    """Like kafka-python with max_request_size = 1 MiB: sending a larger record fails, the batch with it."""

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
        for index, article in enumerate(articles):
            if sum(map(len, encode_article(article))) > 1_048_576:
                self.published.extend(a.id for a in articles[:index])
                failed = len(articles) - index
                return PublishOutcome(
                    tuple(a.id for a in articles[:index]), failed, "MessageSizeTooLargeError"
                )
        return await super().publish(articles)


def json_feed(*items: dict[str, object]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": list(items)}).encode()


async def test_an_oversized_entry_is_a_counted_rejection_and_the_entries_after_it_are_published() -> None:
    body = json_feed(
        {"id": "a", "url": "https://x.example/a", "title": "A"},
        {"id": "b", "url": "https://x.example/b", "title": "B", "content_text": "\x01" * 300_000},
        {"id": "c", "url": "https://x.example/c", "title": "C"},
    )
    poller, _, _, store, registry, _ = make({URL: [ok(body, etag='"v1"')]})
    sink = SizeLimitedSink()
    poller._publisher = sink
    report = await poller.poll_feed(FEED)
    assert report.outcome == "ok" and report.new == 2 and report.rejected == 1
    assert len(sink.published) == 2
    assert store.feed_state(URL).validators == Validators('"v1"', None)  # advanced: the feed is not stuck
    assert value(registry, "newswatch_poller_items_rejected_total", reason="too_large") == 1
    assert value(registry, "newswatch_poller_polls_total", outcome="publish_error") == 0


async def test_records_kafka_refuses_for_their_size_are_rejections_not_failures() -> None:
    class RefusingSink(FakeSink):
        async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
            acked = tuple(a.id for a in articles[1:])
            self.published.extend(acked)
            return PublishOutcome(acked, rejected=(articles[0].id,))

    body = rss(("A", "https://x.example/a"), ("B", "https://x.example/b"))
    poller, _, _, store, registry, _ = make({URL: [ok(body)]})
    poller._publisher = RefusingSink()
    report = await poller.poll_feed(FEED)
    assert report.outcome == "ok" and report.new == 1 and report.rejected == 1 and report.unpublished == 0
    assert store.feed_state(URL).failures == 0 and store.seen_count() == 1
    assert value(registry, "newswatch_poller_items_rejected_total", reason="too_large") == 1


JSON_HEAD = b'{"version": "https://jsonfeed.org/version/1.1", "items": '


@pytest.mark.parametrize(
    "body",
    [
        JSON_HEAD + b"[" * 100_000 + b"]" * 100_000 + b"}",
        JSON_HEAD + b'[{"id": ' + b"7" * 5000 + b', "url": "https://x.example/a", "title": "A"}]}',
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"A" * 1000 + b'">\n]>\n'
        b'<rss version="2.0"><channel><item><title>' + b"&a;" * 5000 + b"</title></item></channel></rss>",
    ],
    ids=["deep-nesting", "5000-digit-number", "entity-expansion"],
)
async def test_a_body_the_parsers_cannot_take_is_a_parse_error_with_back_off(body: bytes) -> None:
    poller, _, sink, store, registry, clock = make({URL: [ok(body)]})
    report = await poller.poll_feed(FEED)
    assert report.outcome == "parse_error" and report.next_check_in_seconds == 60
    assert store.feed_state(URL).failures == 1 and store.feed_state(URL).next_check_at == clock.now + 60
    assert sink.published == []
    assert value(registry, "newswatch_poller_polls_total", outcome="parse_error") == 1


async def test_parsing_and_normalising_run_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real_parse, real_normalise = service.parse_feed, service.normalise_entry

    def parse(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real_parse(*args, **kwargs)  # type: ignore[arg-type]

    def normalise(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real_normalise(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "parse_feed", parse)
    monkeypatch.setattr(service, "normalise_entry", normalise)
    poller, *_ = make({URL: [ok(rss(("A", "https://x.example/a")))]})
    assert (await poller.poll_feed(FEED)).new == 1
    poller.close()
    assert len(threads) == 2 and all(name.startswith("newswatch-parse") for name in threads), threads


async def test_entries_beyond_the_cap_are_counted_as_too_many() -> None:
    body = rss(*((f"T{n}", f"https://x.example/{n}") for n in range(5)))
    poller, _, sink, _, registry, _ = make({URL: [ok(body)]}, max_entries_per_feed=2)
    report = await poller.poll_feed(FEED)
    assert report.outcome == "ok" and report.new == 2 and report.rejected == 3 and len(sink.published) == 2
    assert value(registry, "newswatch_poller_items_rejected_total", reason="too_many") == 3
    assert value(registry, "newswatch_poller_items_total", result="rejected") == 3


async def test_run_once_stops_within_the_grace_period_when_a_fetch_hangs() -> None:
    quick = FeedConfig(name="quick", url="https://quick.example/rss", interval_seconds=900)
    released = asyncio.Event()

    class HangingFetcher(ScriptedFetcher):
        async def fetch(
            self, url: str, validators: Validators, *, allow_private: bool = False
        ) -> FetchResult:
            if url == URL:
                await released.wait()  # a server that never answers (until the test ends)
            return await super().fetch(url, validators, allow_private=allow_private)

    fetcher = HangingFetcher({quick.url: [ok(rss(("A", "https://x.example/a")))]})
    poller, _, sink, store, _, _ = make({}, feeds=[FEED, quick], fetcher=fetcher, shutdown_grace_seconds=0.2)
    stop = asyncio.Event()
    run = asyncio.create_task(poller.run_once(stop))
    await asyncio.sleep(0.1)
    assert not run.done()  # the hanging feed holds the pass
    stop.set()
    reports = await asyncio.wait_for(run, timeout=2)
    assert [r.feed for r in reports] == ["quick"] and sink.published  # the finished feed is reported
    assert store.feed_state(URL).failures == 0  # the cancelled poll changed nothing: retried next pass
    released.set()


async def test_run_once_without_a_stop_waits_for_every_feed() -> None:
    poller, _, sink, *_ = make({URL: [ok(rss(("A", "https://x.example/a")))]})
    reports = await poller.run_once(asyncio.Event())
    assert [r.outcome for r in reports] == ["ok"] and len(sink.published) == 1
