"""The poller against a real Kafka broker and a local HTTP server: conditional GET, failure classes, recovery,
dedup across restarts, and every record on the articles topic valid against schemas/article.v1.json."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from poller_support import Doc, FeedServer, items, poller_settings, read_topic, rss
from prometheus_client import CollectorRegistry

from newswatch.broker import LocalKafka, declared_topics, ensure_topics
from newswatch.poller.feeds import FeedConfig
from newswatch.poller.main import open_poller
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.service import PollReport
from newswatch.settings import KafkaSettings, Settings

LAST_MODIFIED = "Tue, 24 Nov 2026 17:05:00 GMT"


def feed(server: FeedServer, path: str, name: str | None = None, **options: object) -> FeedConfig:
    return FeedConfig(
        name=name or path.strip("/").replace("/", "-"), url=server.url(path), interval_seconds=900, **options
    )  # type: ignore[arg-type]


async def poll(
    settings: Settings, feeds: list[FeedConfig], registry: CollectorRegistry | None = None
) -> dict[str, PollReport]:
    metrics = PollerMetrics(
        [f.name for f in feeds], registry=CollectorRegistry() if registry is None else registry
    )
    async with open_poller(settings, feeds, metrics=metrics) as poller:
        return {report.feed: report for report in await poller.run_once()}


def topic_ids(settings: Settings) -> list[str]:
    return [record["id"] for _, record in read_topic(settings.kafka, settings.kafka.topic_articles)]


async def test_200_then_304_with_etag_and_last_modified(
    feed_server: FeedServer, poll_settings: Settings
) -> None:
    feed_server.docs["/etag"] = Doc(rss(*items("etag", 3)), etag='"e1"', last_modified=LAST_MODIFIED)
    feed_server.docs["/lm"] = Doc(rss(*items("lm", 2)), last_modified=LAST_MODIFIED)
    feeds = [feed(feed_server, "/etag"), feed(feed_server, "/lm")]
    registry = CollectorRegistry()
    first = await poll(poll_settings, feeds, registry)
    assert {r.outcome for r in first.values()} == {"ok"} and first["etag"].new == 3 and first["lm"].new == 2
    second = await poll(poll_settings, feeds)
    assert {r.outcome for r in second.values()} == {"not_modified"}
    etag_hit, lm_hit = feed_server.hits_on("/etag")[-1], feed_server.hits_on("/lm")[-1]
    assert (
        etag_hit.headers["If-None-Match"] == '"e1"' and etag_hit.headers["If-Modified-Since"] == LAST_MODIFIED
    )
    assert lm_hit.headers["If-Modified-Since"] == LAST_MODIFIED and "If-None-Match" not in lm_hit.headers
    ids = topic_ids(poll_settings)
    assert len(ids) == 5 == len(set(ids))
    assert registry.get_sample_value("newswatch_poller_published_total") == 5
    assert registry.get_sample_value("newswatch_poller_http_responses_total", {"code": "200"}) == 2


async def test_429_with_retry_after_then_success(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/busy"] = [
        Doc(status=429, headers={"Retry-After": "1800"}),
        Doc(rss(*items("busy", 2))),
    ]
    first = (await poll(poll_settings, [feed(feed_server, "/busy")]))["busy"]
    assert first.outcome == "rate_limited" and first.next_check_in_seconds == 1800
    assert topic_ids(poll_settings) == []
    second = (await poll(poll_settings, [feed(feed_server, "/busy")]))["busy"]
    assert second.outcome == "ok" and second.new == 2


async def test_500_then_recovery(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/flaky"] = [Doc(status=500), Doc(status=500), Doc(rss(*items("flaky", 4)))]
    reports = [(await poll(poll_settings, [feed(feed_server, "/flaky")]))["flaky"] for _ in range(3)]
    assert [r.outcome for r in reports] == ["http_error", "http_error", "ok"]
    assert reports[1].next_check_in_seconds > reports[0].next_check_in_seconds  # backing off
    assert reports[2].new == 4 and reports[2].next_check_in_seconds == 900
    assert len(topic_ids(poll_settings)) == 4


async def test_timeout_does_not_stall_other_feeds(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/slow"] = Doc(rss(*items("slow", 1)), delay=3)
    feed_server.docs["/fast"] = Doc(rss(*items("fast", 2)))
    reports = await poll(poll_settings, [feed(feed_server, "/slow"), feed(feed_server, "/fast")])
    assert reports["slow"].outcome == "timeout"
    assert reports["fast"].outcome == "ok" and reports["fast"].new == 2


async def test_redirects_followed_and_loop_refused(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/moved"] = Doc(redirect="/new-home")
    feed_server.docs["/new-home"] = Doc(rss(*items("moved", 1)))
    feed_server.docs["/loop-a"] = Doc(redirect=feed_server.url("/loop-b"))
    feed_server.docs["/loop-b"] = Doc(redirect="/loop-a")
    reports = await poll(poll_settings, [feed(feed_server, "/moved"), feed(feed_server, "/loop-a")])
    assert reports["moved"].outcome == "ok" and reports["moved"].new == 1
    assert reports["loop-a"].outcome == "http_error" and "redirect loop" in (reports["loop-a"].error or "")


async def test_oversized_body_is_aborted(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/huge"] = Doc(endless=True)
    feed_server.docs["/big"] = Doc(rss(*items("big", 2)) + b"<!--" + b"x" * 300_000 + b"-->")
    reports = await poll(poll_settings, [feed(feed_server, "/huge"), feed(feed_server, "/big")])
    assert reports["huge"].outcome == "too_large" and reports["big"].outcome == "too_large"
    assert topic_ids(poll_settings) == []


async def test_gzip_encoded_feed(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/gz"] = Doc(rss(*items("gz", 3)), gzip=True)
    report = (await poll(poll_settings, [feed(feed_server, "/gz")]))["gz"]
    assert report.outcome == "ok" and report.new == 3
    assert "gzip" in feed_server.hits_on("/gz")[0].headers["Accept-Encoding"]


async def test_feed_that_changes_between_polls(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/live"] = Doc(rss(*items("live", 3)), etag='"v1"')
    assert (await poll(poll_settings, [feed(feed_server, "/live")]))["live"].new == 3
    feed_server.docs["/live"] = Doc(rss(*items("live", 3, start=2)), etag='"v2"')  # 2 dropped, 3 and 4 new
    report = (await poll(poll_settings, [feed(feed_server, "/live")]))["live"]
    assert report.new == 2 and report.duplicate == 1
    records = read_topic(poll_settings.kafka, poll_settings.kafka.topic_articles)
    assert sorted(r["title"] for _, r in records) == [f"live story {n}" for n in range(5)]
    assert all("utm_" not in r["url"] for _, r in records)


async def test_restart_publishes_no_duplicates(feed_server: FeedServer, poll_settings: Settings) -> None:
    # No validators: the server always answers 200 with the same items, so only the store prevents repeats.
    feed_server.docs["/same"] = Doc(rss(*items("same", 5)))
    first = (await poll(poll_settings, [feed(feed_server, "/same")]))["same"]
    second = (await poll(poll_settings, [feed(feed_server, "/same")]))["same"]  # a new poller, same state dir
    assert first.new == 5 and second.new == 0 and second.duplicate == 5
    ids = topic_ids(poll_settings)
    assert len(ids) == 5 == len(set(ids))


async def test_private_address_feed_is_refused(feed_server: FeedServer, poll_settings: Settings) -> None:
    feed_server.docs["/private"] = Doc(rss(*items("private", 1)))
    strict = poll_settings.model_copy(
        update={"poller": poll_settings.poller.model_copy(update={"allow_private_networks": ()})}
    )
    reports = await poll(
        strict,
        [feed(feed_server, "/private"), feed(feed_server, "/private", name="opted-in", allow_private=True)],
    )
    assert reports["private"].outcome == "refused"
    assert reports["opted-in"].outcome == "ok"
    assert len(feed_server.hits_on("/private")) == 1  # only the opted-in feed reached the server


async def test_broker_outage_loses_nothing_and_duplicates_nothing(
    feed_server: FeedServer, local_kafka_factory: Callable[[], LocalKafka], tmp_path: Path
) -> None:
    kafka = local_kafka_factory()
    settings = poller_settings(
        KafkaSettings(
            bootstrap_servers=kafka.bootstrap, request_timeout_ms=5_000, topic_articles="articles.outage"
        ),
        tmp_path / "state",
    )
    ensure_topics(settings.kafka, [s for s in declared_topics(settings.kafka) if s.name == "articles.outage"])
    feed_server.docs["/live"] = Doc(rss(*items("live", 3)), etag='"v1"')
    feeds = [feed(feed_server, "/live")]
    registry = CollectorRegistry()
    async with open_poller(settings, feeds, metrics=PollerMetrics(["live"], registry=registry)) as poller:
        assert (await poller.poll_feed(feeds[0])).new == 3
        await asyncio.to_thread(kafka.stop)
        feed_server.docs["/live"] = Doc(rss(*items("live", 6)), etag='"v2"')  # three more while Kafka is down
        for _ in range(2):
            down = await poller.poll_feed(feeds[0])
            assert down.outcome == "publish_error" and down.unpublished == 3 and down.new == 0
            assert feed_server.hits_on("/live")[-1].headers["If-None-Match"] == '"v1"'  # validators kept
        await asyncio.to_thread(kafka.start)
        recovered = [await poller.poll_feed(feeds[0])]
        while recovered[-1].outcome != "ok" and len(recovered) < 8:  # the producer reconnects with back-off
            recovered.append(await poller.poll_feed(feeds[0]))
        assert recovered[-1].outcome == "ok"
        assert sum(r.new for r in recovered) == 3
        assert (await poller.poll_feed(feeds[0])).outcome == "not_modified"
    records = read_topic(settings.kafka, "articles.outage")
    assert sorted(r["title"] for _, r in records) == [f"live story {n}" for n in range(6)]
    assert registry.get_sample_value("newswatch_poller_published_total") == 6
