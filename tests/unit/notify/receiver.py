"""Test helpers shared by the notify unit and integration tests: a local webhook receiver and alerts.

with WebhookReceiver() as rx:
    rx.script("/hook", [500, 200])          # first answer 500, then 200
    ...deliver to rx.url("/hook")...
    rx.requests("/hook")[0].body, rx.requests("/hook")[0].verified("s3cret")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from newswatch.contracts import Alert
from newswatch.notify import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def verified(self, secret: str, tolerance: float = 300, *, now: float | None = None) -> bool:
        """The receiver recipe of docs/operations.md: timestamp, delivery id and raw body, signed."""
        return verify_signature(
            secret,
            self.headers[TIMESTAMP_HEADER],
            self.body,
            self.headers[SIGNATURE_HEADER],
            tolerance,
            delivery_id=self.headers[DELIVERY_HEADER],
            now=now,
        )


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 (random port) that records every POST it answers."""

    def __init__(self) -> None:
        state = _State()
        self._state = state

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                gate = state.gates.get(self.path)
                if gate is not None:
                    gate.wait(timeout=60)
                with state.lock:
                    script = state.scripts.get(self.path)
                    status = script.pop(0) if script else 200
                with state.arrived:  # recorded before answering, so the sender never sees it missing
                    state.received.append(Received(self.path, dict(self.headers.items()), body, status))
                    state.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for gate in self._state.gates.values():
            gate.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def script(self, path: str, statuses: list[int]) -> None:
        """Answer the next requests on ``path`` with these statuses, then 200."""
        with self._state.lock:
            self._state.scripts[path] = list(statuses)

    def hold(self, path: str) -> threading.Event:
        """Hold every request on ``path`` until the returned event is set (a slow webhook)."""
        gate = threading.Event()
        self._state.gates[path] = gate
        return gate

    def requests(self, path: str | None = None) -> list[Received]:
        with self._state.arrived:
            return [r for r in self._state.received if path is None or r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until ``count`` requests on ``path`` were answered (or fail after ``timeout``)."""
        with self._state.arrived:
            ok = self._state.arrived.wait_for(
                lambda: len([r for r in self._state.received if r.path == path]) >= count, timeout
            )
        got = self.requests(path)
        assert ok, f"expected {count} requests on {path}, got {len(got)}"
        return got


def make_alert(**overrides: Any) -> Alert:
    """A valid Alert v1; override any field."""
    now = datetime(2022, 8, 15, 13, 4, 11, tzinfo=UTC)
    data: dict[str, Any] = {
        "alert_id": "mw-ml-1",
        "version": 1,
        "status": "new",
        "event_type": "military_withdrawal",
        "probability": 0.95,
        "severity": "flash",
        "headline": "France completes military withdrawal from Mali",
        "evidence": [
            {
                "sentence": "The last Barkhane soldiers crossed into Niger on Monday.",
                "article_id": "a1",
                "url": "https://www.dw.com/en/a-1",
                "outlet": "DW",
            }
        ],
        "countries": ["FR", "ML"],
        "links": ["https://www.dw.com/en/a-1"],
        "outlets": ["DW"],
        "article_ids": ["a1"],
        "source_count": 1,
        "first_seen": now,
        "last_updated": now,
        "model_version": "test-1",
    }
    data.update(overrides)
    return Alert.model_validate(data)
