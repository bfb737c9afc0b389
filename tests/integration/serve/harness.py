"""``newswatch serve`` as a real process against the real broker, and a producer for its alerts topic."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

from newswatch.contracts import Alert

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
    from kafka import KafkaProducer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    """Send (key, value) records in order and wait for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key.encode(), value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def record(alert: Alert) -> tuple[str, bytes]:
    return alert.alert_id, alert.model_dump_json().encode()


class ServeProcess:
    """One ``newswatch serve`` subprocess; ``get`` reads its HTTP answers."""

    def __init__(self, bootstrap: str, topic: str, state: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "NEWSWATCH_LOG_FORMAT": "json",
                "NEWSWATCH_STATE_DIR": str(state),
                "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
                "NEWSWATCH_KAFKA__TOPIC_ALERTS": topic,
                "NEWSWATCH_SERVE__PORT": str(self.port),
                "NEWSWATCH_SERVE__LAG_REFRESH_SECONDS": "0.5",
                "NEWSWATCH_SERVE__POLL_TIMEOUT_MS": "200",
                # the test alerts are dated 2022 (tests/unit/serve/support.py): keep them however old
                "NEWSWATCH_SERVE__MAX_AGE_DAYS": "36500",
            }
        )
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newswatch.cli", "serve"], env=env, stdout=self._log, stderr=self._log
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"newswatch serve exited with {self.proc.returncode}"
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("newswatch serve did not become ready")

    def wait_for(self, path: str, predicate: Any, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            body = self.json(path)
            if predicate(body):
                return body
            time.sleep(0.2)
        raise AssertionError(f"{path} never matched: {body}")

    def metric(self, name: str) -> float:
        text = self.get("/metrics")[1].decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return int(self.proc.returncode)
