"""The delivery log: which (alert_id, version) each subscription has already settled, across restarts.

A delivery is settled when it was sent or dead-lettered; either way it is never attempted again, so a
restart that re-reads the alerts topic from the last committed offset delivers nothing twice.

    store = DeliveryStore(Path(".state/notify.sqlite3"))
    if not store.seen("ops-team", alert.alert_id, alert.version):
        ...deliver...
        store.record("ops-team", alert.alert_id, alert.version, "sent")
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Literal

__all__ = ["DeliveryStore", "SettledOutcome"]

SettledOutcome = Literal["sent", "dead_lettered"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    subscription TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    settled_at REAL NOT NULL,
    PRIMARY KEY (subscription, alert_id, version)
) WITHOUT ROWID
"""


class DeliveryStore:
    """A small SQLite table keyed by (subscription, alert_id, version); one writer (the notify process)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def seen(self, subscription: str, alert_id: str, version: int) -> bool:
        """True when this alert version was already settled for ``subscription``."""
        row = self._conn.execute(
            "SELECT 1 FROM deliveries WHERE subscription=? AND alert_id=? AND version=?",
            (subscription, alert_id, version),
        ).fetchone()
        return row is not None

    def record(self, subscription: str, alert_id: str, version: int, outcome: SettledOutcome) -> None:
        """Mark this alert version settled for ``subscription`` (idempotent; the first outcome wins)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?)",
            (subscription, alert_id, version, outcome, time.time()),
        )

    def outcome(self, subscription: str, alert_id: str, version: int) -> SettledOutcome | None:
        """The settled outcome, or None when this version was never settled."""
        row = self._conn.execute(
            "SELECT outcome FROM deliveries WHERE subscription=? AND alert_id=? AND version=?",
            (subscription, alert_id, version),
        ).fetchone()
        return None if row is None else row[0]

    def prune(self, older_than_seconds: float) -> int:
        """Delete entries settled more than ``older_than_seconds`` ago (beyond the topic's retention)."""
        cur = self._conn.execute(
            "DELETE FROM deliveries WHERE settled_at < ?", (time.time() - older_than_seconds,)
        )
        return cur.rowcount

    def close(self) -> None:
        self._conn.close()
