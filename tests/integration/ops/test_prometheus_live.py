"""The real Prometheus scrapes a real run (poller on the bundled demo feeds, worker, notify) on loopback;
then every recording rule and every Grafana panel query is run through its HTTP API and must return data.

Prometheus starts first and the poller last, so every counter and histogram is seen rising (a rate over
samples that never change is 0 and a quantile of nothing is NaN, which would not count as data).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from newswatch.demo import demo_feeds_dir, serve_directory

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
JOBS = {"poll": "newswatch-poller", "worker": "newswatch-worker", "notify": "newswatch-notify"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(urllib.request.urlopen(url, timeout=10).read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _has_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(r["value"][1])) for r in result)


def _wait(
    predicate: Any,
    what: str,
    timeout: float,
    proc_logs: dict[str, Path],
    procs: dict[str, subprocess.Popen[bytes]],
) -> None:
    deadline = time.monotonic() + timeout
    problem = f"timed out waiting for {what}"
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        exited = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
        if exited:
            problem = f"while waiting for {what}, processes exited: {exited}"
            break
        time.sleep(1.0)
    tails = {n: p.read_text(errors="replace")[-2000:] for n, p in proc_logs.items() if p.exists()}
    raise AssertionError(f"{problem}; logs: {json.dumps(tails, indent=1)}")


def _panel_queries() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{dashboard['uid']}: {panel['title']}", target["expr"]))
    return out


def _recording_rules() -> list[str]:
    doc = yaml.safe_load((PROM / "rules" / "recording.yml").read_text())
    return [rule["record"] for group in doc["groups"] for rule in group["rules"]]


def _prometheus_config(tmp: Path, ports: dict[str, int]) -> Path:
    """deploy/prometheus/prometheus.yml with loopback targets, 1 s scrapes and rule evaluation."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
    rule_files = []
    for rel in config["rule_files"]:
        rules = yaml.safe_load((PROM / rel).read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
        target = tmp / Path(rel).name
        target.write_text(yaml.safe_dump(rules))
        rule_files.append(str(target))
    config["rule_files"] = rule_files
    by_job = {job: ports[cmd] for cmd, job in JOBS.items()}
    for job in config["scrape_configs"]:
        port = by_job.get(job["job_name"], ports["prometheus"])
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_recording_rule_and_panel_query_returns_data(
    kafka_bootstrap: str, unique_topics: Any, tmp_path: Path
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus not found: apt-get install prometheus (see .ci/run)")
    ports = {name: _free_port() for name in ("prometheus", "poll", "worker", "notify")}
    base = f"http://127.0.0.1:{ports['prometheus']}"
    suffix = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "NEWSWATCH_LOG_FORMAT": "json",
            "NEWSWATCH_STATE_DIR": str(tmp_path / "state"),
            "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "NEWSWATCH_KAFKA__TOPIC_ARTICLES": unique_topics.articles,
            "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": unique_topics.classified,
            "NEWSWATCH_KAFKA__TOPIC_ALERTS": unique_topics.alerts,
            "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": unique_topics.deadletter,
            "NEWSWATCH_POLLER__METRICS_PORT": str(ports["poll"]),
            "NEWSWATCH_POLLER__METRICS_HOST": "127.0.0.1",
            "NEWSWATCH_POLLER__ALLOW_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
            "NEWSWATCH_POLLER__MIN_INTERVAL_SECONDS": "1",
            "NEWSWATCH_POLLER__DEFAULT_INTERVAL_SECONDS": "2",
            "NEWSWATCH_WORKER__METRICS_PORT": str(ports["worker"]),
            "NEWSWATCH_WORKER__METRICS_HOST": "127.0.0.1",
            "NEWSWATCH_WORKER__APP_ID": f"ops-test-worker-{suffix}",
            "NEWSWATCH_WORKER__LAG_INTERVAL_SECONDS": "1",
            "NEWSWATCH_NOTIFY__METRICS_PORT": str(ports["notify"]),
            "NEWSWATCH_NOTIFY__METRICS_HOST": "127.0.0.1",
            "NEWSWATCH_NOTIFY__GROUP_ID": f"ops-test-notify-{suffix}",
        }
    )
    subs = tmp_path / "subs.yaml"
    subs.write_text("subscriptions:\n  - name: console\n    destination: {type: console}\n")
    logs = {name: tmp_path / f"{name}.log" for name in ("prometheus", "poll", "worker", "notify")}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, argv: list[str]) -> None:
        procs[name] = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=logs[name].open("wb"), cwd=tmp_path
        )

    def up(job: str) -> bool:
        return any(r["value"][1] == "1" for r in _query(base, f'up{{job="{job}"}}'))

    with ExitStack() as stack:
        stack.callback(_stop_all, procs)
        feeds_base = stack.enter_context(serve_directory(demo_feeds_dir()))
        feeds = yaml.safe_load((demo_feeds_dir() / "feeds.yaml").read_text())
        feeds["defaults"] = {"interval": "2s"}
        for feed in feeds["feeds"]:
            feed["url"] = feed["url"].replace("{base}", feeds_base)
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(yaml.safe_dump(feeds))

        config = _prometheus_config(tmp_path, ports)
        start(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            ],
        )
        _wait(
            lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200,
            "prometheus",
            60,
            logs,
            procs,
        )
        cli = [sys.executable, "-m", "newswatch.cli"]
        start("worker", [*cli, "worker"])
        start("notify", [*cli, "notify", "--subscriptions", str(subs)])
        _wait(
            lambda: up(JOBS["worker"]) and up(JOBS["notify"]), "worker and notify scraped", 300, logs, procs
        )
        start("poll", [*cli, "poll", "--feeds", str(feeds_file)])
        _wait(lambda: up(JOBS["poll"]), "poller scraped", 120, logs, procs)
        _wait(
            lambda: (
                _has_number(_query(base, "sum(newswatch_notify_last_alert_timestamp_seconds)"))
                and _has_number(_query(base, "newswatch:worker_articles_classified:rate5m > 0"))
            ),
            "alerts through the pipeline",
            600,
            logs,
            procs,
        )
        time.sleep(5)  # a few more scrapes and rule evaluations

        empty = []
        for record in _recording_rules():
            if not _has_number(_query(base, record)):
                empty.append(f"recording rule {record}")
        for where, expr in _panel_queries():
            if not _has_number(_query(base, expr)):
                empty.append(f"panel {where}: {expr}")
        assert not empty, "no data for:\n" + "\n".join(empty)
        assert len(_recording_rules()) >= 20 and len(_panel_queries()) >= 20


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in reversed(list(procs.values())):
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
