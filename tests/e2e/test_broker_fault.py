"""The broker killed (-9) in the middle of a stream while the poller and a worker run, then restarted:
no article lost, no alert opened twice, every article classified."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pipeline_support import KHERSON, Pipeline
from prometheus_client import CollectorRegistry

from newswatch.broker import LocalKafka, read_all
from newswatch.poller.feeds import FeedConfig
from newswatch.poller.main import open_poller
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.settings import PollerSettings
from newswatch.settings import KafkaSettings, Settings

FILLERS = ["troops parade for national day", "army chief visits camp", "soldiers rebuild bridge"]


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """RSS 2.0 with ``(title, link, description)`` items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
        f"<pubDate>Fri, 04 Dec 2026 03:00:00 +0000</pubDate></item>"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><language>en</language>'
        f"{entries}</channel></rss>"
    ).encode()


def stream_items(start: int, stop: int) -> list[tuple[str, str, str]]:
    return [
        (f"Report {i}: {FILLERS[i % 3]}", f"https://wire.example/fill/{i}", "Routine news.")
        for i in range(start, stop)
    ]


def kherson_items(start: int, stop: int) -> list[tuple[str, str, str]]:
    body = "The Russian defence minister ordered the troops to withdraw from the city of Kherson."
    return [
        (title, f"https://wire.example/kherson/{i}", f"{title}. {body}")
        for i, (_, title) in enumerate(KHERSON)
    ][start:stop]


class Feed:
    """One RSS document on a local HTTP server; ``items`` may be replaced between polls."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(body=rss(self.items), content_type="application/rss+xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/wire.xml", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/wire.xml"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def wire() -> AsyncIterator[Feed]:
    feed = Feed()
    await feed.start()
    try:
        yield feed
    finally:
        await feed.stop()


@pytest.mark.timeout(900)
async def test_broker_kill9_mid_stream_loses_nothing_and_duplicates_no_alert(
    wire: Feed, local_kafka_factory: Callable[[], LocalKafka], tmp_path: Path
) -> None:
    kafka = await asyncio.to_thread(local_kafka_factory)
    pipe = await asyncio.to_thread(Pipeline, kafka.bootstrap, tmp_path)
    try:
        await _run(wire, kafka, pipe, tmp_path)
    finally:
        await asyncio.to_thread(pipe.close)


async def _run(wire: Feed, kafka: LocalKafka, pipe: Pipeline, tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path / "poller",
        kafka=KafkaSettings(
            bootstrap_servers=kafka.bootstrap,
            request_timeout_ms=5_000,
            topic_articles=pipe.topics["articles"],
        ),
        poller=PollerSettings(
            metrics_port=0, allow_private_networks=("127.0.0.1/32",), publish_timeout_seconds=5
        ),
    )
    feed = FeedConfig(name="wire", url=wire.url, interval_seconds=900)
    metrics = PollerMetrics(["wire"], registry=CollectorRegistry())
    pipe.start_worker("w1")
    wire.items = [*kherson_items(0, 3), *stream_items(0, 300)]
    async with open_poller(settings, [feed], metrics=metrics) as poller:
        first = await poller.poll_feed(feed)
        assert (first.outcome, first.new) == ("ok", 303)
        await asyncio.to_thread(
            pipe.wait_for, "a part of the stream classified", lambda: len(pipe.classified_ids()) >= 20, 300.0
        )
        # kill -9 mid-stream, while the worker is still classifying (LocalKafka's own SIGKILL-and-reap)
        await asyncio.to_thread(kafka._kill_quietly)
        assert len(pipe.classified_ids()) < 303, "the stream finished before the kill; make it longer"
        wire.items = [*wire.items, *kherson_items(3, 5), *stream_items(300, 400)]
        down = await poller.poll_feed(feed)  # the poller keeps them unseen while the broker is down
        assert down.outcome == "publish_error"
        await asyncio.to_thread(kafka.start)  # same ports, same data
        reports = [await poller.poll_feed(feed)]
        while reports[-1].outcome != "ok" and len(reports) < 20:  # producers reconnect with back-off
            await asyncio.sleep(1)
            reports.append(await poller.poll_feed(feed))
        assert reports[-1].outcome == "ok"
    titles = {title for title, _, _ in wire.items}
    published = await asyncio.to_thread(_published, pipe)
    assert set(published.values()) == titles, "articles lost between the feed and the articles topic"
    await asyncio.to_thread(pipe.wait_classified, published, 400.0)

    def kherson() -> list[dict[str, Any]]:
        return [
            a
            for a in pipe.records("alerts")
            if any("kherson" in i for i in a["article_ids"]) or "Kherson" in str(a["headline"])
        ]

    await asyncio.to_thread(
        pipe.wait_for,
        "5 kherson sources",
        lambda: max((a["source_count"] for a in kherson()), default=0) == 5,
    )
    alerts = pipe.records("alerts")
    opened = Counter(a["alert_id"] for a in alerts if a["status"] == "new")
    assert opened and max(opened.values()) == 1, f"alert ids opened twice: {opened}"
    assert len({a["alert_id"] for a in kherson()}) == 1
    by_version: dict[tuple[str, int], object] = {}
    for alert in alerts:  # a repeated (id, version) must be an identical re-send
        assert by_version.setdefault((alert["alert_id"], alert["version"]), alert) == alert
    assert not pipe.skipped_input()
    assert pipe.workers[0].process.poll() is None, "the worker died with the broker"


def _published(pipe: Pipeline) -> dict[str, str]:
    """Article id -> title of every record on the articles topic."""
    out: dict[str, str] = {}
    for value in read_all(pipe.kafka, pipe.topics["articles"], timeout_s=60):
        out[value["id"]] = value["title"]
    return out
