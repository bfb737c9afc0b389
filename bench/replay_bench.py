"""A year of real French news, day by day, through the real poller and worker, alerts scored on a calendar.

The archive is rssTrends (antoninfaure/rssTrends, MIT; items belong to their outlets) from 2025-09-01, the
part never used for training (``newswatch.tooling.selection.REPLAY_FROM``). Each day becomes one RSS feed per
outlet, served on 127.0.0.1; the real poller (``open_poller``: fetch, parse, normalise, dedup, publish) polls
them once per day into a private broker, and one real ``newswatch worker`` subprocess classifies and alerts.
By default each day waits until the worker has classified the day before (``--no-pace`` to let it lag).
At the end, every alert is scored against ``bench/replay/calendar.json``, the events of that year as the
archive reports them, written from its items (``bench/replay/README.md``): events caught, alerts per caught
event, false alerts per 1,000 articles and as a share of all alerts (``newswatch.tooling.replay``).

    git clone https://github.com/antoninfaure/rssTrends /src/rssTrends      # any clone holding af4ff40
    HF_HUB_OFFLINE=1 .venv/bin/python bench/replay_bench.py --repo /src/rssTrends --json replay.json
    .venv/bin/python bench/replay_bench.py --repo /src/rssTrends --to 2025-09-30      # one month

The replay runs faster than real time: alert matching works on event time (the items' days), so it is
unaffected, but the worker's wall-clock housekeeping (closing alerts after ``retention_hours`` without
updates) does not happen within the run; open alerts are capped per event type instead.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from newswatch.broker import TopicReader, declared_topics, ensure_topics, read_all
from newswatch.broker.local import LocalKafka, LocalKafkaConfig
from newswatch.broker.reading import json_objects
from newswatch.classifier.text import fold
from newswatch.poller.feeds import FeedConfig
from newswatch.poller.main import open_poller
from newswatch.poller.metrics import PollerMetrics
from newswatch.settings import Settings
from newswatch.tooling.corpus import SOURCES, iter_source
from newswatch.tooling.replay import load_calendar, render_rss, replay_days, score_alerts
from newswatch.tooling.selection import REPLAY_FROM

HERE = Path(__file__).resolve().parent
DEFAULT_CALENDAR = HERE / "replay" / "calendar.json"
_DAY_DIR = re.compile(r"^data/(\d{2})-(\d{2})-(\d{4})/news\.json$")


class FeedServer:
    """The day's feeds over HTTP on 127.0.0.1, swapped in place between polls (ETag = content hash)."""

    def __init__(self) -> None:
        self._feeds: dict[str, bytes] = {}
        self._lock = threading.Lock()
        feeds, lock = self._feeds, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    body = feeds.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, feeds: dict[str, bytes]) -> None:
        with self._lock:
            self._feeds.clear()
            self._feeds.update(feeds)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def feed_name(outlet: str) -> str:
    return re.sub(r"[^a-z0-9._-]", "-", outlet.lower())[:80]


def load_days(repo: Path, start: date, end: date) -> dict[date, list[Any]]:
    source = SOURCES["rsstrends"]
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", source.commit, "--", source.prefix],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    paths = []
    for path in listing:
        match = _DAY_DIR.match(path)
        if match:
            day = date(int(match[3]), int(match[2]), int(match[1]))
            if start <= day <= end:
                paths.append(path)
    return replay_days(iter_source("rsstrends", repo, sorted(paths)), start=start, end=end)


