"""Support for the end-to-end tests: random topics on the real broker, `newswatch worker` subprocesses,
a producer of Article records and readers of the output topics."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newswatch.broker.clients import kafka_producer
from newswatch.broker.reading import TopicReader
from newswatch.broker.topics import TopicSpec, ensure_topics
from newswatch.contracts import Article
from newswatch.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "barkhane-leaves-mali-2022.txt"
HUGE_LIMIT = 16 * 1024 * 1024

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def article(article_id: str, title: str, summary: str = "", **fields: Any) -> Article:
    now = datetime.now(UTC)
    data: dict[str, Any] = {
        "id": article_id,
        "url": f"https://{fields.pop('host', 'news.example')}/{article_id}",
        "title": title,
        "summary": summary,
        "published_at": now - timedelta(minutes=30),
        "language": "en",
        "feed_url": "https://news.example/feed.xml",
        "outlet": "Example News",
        "fetched_at": now,
    }
    data.update(fields)
    return Article.model_validate(data)


def seed_article() -> Article:
    text = SEED.read_text(encoding="utf-8")
    return article(
        "seed-barkhane-2022",
        "Last French troops of Barkhane leave Mali",
        text,
        outlet="DW",
        host="www.dw.com",
        published_at=datetime(2022, 8, 15, 14, 0, tzinfo=UTC),
    )


KHERSON = [
    ("Reuters", "Russia announces withdrawal of its troops from Kherson"),
    ("BBC", "Russian forces ordered to withdraw from Ukraine's Kherson city"),
    ("AFP", "Russia says it will pull its troops out of Kherson"),
    ("Al Jazeera", "Russian army begins withdrawal from Kherson in southern Ukraine"),
    ("DW", "Moscow orders Russian troops to leave Kherson, Ukraine"),
]


def kherson_articles(start: int = 0, stop: int = 5) -> list[Article]:
    published = datetime.now(UTC) - timedelta(hours=1)
    return [
        article(
            f"kherson-{i}",
            title,
            f"{title}. The Russian defence minister ordered the troops to withdraw from the city of Kherson "
            "and move to the left bank of the Dnipro river.",
            outlet=outlet,
            host=f"{outlet.lower().replace(' ', '')}.example",
            published_at=published + timedelta(minutes=5 * i),
        )
        for i, (outlet, title) in enumerate(KHERSON[start:stop], start=start)
    ]


NEGATIVES = [
    ("neg-football", "Late winner seals title coup for Lyon", "Lyon pulled off a coup with a late winner."),
    ("neg-brexit", "UK formally withdraws from the EU", "Britain left the European Union at midnight."),
    ("neg-weather", "Heatwave grips southern Europe", "Temperatures topped 40C in Spain and Italy."),
]


def negative_articles() -> list[Article]:
    return [article(i, t, s) for i, t, s in NEGATIVES]


def filler_articles(n: int, prefix: str = "filler", *, military: bool = False) -> list[Article]:
    """Ordinary news; ``military`` ones use words a cheap screen lets through to the model (slower)."""
    topics = ["markets rally as inflation cools", "new vaccine trial results", "city council approves budget"]
    if military:
        topics = ["troops parade for national day", "army chief visits camp", "soldiers rebuild bridge"]
    return [article(f"{prefix}-{i}", f"Report {i}: {topics[i % 3]}", "Routine news.") for i in range(n)]


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    metrics_port: int
    log_path: Path

    def scrape(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            body: bytes = resp.read()
            return body.decode()

    def kill9(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def counters(self) -> str:
        """The worker's progress counters and lag from /metrics, one line each (or why they are missing)."""
        try:
            body = self.scrape()
        except OSError as exc:
            return f"/metrics unavailable: {exc!r}"
        wanted = ("articles_consumed", "articles_classified", "deadletters_total", "consumer_lag")
        return "\n".join(
            line for line in body.splitlines() if not line.startswith("#") and any(w in line for w in wanted)
        )


