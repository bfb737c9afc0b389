"""The worker stage of ``newswatch demo``: run ``newswatch worker`` and print alerts as they arrive.

    await run_worker_stage(run)   # run: newswatch.demo.DemoRun, after the poller stage

1. Reads what the output topics hold already (classifications, alerts, the worker's dead letters) and prints
   the latest version of every alert produced by earlier runs.
2. If every article on the articles topic is already classified (or dead-lettered), says so and stops: a
   second demo run costs no model time.
3. Otherwise starts the worker as a subprocess (its log goes to ``<state_dir>/demo/worker.log``), prints one
   line per alert version as it arrives, and stops the worker (SIGTERM) once every article is done and no
   output arrived for a few seconds, or after ``timeout`` seconds (then it says how far it got; the worker's
   committed offsets let the next run continue).

Alerts are printed as ``newswatch alerts tail`` prints them (:func:`newswatch.notify.console.format_alert`:
one line, every field from the web escaped).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from newswatch.broker import TopicReader, TopicReadTimeoutError, TopicRecord, read_all
from newswatch.contracts import Alert
from newswatch.notify.console import format_alert
from newswatch.settings import Settings
from newswatch.worker.errors import WorkerStartupError

__all__ = ["OutputTally", "run_worker_stage"]

log = logging.getLogger(__name__)

_QUIET_SECONDS = 4.0
_STOP_SECONDS = 60.0


class _Run(Protocol):
    """What the stage needs from ``newswatch.demo.DemoRun``."""

    settings: Settings

    def say(self, line: str = "") -> None: ...


@dataclass
class OutputTally:
    """What the worker has produced for the articles on ``articles_topic`` (pure; fed record by record).

    tally = OutputTally("news.articles.v1", wanted={"a1"})
    tally.add("news.classified.v1", "news.classified.v1", {"article_id": "a1"})
    tally.pending()  # set()
    """

    articles_topic: str
    wanted: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    alerts: dict[str, Alert] = field(default_factory=dict)

    def pending(self) -> set[str]:
        """Articles that have neither a classification nor a worker dead letter yet."""
        return self.wanted - self.done

    def add(self, topic: str, kind: str, record: dict[str, Any]) -> Alert | None:
        """Count one output record (``kind``: the topic's role); returns an alert if it is a newer version.

        An alert record that is not a valid Alert v1 is ignored (the worker never writes one).
        """
        if kind == "classified":
            self.done.add(str(record.get("article_id")))
        elif kind == "deadletter":
            if record.get("service") == "worker" and record.get("topic") == self.articles_topic:
                key = _b64_text(record.get("original_key_b64"))
                if key is not None:
                    self.done.add(key)
        elif kind == "alerts":
            try:
                alert = Alert.model_validate(record)
            except ValidationError:
                return None
            known = self.alerts.get(alert.alert_id)
            if known is None or known.version < alert.version:
                self.alerts[alert.alert_id] = alert
                return alert
        return None


def _b64_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


class _Follower:
    """The output topics from the beginning: what they held at the start (``catch_up``), then what arrives
    (``poll``); used from one thread at a time through ``asyncio.to_thread``."""

    def __init__(self, settings: Settings, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.reader = TopicReader(settings.kafka, kinds)

    def poll(self, timeout_ms: int = 500) -> list[tuple[str, str, dict[str, Any]]]:
        """The next records as (topic, kind, JSON object); other values are skipped."""
        return self._objects(self.reader.poll(timeout_ms))

    def catch_up(self, timeout_s: float = 30.0) -> list[tuple[str, str, dict[str, Any]]]:
        """Every record up to the end offsets seen when the follower started (what came in ``timeout_s``;
        the rest arrives through ``poll``)."""
        try:
            records = self.reader.read_to_end(timeout_s)
        except TopicReadTimeoutError as exc:
            log.warning("demo_catch_up_incomplete", extra={"error": str(exc)})
            records = exc.records
        return self._objects(records)

    def close(self) -> None:
        self.reader.close()

    def _objects(self, records: list[TopicRecord]) -> list[tuple[str, str, dict[str, Any]]]:
        out: list[tuple[str, str, dict[str, Any]]] = []
        for record in records:
            value = _json_object(record.value)
            if value is not None:
                out.append((record.topic, self.kinds[record.topic], value))
        return out


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    try:
        decoded = json.loads(value) if value is not None else None
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


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


@asynccontextmanager
async def _worker_process(settings: Settings, log_path: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``newswatch worker`` as a subprocess; stopped with SIGTERM (then SIGKILL) on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "newswatch.cli", "worker"],
            env=_worker_env(settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, _STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("demo_worker_killed", extra={"pid": process.pid})
                process.kill()
                await asyncio.to_thread(process.wait)


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def run_worker_stage(run: _Run, timeout: float = 150.0) -> None:
    """Classify what the poller published (unless done before); print alerts as they arrive.

    Raises :class:`WorkerStartupError` when the worker exits on its own (e.g. no classifier).

        await run_worker_stage(run, timeout=120)
    """
    settings = run.settings
    kafka = settings.kafka
    articles = await asyncio.to_thread(read_all, kafka, kafka.topic_articles)
    tally = OutputTally(kafka.topic_articles, wanted={str(a["id"]) for a in articles if a.get("id")})
    kinds = {
        kafka.topic_classified: "classified",
        kafka.topic_alerts: "alerts",
        kafka.topic_deadletter: "deadletter",
    }
    follower = await asyncio.to_thread(_Follower, settings, kinds)
    try:
        for topic, kind, record in await asyncio.to_thread(follower.catch_up):
            tally.add(topic, kind, record)
        if tally.alerts:
            run.say(f"Alerts from earlier runs ({len(tally.alerts)}, latest versions):")
            for alert in sorted(tally.alerts.values(), key=lambda a: a.first_seen):
                run.say("  " + format_alert(alert))
        pending = tally.pending()
        if not pending:
            run.say(f"Worker: nothing new to classify ({len(tally.wanted)} articles already classified)")
            return
        log_path = settings.state_dir / "demo" / "worker.log"
        run.say(f"Worker: classifying {len(pending)} new articles (worker log: {log_path})")
        async with _worker_process(settings, log_path) as process:
            finished = await _follow(run, follower, tally, process, timeout)
            if process.poll() is not None and tally.pending():
                detail = f"see {log_path}:\n{_log_tail(log_path)}"
                raise WorkerStartupError(f"the worker exited with code {process.returncode}; {detail}")
    finally:
        await asyncio.to_thread(follower.close)
    new = len(pending - tally.pending())
    if finished:
        run.say(f"Worker: {new} articles classified, {len(tally.alerts)} alerts in all")
    else:
        run.say(
            f"Worker: stopped after {timeout:g} s with {new}/{len(pending)} new articles classified;"
            " run the demo again to continue"
        )


async def _follow(
    run: _Run, follower: _Follower, tally: OutputTally, process: subprocess.Popen[bytes], timeout: float
) -> bool:
    """Print alert versions as they arrive; True once every article is done and the output went quiet."""
    deadline = time.monotonic() + timeout
    last_output = time.monotonic()
    while time.monotonic() < deadline:
        records = await asyncio.to_thread(follower.poll)
        if records:
            last_output = time.monotonic()
        for topic, kind, record in records:
            alert = tally.add(topic, kind, record)
            if alert is not None:
                run.say("  " + format_alert(alert))
        if not tally.pending() and time.monotonic() - last_output > _QUIET_SECONDS:
            return True
        if process.poll() is not None:
            return not tally.pending()
    return False
