"""The worker stage of ``newswatch demo``: run ``newswatch worker`` and print alerts as they arrive.

    await run_worker_stage(run)   # run: newswatch.demo.DemoRun, after the poller stage

Starts the worker as a subprocess (its logs go to ``<state_dir>/demo/worker.log``), follows
``news.classified.v1`` and ``news.alerts.v1`` from the beginning, prints one readable line per alert version,
and stops when every article on the articles topic is classified (or dead-lettered) and no alert arrived for
a few seconds, or after ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from newswatch.broker import aiokafka_config, read_all
from newswatch.settings import Settings

__all__ = ["alert_line", "run_worker_stage"]

_QUIET_SECONDS = 4.0


def alert_line(alert: dict[str, Any]) -> str:
    """One human line per alert version.

    alert_line(alert)  # 'URGENT  military_withdrawal  FR,ML  France ... (2 sources: AFP, RFI) [update v2]'
    """
    countries = ",".join(alert.get("countries") or ()) or "--"
    outlets = ", ".join(alert.get("outlets") or ())
    sources = alert.get("source_count", 1)
    return (
        f"{str(alert.get('severity', '')).upper():7} {alert.get('event_type', ''):20} {countries:10} "
        f"{alert.get('headline') or ''} ({sources} source{'s' if sources != 1 else ''}: {outlets}) "
        f"[{alert.get('status')} v{alert.get('version')}]"
    )


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HF_HUB_OFFLINE": env.get("HF_HUB_OFFLINE", "1"),
            "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "NEWSWATCH_STATE_DIR": str(settings.state_dir),
            "NEWSWATCH_WORKER__METRICS_PORT": env.get("NEWSWATCH_WORKER__METRICS_PORT", "0"),
        }
    )
    return env


async def _follow(
    settings: Settings,
    topics: list[str],
    on_record: Callable[[str, dict[str, Any]], None],
    done: Callable[[], bool],
) -> None:
    consumer = AIOKafkaConsumer(**aiokafka_config(settings.kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata of every topic
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while not done():
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    try:
                        on_record(tp.topic, json.loads(record.value or b"null"))
                    except (ValueError, TypeError):
                        continue
    finally:
        await consumer.stop()


async def run_worker_stage(run: Any, timeout: float = 180.0) -> None:
    """Run the worker until the demo's articles are classified; print alerts as they arrive."""
    settings: Settings = run.settings
    kafka = settings.kafka
    articles = await asyncio.to_thread(read_all, kafka, kafka.topic_articles)
    wanted = {str(a.get("id")) for a in articles if a.get("id")}
    log_path = settings.state_dir / "demo" / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run.say(f"Worker: classifying {len(wanted)} articles (worker log: {log_path})")
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "newswatch.cli", "worker"],
            env=_worker_env(settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    classified: set[str] = set()
    latest: dict[str, dict[str, Any]] = {}
    last_alert = time.monotonic()
    deadline = time.monotonic() + timeout

    def on_record(topic: str, record: dict[str, Any]) -> None:
        nonlocal last_alert
        if topic == kafka.topic_classified:
            classified.add(str(record.get("article_id")))
        elif topic == kafka.topic_alerts and isinstance(record, dict) and record.get("alert_id"):
            key = str(record["alert_id"])
            if latest.get(key, {}).get("version", 0) < record.get("version", 0):
                latest[key] = record
                last_alert = time.monotonic()
                run.say("  " + alert_line(record))
        elif topic == kafka.topic_deadletter and isinstance(record, dict):
            key = base64.b64decode(record.get("original_key_b64") or "").decode(errors="replace")
            classified.add(key)

    def done() -> bool:
        if process.poll() is not None or time.monotonic() > deadline:
            return True
        return wanted <= classified and time.monotonic() - last_alert > _QUIET_SECONDS

    try:
        topics = [kafka.topic_classified, kafka.topic_alerts, kafka.topic_deadletter]
        await _follow(settings, topics, on_record, done)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 60)
            except subprocess.TimeoutExpired:
                process.kill()
    if process.returncode not in (0, -signal.SIGTERM, None) and not wanted <= classified:
        raise RuntimeError(f"worker exited {process.returncode}; see {log_path}")
    new = sum(1 for a in latest.values() if a.get("status") == "new" or a.get("version") == 1)
    run.say(
        f"Worker: {len(wanted & classified)}/{len(wanted)} articles classified, "
        f"{len(latest)} alerts ({new} still at version 1)"
    )
    if not wanted <= classified:
        raise TimeoutError(f"worker did not classify every article within {timeout:g} s")
