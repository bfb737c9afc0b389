"""Poller benchmark: 1,000 feeds served locally, a full first pass and a conditional second pass into Kafka.

A child process serves the feeds (aiohttp, 10 ports = 10 "hosts", 10 items per feed, ETag and Last-Modified);
this process runs the real poller (``open_poller``: httpx, SQLite store, kafka-python producer) against a real
broker. Between the passes 5% of the feeds gain one item; the rest answer 304. Also measures the SQLite dedup
store on its own (the store choice, see docs/poller.md).

    .venv/bin/python bench/poller_bench.py                      # starts (and stops) the local broker
    .venv/bin/python bench/poller_bench.py --bootstrap 127.0.0.1:9092 --feeds 1000 --json out.json

Targets (issue 2): conditional pass of 1,000 feeds < 10 s on a 2-core machine, < 300 MB resident.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PORTS = 10
ITEMS_PER_FEED = 10
CHANGED_FRACTION = 0.05


# --- the feed server (child process) ------------------------------------------------------------------------


def _serve(feeds: int, conn: Connection) -> None:
    from aiohttp import web

    versions = [0] * feeds
    last_modified = "Tue, 24 Nov 2026 17:05:00 GMT"

    def body(index: int) -> bytes:
        count = ITEMS_PER_FEED + versions[index]
        items = "".join(
            f"<item><title>Feed {index} story {n}: soldiers, ministers and markets</title>"
            f"<link>https://bench{index % PORTS}.example/{index}/{n}?utm_source=rss</link>"
            f"<guid isPermaLink='false'>{index}-{n}</guid>"
            f"<description>&lt;p&gt;Story {n} of feed {index}, a paragraph of plain news text that is long "
            f"enough to look like a real summary of a real article.&lt;/p&gt;</description>"
            f"<pubDate>Tue, 24 Nov 2026 17:05:00 +0000</pubDate></item>"
            for n in range(count)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench {index}</title>'
            f"<language>en</language>{items}</channel></rss>"
        ).encode()

    async def feed(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        etag = f'"{index}-{versions[index]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag, "Last-Modified": last_modified})
        headers = {"ETag": etag, "Last-Modified": last_modified, "Content-Type": "application/rss+xml"}
        return web.Response(body=body(index), headers=headers)

    async def bump(request: web.Request) -> web.Response:
        step = max(1, round(1 / float(request.query["fraction"])))
        for index in range(0, feeds, step):
            versions[index] += 1
        return web.Response(text=str(len(range(0, feeds, step))))

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{index}.xml", feed)
        app.router.add_get("/_bump", bump)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ports = []
        for _ in range(PORTS):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports.append(runner.addresses[-1][1])
        conn.send(ports)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until the parent says stop
        await runner.cleanup()

    asyncio.run(main())


# --- measurements -------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _passes(args: argparse.Namespace, ports: list[int], state: Path) -> dict[str, Any]:
    import httpx
    from prometheus_client import CollectorRegistry

    from newswatch.broker import declared_topics, ensure_topics
    from newswatch.poller.feeds import FeedConfig
    from newswatch.poller.main import open_poller
    from newswatch.poller.metrics import PollerMetrics
    from newswatch.poller.settings import PollerSettings
    from newswatch.settings import KafkaSettings, Settings

    topic = f"bench.articles.{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topic_articles=topic)
    ensure_topics(kafka, [spec for spec in declared_topics(kafka) if spec.name == topic])
    settings = Settings(
        state_dir=state,
        kafka=kafka,
        poller=PollerSettings(metrics_port=0, allow_private_networks=("127.0.0.1/32",)),
    )
    feeds = [
        FeedConfig(
            name=f"bench-{i}", url=f"http://127.0.0.1:{ports[i % PORTS]}/feed/{i}.xml", interval_seconds=900
        )
        for i in range(args.feeds)
    ]
    results: dict[str, Any] = {"feeds": args.feeds, "topic": topic}
    metrics = PollerMetrics([f.name for f in feeds], registry=CollectorRegistry())
    async with open_poller(settings, feeds, metrics=metrics) as poller:
        started = time.perf_counter()
        first = await poller.run_once()
        first_s = time.perf_counter() - started
        published = sum(r.new for r in first)
        results["first_pass_s"] = round(first_s, 2)
        results["first_pass_outcomes"] = dict(Counter(r.outcome for r in first))
        results["items_published"] = published
        results["items_per_s"] = round(published / first_s, 1)
        async with httpx.AsyncClient() as client:
            changed = (
                await client.get(f"http://127.0.0.1:{ports[0]}/_bump?fraction={CHANGED_FRACTION}")
            ).text
        started = time.perf_counter()
        second = await poller.run_once()
        results["second_pass_s"] = round(time.perf_counter() - started, 2)
        results["second_pass_outcomes"] = dict(Counter(r.outcome for r in second))
        results["second_pass_new_items"] = sum(r.new for r in second)
        results["feeds_changed"] = int(changed)
    results["peak_rss_mb"] = round(_rss_mb(), 1)
    return results


def _store_bench(directory: Path, ids: int = 100_000, batch: int = 20) -> dict[str, Any]:
    """The dedup store alone: mark ``ids`` seen in batches (one transaction each), then look them all up."""
    from newswatch.poller.store import Store

    path = directory / "store-bench.sqlite3"
    keys = [uuid.uuid4().hex * 2 for _ in range(ids)]
    with Store.open(path) as store:
        started = time.perf_counter()
        for start in range(0, ids, batch):
            store.mark_seen([(key, "bench") for key in keys[start : start + batch]])
        insert_s = time.perf_counter() - started
        started = time.perf_counter()
        unseen = sum(len(store.unseen(keys[start : start + batch])) for start in range(0, ids, batch))
        lookup_s = time.perf_counter() - started
    assert unseen == 0
    size = sum(p.stat().st_size for p in directory.glob("store-bench.sqlite3*"))
    return {
        "store_ids": ids,
        "store_insert_per_s": round(ids / insert_s),
        "store_lookup_per_s": round(ids / lookup_s),
        "store_bytes_per_id": round(size / ids, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: start the local broker)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    local = None
    if not args.bootstrap:
        from newswatch.broker import LocalKafka, fetch_jars
        from newswatch.settings import Settings

        local = LocalKafka.from_settings(Settings())
        fetch_jars(local.config.jars_dir)
        if not local.start():
            local = None  # already running: somebody else's, leave it running
        args.bootstrap = LocalKafka.from_settings(Settings()).bootstrap
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(args.feeds, child), daemon=True
    )
    server.start()
    try:
        ports: list[int] = parent.recv()
        with tempfile.TemporaryDirectory(prefix="poller-bench-") as tmp:
            results = asyncio.run(_passes(args, ports, Path(tmp)))
            results.update(_store_bench(Path(tmp)))
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if local is not None:
            local.stop()
    results["python"] = sys.version.split()[0]
    for key, value in results.items():
        print(f"{key:24} {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
