"""Serve benchmark: p50/p99 latency of the alert page and the JSON API with 10,000 alerts in the read model.

Fills a fresh SQLite read model (``AlertStore``, the same writes the read-model consumer makes) with
``--alerts`` alerts (three event types, three severities, 20 countries, 1-3 versions each), starts the real
app under uvicorn in a child process on 127.0.0.1, and times sequential HTTP requests from this process
(httpx, keep-alive), in the same run:

- **unfiltered** baseline: ``/`` and ``/api/v1/alerts`` (newest 50);
- **filtered**: ``/?event_type=coup&country=ML&severity=flash&since=30d`` and the same on the API;
- **ratio** filtered/unfiltered p99 (bench/README.md).

    .venv/bin/python bench/serve_bench.py
    .venv/bin/python bench/serve_bench.py --alerts 10000 --requests 500 --json out.json

Target (issue 12): p99 under 100 ms for the filtered list, page and API.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

COUNTRIES = tuple(
    [
        "ML",
        "NE",
        "BF",
        "TD",
        "SD",
        "GW",
        "GN",
        "CF",
        "CD",
        "SO",
        "ET",
        "LY",
        "FR",
        "US",
        "RU",
        "GA",
        "MZ",
        "SS",
        "NG",
        "CM",
    ]
)
EVENTS = ("military_withdrawal", "coup", "peacekeeping_change")
SEVERITIES = ("flash", "urgent", "routine")
FILTER = "event_type=coup&country=ML&severity=flash&since=30d"


def _alert(i: int, version: int, now: datetime, rng: random.Random) -> Any:
    from newswatch.contracts import Alert

    countries = rng.sample(COUNTRIES, rng.choice((1, 1, 2)))
    first = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
    sources = [
        {
            "sentence": f"Reports say troops moved in {countries[0]}, source {j} of alert {i}, with a "
            "fairly long sentence of evidence as the classifier extracts it from the article text.",
            "article_id": f"a{i}-{j}",
            "url": f"https://outlet{j}.example/news/{i}/{j}",
            "outlet": f"Outlet {j}",
        }
        for j in range(1, version + 1)
    ]
    return Alert.model_validate(
        {
            "alert_id": f"al-{i:06d}",
            "version": version,
            "status": "new" if version == 1 else "update",
            "event_type": EVENTS[i % 3],
            "probability": 0.9,
            "severity": SEVERITIES[(i // 3) % 3],
            "headline": f"Headline of alert {i}: soldiers and peacekeepers in {', '.join(countries)}",
            "evidence": sources,
            "countries": countries,
            "links": [s["url"] for s in sources],
            "outlets": [s["outlet"] for s in sources],
            "article_ids": [s["article_id"] for s in sources],
            "source_count": version,
            "first_seen": first,
            "last_updated": first + timedelta(minutes=10 * version),
            "published_at": first - timedelta(minutes=15),
            "freshness_minutes": 15.0,
            "model_version": "bench",
        }
    )


def fill(path: Path, alerts: int) -> tuple[int, int, float]:
    from newswatch.serve.store import AlertStore, Upsert

    rng = random.Random(12)
    now = datetime.now(UTC)
    store = AlertStore(path)
    start = time.perf_counter()
    offset = 0
    batch: list[Upsert] = []
    for i in range(alerts):
        for version in range(1, rng.choice((1, 1, 2, 3)) + 1):
            a = _alert(i, version, now, rng)
            batch.append(Upsert(a, a.model_dump_json(), i % 3, offset))
            offset += 1
        if len(batch) >= 500:
            store.apply("bench", batch, {0: offset})
            batch = []
    store.apply("bench", batch, {0: offset})
    seconds = time.perf_counter() - start
    counts = store.counts()
    store.close()
    return counts[0], counts[1], seconds


class _Ready:
    ready = True
    lag: dict[int, int] = {}  # noqa: RUF012
    error = None


def _serve(path: str, port: int) -> None:
    import uvicorn
    from prometheus_client import CollectorRegistry

    from newswatch.serve.app import ROUTES, create_app
    from newswatch.serve.metrics import ServeMetrics
    from newswatch.serve.settings import ServeSettings
    from newswatch.serve.store import AlertStore

    registry = CollectorRegistry()
    app = create_app(AlertStore(path), _Ready(), ServeSettings(), ServeMetrics(ROUTES, registry), registry)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _time(client: Any, url: str, n: int) -> dict[str, float]:
    for _ in range(20):  # warm-up: template compile, SQLite page cache
        client.get(url).raise_for_status()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": 1000 * statistics.median(samples),
        "p99_ms": 1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))],
        "max_ms": 1000 * samples[-1],
        "bytes": float(len(response.content)),
        "items": float(
            response.text.count('class="alert sev-') if "api" not in url else len(response.json()["alerts"])
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400, help="timed requests per URL")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "serve.sqlite3"
        alerts, versions, fill_s = fill(path, args.alerts)
        print(f"read model: {alerts} alerts, {versions} versions, filled in {fill_s:.1f} s", flush=True)
        port = _free_port()
        child = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(path), port), daemon=True
        )
        child.start()
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=10) as client:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        client.get("/healthz").raise_for_status()
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
                results = {
                    "page_unfiltered": _time(client, "/", args.requests),
                    "page_filtered": _time(client, f"/?{FILTER}", args.requests),
                    "api_unfiltered": _time(client, "/api/v1/alerts", args.requests),
                    "api_filtered": _time(client, f"/api/v1/alerts?{FILTER}", args.requests),
                }
        finally:
            child.terminate()
            child.join(10)
    for name, r in results.items():
        print(f"{name:16} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms"
              f"  {int(r['items'])} alerts, {int(r['bytes'])} bytes")  # fmt: skip
    ratios = {
        "page_p99_ratio": results["page_filtered"]["p99_ms"] / results["page_unfiltered"]["p99_ms"],
        "api_p99_ratio": results["api_filtered"]["p99_ms"] / results["api_unfiltered"]["p99_ms"],
    }
    print(f"filtered/unfiltered p99: page {ratios['page_p99_ratio']:.2f}, api {ratios['api_p99_ratio']:.2f}")
    ok = results["page_filtered"]["p99_ms"] < 100 and results["api_filtered"]["p99_ms"] < 100
    print("target p99 < 100 ms for the filtered list:", "met" if ok else "NOT met")
    if args.json:
        summary = {"alerts": alerts, "versions": versions, **results, **ratios}
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