class Worker:
    """One ``newswatch worker`` subprocess on the bench's topics."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        kafka = settings.kafka
        env = dict(os.environ)
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "NEWSWATCH_STATE_DIR": str(tmp / "worker-state"),
                "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "NEWSWATCH_KAFKA__TOPIC_ARTICLES": kafka.topic_articles,
                "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": kafka.topic_classified,
                "NEWSWATCH_KAFKA__TOPIC_ALERTS": kafka.topic_alerts,
                "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": kafka.topic_deadletter,
                "NEWSWATCH_WORKER__APP_ID": settings.worker.app_id,
                "NEWSWATCH_WORKER__METRICS_PORT": "0",
            }
        )
        self.log_path = tmp / "worker.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "newswatch.cli", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n" + "\n".join(tail))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def broker(bootstrap: str | None, tmp: Path) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    base = LocalKafkaConfig.from_settings(Settings(state_dir=tmp))
    local = LocalKafka(replace(base, die_with_parent=True).with_free_ports())
    local.start()
    try:
        yield local.bootstrap
    finally:
        local.stop()


def bench_settings(bootstrap: str, tmp: Path) -> Settings:
    prefix = f"replay-{uuid.uuid4().hex[:8]}"
    base = Settings(state_dir=tmp)
    kafka = base.kafka.model_copy(
        update={
            "bootstrap_servers": bootstrap,
            "topic_articles": f"{prefix}.articles",
            "topic_classified": f"{prefix}.classified",
            "topic_alerts": f"{prefix}.alerts",
            "topic_deadletter": f"{prefix}.deadletter",
        }
    )
    poller = base.poller.model_copy(
        update={
            "allow_private_networks": ("127.0.0.1/32",),
            "store_path": tmp / "poller.sqlite3",
            "metrics_port": 0,
        }
    )
    worker = base.worker.model_copy(update={"app_id": f"{prefix}-worker"})
    return base.model_copy(update={"kafka": kafka, "poller": poller, "worker": worker})


async def replay(args: argparse.Namespace, bootstrap: str, tmp: Path) -> dict[str, Any]:
    started = time.monotonic()
    days = load_days(args.repo, args.start, args.end)
    if args.days:
        days = dict(list(days.items())[: args.days])
    outlets = sorted({item.outlet for items in days.values() for item in items})
    item_days = {item.id: day for day, items in days.items() for item in items}
    item_of_url = {item.url: item.id for items in days.values() for item in items}
    # The poller may canonicalise a link (tracking parameters, fragments): the day's title finds it then.
    item_of_title = {
        (day, fold(item.title, lower=True)): item.id for day, items in days.items() for item in items
    }
    print(f"{len(days)} days, {sum(map(len, days.values()))} items, {len(outlets)} outlets", flush=True)

    settings = bench_settings(bootstrap, tmp)
    ensure_topics(settings.kafka, declared_topics(settings.kafka))
    server = FeedServer()
    feeds = [
        FeedConfig(
            name=feed_name(o),
            url=f"{server.base}/{feed_name(o)}.xml",
            outlet=o,
            language="fr",
            interval_seconds=86_400,
        )
        for o in outlets
    ]
    worker = Worker(settings, tmp)
    classified = TopicReader(settings.kafka, [settings.kafka.topic_classified])
    published = 0
    seen: set[str] = set()
    item_of_article: dict[str, str] = {}
    outcomes: Counter[str] = Counter()

    def drain() -> None:
        for record in json_objects(classified.poll()):
            article_id = str(record["article_id"])
            seen.add(article_id)
            item = item_of_url.get(record.get("url") or "")
            if item is None and record.get("title") and record.get("published_at"):
                day = date.fromisoformat(str(record["published_at"])[:10])
                item = item_of_title.get((day, fold(str(record["title"]), lower=True)))
            if item is not None:
                item_of_article[article_id] = item

    def wait_classified(limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        while len(seen) < published and time.monotonic() < deadline:
            worker.check()
            drain()

    try:
        metrics = PollerMetrics([f.name for f in feeds], registry=CollectorRegistry())
        async with open_poller(settings, feeds, metrics=metrics) as poller:
            for n, (day, items) in enumerate(days.items(), 1):
                by_outlet: dict[str, list[Any]] = {o: [] for o in outlets}
                for item in items:
                    by_outlet[item.outlet].append(item)
                server.publish(
                    {
                        f"/{feed_name(o)}.xml": render_rss(o, rows, day, f"https://{o}/")
                        for o, rows in by_outlet.items()
                    }
                )
                reports = await poller.run_once()
                published += sum(r.new for r in reports)
                outcomes.update(r.outcome for r in reports)
                if not args.no_pace:
                    await asyncio.to_thread(wait_classified, 600.0)
                if n % 30 == 0 or n == len(days):
                    print(
                        f"  {day}: {published} published, {len(seen)} classified,"
                        f" {time.monotonic() - started:.0f} s",
                        flush=True,
                    )
        await asyncio.to_thread(wait_classified, 3600.0)
        drain()
        time.sleep(args.quiet)  # alerts follow the last classifications through the candidate topic
        alerts = read_all(settings.kafka, settings.kafka.topic_alerts, timeout_s=120.0)
        deadletters = read_all(settings.kafka, settings.kafka.topic_deadletter, timeout_s=60.0)
    finally:
        classified.close()
        worker.close()
        server.close()

    calendar = load_calendar(args.calendar)
    unmapped = len(seen) - len(item_of_article)
    score = score_alerts(
        alerts, calendar, articles=published, item_of_article=item_of_article, day_of_item=item_days
    )
    result = {
        **score.summary(),
        "days": len(days),
        "archive_items": sum(map(len, days.values())),
        "classified": len(seen),
        "classified_not_mapped_to_an_item": unmapped,
        "dead_letters": len(deadletters),
        "alert_records": len(alerts),
        "poll_outcomes": dict(outcomes),
        "wall_seconds": round(time.monotonic() - started, 1),
        "missed_events": [
            {"id": e.id, "title": e.title, "first_day": str(e.first_day)}
            for e in calendar
            if e.id in score.missed
        ],
        "alerts_scored": [
            {
                "alert_id": o.alert_id,
                "day": str(o.day),
                "event_type": o.event_type,
                "countries": o.countries,
                "sources": o.sources,
                "probability": round(o.probability, 3),
                "severity": o.severity,
                "event_id": o.event_id,
                "duplicate": o.duplicate,
                "headline": o.headline,
            }
            for o in score.outcomes
        ],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, required=True, help="a clone of antoninfaure/rssTrends")
    parser.add_argument(
        "--from", dest="start", type=date.fromisoformat, default=date.fromisoformat(REPLAY_FROM)
    )
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=date(2026, 8, 31))
    parser.add_argument("--days", type=int, default=0, help="only the first N days (a quick run)")
    parser.add_argument("--calendar", type=Path, default=DEFAULT_CALENDAR)
    parser.add_argument(
        "--no-pace", action="store_true", help="poll every day without waiting for the worker"
    )
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds to let the last alerts through")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: a private local broker)")
    parser.add_argument("--json", type=Path, help="also write the full results (every alert scored) here")
    args = parser.parse_args(argv)
    if args.start < date.fromisoformat(REPLAY_FROM):
        parser.error(f"--from must be on or after {REPLAY_FROM}: earlier days are training data")
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp, broker(args.bootstrap, Path(tmp)) as bootstrap:
        result = asyncio.run(replay(args, bootstrap, Path(tmp)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    for key, value in result.items():
        if not isinstance(value, list):
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    print("missed events:")
    for event in result["missed_events"]:
        print(f"  {event['first_day']} {event['id']}: {event['title']}")
    print("alerts:")
    for alert in result["alerts_scored"]:
        mark = "FALSE" if alert["event_id"] is None else ("dup  " if alert["duplicate"] else "ok   ")
        print(
            f"  {mark} {alert['day']} {alert['event_type']:19} {','.join(alert['countries']) or '-':8}"
            f" {alert['sources']:3} p={alert['probability']:.2f} {alert['severity']:7}"
            f" {alert['event_id'] or '':24} {alert['headline'][:90]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
