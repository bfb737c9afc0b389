"""Worker benchmark: 20,000 articles through one `newswatch worker` on a real broker, against bare classify.

Three measurements in one run, on the same machine and model:

1. bare: ``EventClassifier.classify`` in batches of ``classifier.batch_size`` (as ``newswatch classify`` does
   per batch), in this process, on ``--bare`` articles -> articles/s; measured before and after the worker
   phases (the machine's load drifts), the ratio uses their mean;
2. max: 20,000 articles published first, then one worker subprocess started; sustained articles/s from its
   first to its last classification (read back from the classified topic), and the worker's peak RSS (VmHWM);
3. half load: a fresh topic and consumer group, articles offered at half the measured max rate for
   ``--seconds``; p50/p99 of ``classified_at - fetched_at`` (ingested -> classified) from the records.

The article mix is what a monitor sees: mostly irrelevant news (title + summary), ~3% reporting an event.

    .venv/bin/python bench/worker_bench.py                       # local broker from newswatch.broker
    .venv/bin/python bench/worker_bench.py --bootstrap 127.0.0.1:9092 --articles 20000 --json out.json

Target (issue 4): worker throughput >= 85% of bare classification (streaming overhead < 15%).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newswatch.contracts import Article

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

_NOISE = [
    ("Stocks edge higher as investors weigh inflation data", "Markets rose modestly on Tuesday."),
    ("City council approves new budget for schools", "The plan adds funds for teachers and buses."),
    ("Heatwave grips southern Europe", "Temperatures passed 40C in parts of Spain and Italy."),
    ("Tech giant unveils new smartphone", "The device has a larger screen and better battery."),
    ("Le gouvernement présente son projet de loi de finances", "Le texte prévoit une baisse des impôts."),
    ("Football : le PSG s'impose face à Lyon", "Un doublé en seconde période a fait la différence."),
    ("Central bank holds rates steady", "Policymakers said they would watch wage growth."),
    ("Floods displace thousands in the region", "Aid agencies called for emergency funding."),
]
_EVENTS = [
    ("France says last Barkhane soldiers have left Mali", "The final contingent crossed into Niger."),
    (
        "Soldiers seize power in Niger, detain president",
        "The junta announced it had suspended the constitution.",
    ),
    (
        "UN Security Council ends MINUSMA mandate in Mali",
        "Peacekeepers will withdraw by the end of the year.",
    ),
]


def make_articles(n: int, prefix: str, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        title, summary = rng.choice(_EVENTS) if rng.random() < 0.03 else rng.choice(_NOISE)
        out.append(
            Article(
                id=f"{prefix}-{i}",
                url=f"https://news{i % 40}.example/{prefix}/{i}",
                title=f"{title} ({i})",
                summary=summary,
                published_at=now - timedelta(minutes=rng.randint(1, 600)),
                language="fr" if "Le " in title or "Football" in title else "en",
                feed_url=f"https://news{i % 40}.example/feed",
                outlet=f"Outlet {i % 40}",
                fetched_at=now,
            )
        )
    return out


def load_bare() -> tuple[Any, int]:
    """The classifier as ``newswatch classify`` loads it, and its batch size (same settings as the worker)."""
    from newswatch.classifier import load_classifier
    from newswatch.settings import Settings

    settings = Settings()
    clf = load_classifier(settings.classifier)
    return clf, settings.classifier.batch_size


def bare_rate(clf: Any, size: int, articles: list[Article]) -> float:
    clf.classify(articles[:size])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(articles), size):
        clf.classify(articles[i : i + size])
    return len(articles) / (time.perf_counter() - started)


class Run:
    """Topics + one worker subprocess with its own consumer group."""

    def __init__(self, bootstrap: str, tmp: Path, name: str) -> None:
        self.bootstrap = bootstrap
        prefix = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        self.topics = {t: f"{prefix}.{t}" for t in ("articles", "classified", "alerts", "deadletter")}
        self.app_id = f"{prefix}-worker"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(t, 6 if "articles" in t else 3, 1) for t in self.topics.values()])
        admin.close()
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256_000
        )
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        tps = [TopicPartition(self.topics["classified"], p) for p in range(3)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)

    def publish(self, articles: list[Article]) -> None:
        for a in articles:
            self.producer.send(self.topics["articles"], key=a.id.encode(), value=a.model_dump_json().encode())

    def start_worker(self) -> None:
        env = dict(os.environ)
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "NEWSWATCH_STATE_DIR": str(self.tmp / "state"),
                "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "NEWSWATCH_KAFKA__TOPIC_ARTICLES": self.topics["articles"],
                "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": self.topics["classified"],
                "NEWSWATCH_KAFKA__TOPIC_ALERTS": self.topics["alerts"],
                "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": self.topics["deadletter"],
                "NEWSWATCH_WORKER__APP_ID": self.app_id,
                "NEWSWATCH_WORKER__METRICS_PORT": "0",
            }
        )
        log = (self.tmp / f"{self.app_id}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newswatch.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def read(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for batch in self.consumer.poll(timeout_ms=200, max_records=10_000).values():
            out.extend(json.loads(r.value) for r in batch)
        return out

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.consumer.close()
        self.producer.close()


def max_rate(bootstrap: str, tmp: Path, n: int) -> dict[str, float]:
    run = Run(bootstrap, tmp, "max")
    try:
        run.publish(make_articles(n, "max"))
        run.producer.flush()
        run.start_worker()
        seen = 0
        first = last = 0.0
        deadline = time.monotonic() + 3600
        while seen < n and time.monotonic() < deadline:
            got = run.read()
            if got:
                now = time.monotonic()
                first = first or now
                last = now
                seen += len(got)
        sustained = (seen - 1) / (last - first) if last > first else float("nan")
        return {
            "classified": seen,
            "worker_articles_per_s": sustained,
            "worker_peak_rss_mb": run.peak_rss_mb(),
        }
    finally:
        run.close()


def half_load(bootstrap: str, tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    run = Run(bootstrap, tmp, "half")
    try:
        run.start_worker()
        run.publish(make_articles(32, "warm"))
        run.producer.flush()
        warm: set[str] = set()
        while len(warm) < 32:
            warm |= {r["article_id"] for r in run.read()}
        n = int(rate * seconds)
        articles = make_articles(n, "half", seed=11)
        latencies: list[float] = []
        started = time.monotonic()
        sent = 0
        while len(latencies) < n:
            due = min(n, int((time.monotonic() - started) * rate) + 1)
            while sent < due:  # fetched_at is stamped when offered, like the poller does
                article = articles[sent].model_copy(update={"fetched_at": datetime.now(UTC)})
                value = article.model_dump_json().encode()
                run.producer.send(run.topics["articles"], key=article.id.encode(), value=value)
                sent += 1
            run.producer.flush()
            for record in run.read():
                if str(record["article_id"]).startswith("half-"):
                    classified = datetime.fromisoformat(record["classified_at"])
                    fetched = datetime.fromisoformat(record["fetched_at"])
                    latencies.append((classified - fetched).total_seconds())
            if time.monotonic() - started > seconds * 4 + 120:
                break
        latencies.sort()
        return {
            "offered_articles_per_s": rate,
            "latency_samples": len(latencies),
            "latency_p50_s": statistics.median(latencies),
            "latency_p99_s": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        }
    finally:
        run.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--bare", type=int, default=3_000, help="articles for the bare classifier rate")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the half-load phase")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: start the local broker)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if not args.bootstrap:
        from newswatch.broker import LocalKafka
        from newswatch.settings import Settings

        settings = Settings()
        LocalKafka.from_settings(settings).start()
        args.bootstrap = settings.kafka.bootstrap_servers
    results: dict[str, Any] = {"articles": args.articles}
    clf, size = load_bare()
    bare_articles = make_articles(args.bare, "bare", seed=3)
    results["model_version"] = clf.model_version
    results["torch_threads"] = os.environ.get("NEWSWATCH_CLASSIFIER__NUM_THREADS", "default")
    results["bare_before_articles_per_s"] = bare_rate(clf, size, bare_articles)
    print(f"bare classify: {results['bare_before_articles_per_s']:.1f} articles/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp:
        results.update(max_rate(args.bootstrap, Path(tmp), args.articles))
        print(f"worker max: {results['worker_articles_per_s']:.1f} articles/s", flush=True)
        results.update(
            half_load(args.bootstrap, Path(tmp), results["worker_articles_per_s"] / 2, args.seconds)
        )
    # bare again after the worker phases: on a shared machine the load drifts; the ratio uses the mean
    results["bare_after_articles_per_s"] = bare_rate(clf, size, bare_articles)
    results["bare_articles_per_s"] = (
        results["bare_before_articles_per_s"] + results["bare_after_articles_per_s"]
    ) / 2
    results["worker_to_bare_ratio"] = results["worker_articles_per_s"] / results["bare_articles_per_s"]
    for key, value in results.items():
        print(f"{key:28} {value:.3f}" if isinstance(value, float) else f"{key:28} {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
