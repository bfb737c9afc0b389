"""Alert delay under a backlog: how long a candidate waits for its alert while the worker works off a backlog.

10,000 articles (the monitor's mix of worker_bench.py, ~3% events) are published first, then one
`newswatch worker` is started. The bench reads the internal candidate topic and the alerts topic with their
record timestamps. Candidates are keyed by event type (one partition each) and processed in offset order,
and every candidate here is a new source (distinct URLs), so the k-th alert record of an event type answers
its k-th candidate: delay = alert timestamp - candidate timestamp. Also reported: when the first alert came
and when the last classification came, in seconds after the first classification.

    HF_HUB_OFFLINE=1 NEWSWATCH_CLASSIFIER__NUM_THREADS=1 .venv/bin/python bench/alert_backlog_bench.py
    .venv/bin/python bench/alert_backlog_bench.py --bootstrap 127.0.0.1:9092 --articles 10000 --json out.json

Before the fix (issue "hardening against broker faults", item 4) the alert agent got no record until the
classify agent had nearly caught up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker_bench import KafkaConsumer, Run, TopicPartition, make_articles


def _consumer(bootstrap: str, topic: str, partitions: int) -> Any:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer


def _poll(consumer: Any) -> list[tuple[int, int, dict[str, Any]]]:
    out = []
    for batch in consumer.poll(timeout_ms=200, max_records=10_000).values():
        out.extend((r.timestamp, r.offset, json.loads(r.value)) for r in batch)
    return out


def backlog(bootstrap: str, tmp: Path, n: int, quiet_s: float) -> dict[str, Any]:
    run = Run(bootstrap, tmp, "backlog")
    try:
        run.publish(make_articles(n, "backlog"))
        run.producer.flush()
        run.start_worker()
        alerts = _consumer(bootstrap, run.topics["alerts"], 3)
        candidates: Any = None
        got_candidates: list[tuple[int, int, dict[str, Any]]] = []
        got_alerts: list[tuple[int, int, dict[str, Any]]] = []
        classified_ts: list[float] = []
        deadline = time.monotonic() + 3600
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if candidates is None and len(classified_ts) > 0:  # the worker has created its internal topic
                candidates = _consumer(bootstrap, f"{run.app_id}-alert-candidates", 3)
            for batch in run.consumer.poll(timeout_ms=200, max_records=10_000).values():
                classified_ts.extend(r.timestamp / 1000 for r in batch)
            if candidates is not None:
                got_candidates.extend(_poll(candidates))
            got_alerts.extend(_poll(alerts))
            done = len(classified_ts) >= n and len(got_alerts) >= len(got_candidates) > 0
            if done:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > quiet_s:
                    break
            else:
                quiet_since = None
        by_type_c: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ts, offset, value in got_candidates:
            by_type_c[value["event_type"]].append((offset, ts))
        by_type_a: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ts, _, value in got_alerts:
            by_type_a[value["event_type"]].append((value["source_count"], ts))
        delays: list[float] = []
        for event_type, cands in by_type_c.items():
            cands.sort()
            answers = sorted(by_type_a.get(event_type, []), key=lambda a: a[1])
            delays.extend((a[1] - c[1]) / 1000 for c, a in zip(cands, answers, strict=False))
        delays.sort()
        start = min(classified_ts)
        return {
            "articles": n,
            "candidates": len(got_candidates),
            "alert_records": len(got_alerts),
            "last_classified_after_s": max(classified_ts) - start,
            "first_alert_after_s": min(ts for ts, _, _ in got_alerts) / 1000 - start if got_alerts else None,
            "delay_p50_s": statistics.median(delays) if delays else None,
            "delay_p99_s": delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None,
            "delay_max_s": delays[-1] if delays else None,
        }
    finally:
        run.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds without new output before stopping")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: start the local broker)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="alert-backlog-") as tmp:
        broker = None
        if not args.bootstrap:  # a private broker on free ports, in the temporary directory
            from dataclasses import replace

            from newswatch.broker.local import LocalKafka, LocalKafkaConfig
            from newswatch.settings import Settings

            base = LocalKafkaConfig.from_settings(Settings(state_dir=Path(tmp)))
            broker = LocalKafka(replace(base, die_with_parent=True).with_free_ports())
            broker.start()
            args.bootstrap = broker.bootstrap
        try:
            results = backlog(args.bootstrap, Path(tmp), args.articles, args.quiet)
        finally:
            if broker is not None:
                broker.stop()
    for key, value in results.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
