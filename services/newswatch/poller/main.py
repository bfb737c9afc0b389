"""``newswatch poll``: wires the feed list, HTTP fetcher, SQLite store, Kafka producer and metrics server.

feeds.yaml ──▶ Poller schedule ──▶ Fetcher (httpx, SSRF guard, conditional GET)
                    │                   └─▶ parse (feedparser / JSON Feed) ─▶ normalise ─▶ Article v1
                    │                                                               │ unseen in Store?
                    └──── next check, validators ◀── Store ◀── acked ids ◀── Publisher (kafka-python)
                                                                                    └─▶ news.articles.v1

newswatch poll --once                    # every feed once, then exit
newswatch poll --feeds my-feeds.yaml     # the scheduler loop, until SIGTERM/SIGINT
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server

from newswatch.poller.errors import PollerError
from newswatch.poller.feeds import FeedConfig, load_feeds
from newswatch.poller.fetch import Fetcher, FetchLimits
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.publish import ProducerLike, Publisher
from newswatch.poller.schedule import ScheduleLimits
from newswatch.poller.service import Poller, PollReport
from newswatch.poller.store import Store
from newswatch.settings import KafkaSettings, Settings

__all__ = ["add_poll_arguments", "open_poller", "producer_factory", "run_poll", "summarise"]

log = logging.getLogger(__name__)


def producer_factory(
    kafka: KafkaSettings, *, timeout_seconds: float, start_timeout_seconds: float = 5.0
) -> Callable[[], ProducerLike]:
    """A factory of kafka-python producers for articles: the broker package's durable config (acks=all,
    idempotent, gzip) with its waits bounded by the poller's publish timeout, and its bootstrap (eager in
    kafka-python 3, 30 s by default) by ``start_timeout_seconds``.

    publisher = Publisher(producer_factory(settings.kafka, timeout_seconds=30), topic=..., timeout_seconds=30)
    """
    from newswatch.broker.clients import kafka_producer

    delivery_ms = int(timeout_seconds * 1000)
    overrides: dict[str, Any] = {
        "delivery_timeout_ms": delivery_ms,  # kafka-python needs it >= linger_ms + request_timeout_ms
        "request_timeout_ms": min(kafka.request_timeout_ms, max(1_000, delivery_ms // 2)),
        "max_block_ms": delivery_ms,
        "bootstrap_timeout_ms": int(start_timeout_seconds * 1000),
    }

    def build() -> ProducerLike:
        producer: ProducerLike = kafka_producer(kafka, **overrides)
        return producer

    return build


@asynccontextmanager
async def open_poller(
    settings: Settings,
    feeds: Sequence[FeedConfig],
    *,
    metrics: PollerMetrics,
    topic: str | None = None,
    producer: Callable[[], ProducerLike] | None = None,
) -> AsyncIterator[Poller]:
    """A ready :class:`Poller` with its fetcher, store and publisher, all closed (producer flushed) on exit.

    metrics = PollerMetrics([feed.name for feed in feeds], registry=CollectorRegistry())
    async with open_poller(settings, feeds, metrics=metrics) as poller:
        reports = await poller.run_once()
    """
    options = settings.poller
    limits = FetchLimits(
        connect_timeout=options.connect_timeout_seconds,
        read_timeout=options.read_timeout_seconds,
        deadline=options.fetch_deadline_seconds,
        max_body_bytes=options.max_body_bytes,
        max_redirects=options.max_redirects,
        max_connections=options.max_concurrency,
        per_host_concurrency=options.per_host_concurrency,
        user_agent=options.user_agent,
        allow_private_networks=tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in options.allow_private_networks
        ),
    )
    publisher = Publisher(
        producer
        or producer_factory(
            settings.kafka,
            timeout_seconds=options.publish_timeout_seconds,
            start_timeout_seconds=options.producer_start_timeout_seconds,
        ),
        topic=topic or settings.kafka.topic_articles,
        timeout_seconds=options.publish_timeout_seconds,
        start_timeout_seconds=options.producer_start_timeout_seconds,
    )
    store = Store.open(options.store_path or settings.state_dir / "poller.sqlite3")
    try:
        publisher.start()  # connects in the background while the first feeds are fetched
        async with Fetcher(limits, observer=metrics.observe_response) as fetcher:
            poller = Poller(
                feeds,
                fetcher=fetcher,
                publisher=publisher,
                store=store,
                metrics=metrics,
                limits=ScheduleLimits(
                    min_interval=options.min_interval_seconds,
                    max_interval=options.max_interval_seconds,
                    backoff_base=options.backoff_base_seconds,
                    backoff_max=options.backoff_max_seconds,
                    jitter=options.backoff_jitter,
                ),
                max_concurrency=options.max_concurrency,
                shutdown_grace_seconds=options.shutdown_grace_seconds,
                max_record_bytes=options.max_record_bytes,
                max_entries_per_feed=options.max_entries_per_feed,
            )
            try:
                yield poller
            finally:
                poller.close()
    finally:
        await asyncio.to_thread(publisher.close, options.shutdown_grace_seconds)
        store.close()


def summarise(reports: Sequence[PollReport]) -> str:
    """A human summary of one pass: feeds by outcome and items new/duplicate/rejected.

    >>> summarise([PollReport("a", "ok", new=3), PollReport("b", "timeout", error="slow")])
    '2 feeds: 1 ok, 1 timeout; items: 3 new, 0 duplicate, 0 rejected, 0 not acknowledged'
    """
    outcomes: dict[str, int] = {}
    for report in reports:
        outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1
    by_outcome = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    return (
        f"{len(reports)} feeds: {by_outcome or 'none polled'}; items: {sum(r.new for r in reports)} new, "
        f"{sum(r.duplicate for r in reports)} duplicate, {sum(r.rejected for r in reports)} rejected, "
        f"{sum(r.unpublished for r in reports)} not acknowledged"
    )


def add_poll_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--feeds", type=Path, default=None, help="feed list YAML (default: settings, else the bundled list)"
    )
    parser.add_argument("--once", action="store_true", help="poll every feed once, print a summary, exit")


async def _poll(settings: Settings, feeds: Sequence[FeedConfig], once: bool) -> int:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    if settings.poller.metrics_port:
        start_http_server(settings.poller.metrics_port, settings.poller.metrics_host, registry=registry)
        log.info("metrics_serving", extra={"port": settings.poller.metrics_port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        metrics = PollerMetrics([feed.name for feed in feeds], registry=registry)
        async with open_poller(settings, feeds, metrics=metrics) as poller:
            if once:
                reports = await poller.run_once(stop)
                for report in reports:
                    detail = f" ({report.error})" if report.error else ""
                    print(f"{report.feed:32} {report.outcome:13} new={report.new:<4}{detail}")
                print(summarise(reports))
                return 1 if reports and all(r.outcome not in ("ok", "not_modified") for r in reports) else 0
            log.info("poller_started", extra={"feeds": len(feeds)})
            await poller.run(stop)
            log.info("poller_stopped")
            return 0
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run_poll(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    try:
        feeds = load_feeds(
            args.feeds or settings.poller.feeds_file,
            default_interval_seconds=settings.poller.default_interval_seconds,
        )
        return asyncio.run(_poll(settings, feeds, args.once))
    except PollerError as exc:
        log.error("poller_failed", extra={"error": str(exc)})
        print(f"newswatch poll: {exc}", file=sys.stderr)
        return 2