@dataclass
class Pipeline:
    """Random topics and a consumer group of one test; workers run as `newswatch worker` subprocesses."""

    bootstrap: str
    tmp_path: Path
    prefix: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:10]}")
    workers: list[Worker] = field(default_factory=list)
    _seen: dict[str, list[Any]] = field(default_factory=dict)
    _readers: dict[str, TopicReader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = ("articles", "classified", "alerts", "deadletter")
        self.topics = {name: f"{self.prefix}.{name}" for name in names}
        self.app_id = f"{self.prefix}-worker"
        self.kafka = KafkaSettings(bootstrap_servers=self.bootstrap)
        big = {"max.message.bytes": str(HUGE_LIMIT)}
        ensure_topics(
            self.kafka,
            [
                TopicSpec(self.topics["articles"], 3, 1, big),
                TopicSpec(self.topics["classified"], 3, 1),
                TopicSpec(self.topics["alerts"], 1, 1),
                TopicSpec(self.topics["deadletter"], 1, 1, big),
            ],
        )
        self.producer = kafka_producer(self.kafka, max_request_size=HUGE_LIMIT)

    # -- workers ------------------------------------------------------------------------------------------
    def env(self, metrics_port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "NEWSWATCH_LOG_FORMAT": "json",
                "NEWSWATCH_STATE_DIR": str(self.tmp_path / "state"),
                "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "NEWSWATCH_KAFKA__TOPIC_ARTICLES": self.topics["articles"],
                "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": self.topics["classified"],
                "NEWSWATCH_KAFKA__TOPIC_ALERTS": self.topics["alerts"],
                "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": self.topics["deadletter"],
                "NEWSWATCH_WORKER__APP_ID": self.app_id,
                "NEWSWATCH_WORKER__METRICS_HOST": "127.0.0.1",
                "NEWSWATCH_WORKER__METRICS_PORT": str(metrics_port),
                "NEWSWATCH_WORKER__SESSION_TIMEOUT_SECONDS": "10",
                "NEWSWATCH_WORKER__COMMIT_INTERVAL_SECONDS": "0.5",
                "NEWSWATCH_WORKER__BATCH_WITHIN_SECONDS": "0.2",
                "NEWSWATCH_WORKER__LAG_INTERVAL_SECONDS": "1",
            }
        )
        return env

    def start_worker(self, name: str = "w1") -> Worker:
        port = free_port()
        log_path = self.tmp_path / f"{name}-{len(self.workers)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "newswatch.cli", "worker"],
                cwd=self.tmp_path,
                env=self.env(port),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, port, log_path)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.kill9()
        for reader in self._readers.values():
            reader.close()
        self.producer.close()

    # -- input --------------------------------------------------------------------------------------------
    def publish(self, articles: Iterable[Article]) -> None:
        for item in articles:
            value = item.model_dump_json().encode()
            self.producer.send(self.topics["articles"], key=item.id.encode(), value=value)
        self.producer.flush(timeout=60)

    def publish_raw(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.topics["articles"], key=key, value=value)
        self.producer.flush(timeout=60)

    # -- output -------------------------------------------------------------------------------------------
    def records(self, name: str) -> list[Any]:
        """Every record read so far from output topic ``name`` (JSON-decoded values), in topic order."""
        reader = self._readers.get(name)
        if reader is None:
            reader = TopicReader(
                self.kafka, [self.topics[name]], max_partition_fetch_bytes=HUGE_LIMIT, max_poll_records=5000
            )
            self._readers[name] = reader
            self._seen[name] = []
        self._seen[name].extend(json.loads(r.value or b"") for r in reader.poll(500))
        return self._seen[name]

    def wait_for(
        self,
        what: str,
        predicate: Callable[[], bool],
        timeout: float = 180.0,
        progress: Callable[[], int] | None = None,
    ) -> None:
        """Poll ``predicate`` until true; on timeout fail with a diagnosis (``progress`` sampled over time,
        each worker's state, the tail of its log and its /metrics counters)."""
        started = time.monotonic()
        timeline: list[tuple[float, int]] = []
        while time.monotonic() - started < timeout:
            if predicate():
                log.info("waited %.1fs for %s; progress %s", time.monotonic() - started, what, timeline)
                return
            if progress is not None and (not timeline or time.monotonic() - started - timeline[-1][0] >= 5):
                timeline.append((time.monotonic() - started, progress()))
                if skipped := self.skipped_input():  # records lost: waiting longer will not bring them
                    detail = "\n".join([*skipped, self.diagnosis(timeline)])
                    raise AssertionError(f"a worker skipped input records:\n{detail}")
            for worker in self.workers:
                code = worker.process.poll()
                if code is not None and code != -signal.SIGKILL:
                    detail = f"worker {worker.name} exited {code} while waiting for {what}"
                    raise AssertionError(f"{detail}:\n{worker.log()}")
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.diagnosis(timeline)}")

    def diagnosis(self, timeline: Sequence[tuple[float, int]] = ()) -> str:
        """Progress over time, then per worker: state, /metrics counters (if alive), the tail of its log."""
        parts = []
        if timeline:
            points = " ".join(f"{elapsed:.0f}s:{count}" for elapsed, count in timeline)
            parts.append(f"progress (seconds since the wait began: count): {points}")
        for worker in self.workers:
            code = worker.process.poll()
            state = "running" if code is None else f"exited {code}"
            parts.append(f"--- worker {worker.name} (pid {worker.process.pid}, {state}): {worker.log_path}")
            if code is None:
                parts.append(worker.counters())
            parts.extend(worker.log().splitlines()[-60:])
        return "\n".join(parts)

    def skipped_input(self) -> list[str]:
        """The workers' ``input_records_skipped`` log lines: records they never received (lost)."""
        return [
            f"{worker.name}: {line}"
            for worker in self.workers
            for line in worker.log().splitlines()
            if "input_records_skipped" in line
        ]

    def classified_ids(self) -> set[str]:
        return {r["article_id"] for r in self.records("classified")}

    def wait_classified(self, ids: Iterable[str], timeout: float = 180.0) -> None:
        wanted = set(ids)
        self.wait_for(
            f"{len(wanted)} classifications",
            lambda: wanted <= self.classified_ids(),
            timeout,
            progress=lambda: len(wanted & self.classified_ids()),
        )
