"""The read model: every version of every alert on ``news.alerts.v1``, with the topic offsets it reflects.

One SQLite file, one writer (the read-model consumer) and any number of readers (HTTP requests; WAL lets
them read while it writes). Each batch of records and the offsets after it are written in one
transaction, so after a crash or restart the store resumes exactly where its data ends.

    store = AlertStore(Path(".state/serve.sqlite3"))
    store.apply("news.alerts.v1", [Upsert(alert, raw, partition=0, offset=41)], {0: 42})
    page = store.list_alerts(AlertFilter(country="ML"), limit=50)
    store.versions(page[0].alert.alert_id)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newswatch.contracts import Alert
from newswatch.serve.query import AlertFilter, Cursor

__all__ = ["AlertStore", "Delete", "StoredAlert", "StoredVersion", "Upsert"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    alert_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    last_updated REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (alert_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_updated REAL NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_recent ON alerts (last_updated DESC, alert_id DESC);
CREATE INDEX IF NOT EXISTS alerts_type ON alerts (event_type, last_updated DESC, alert_id DESC);
CREATE INDEX IF NOT EXISTS alerts_severity ON alerts (severity, last_updated DESC, alert_id DESC);
CREATE TABLE IF NOT EXISTS alert_countries (
    country TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    last_updated REAL NOT NULL,
    PRIMARY KEY (country, last_updated, alert_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_countries_id ON alert_countries (alert_id);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Upsert:
    """One valid Alert v1 record: ``raw`` is its value as on the topic."""

    alert: Alert
    raw: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Delete:
    """A tombstone (null value) for ``alert_id``: the alert and its history leave the read model."""

    alert_id: str


@dataclass(frozen=True)
class StoredAlert:
    """The latest version of one alert, how many versions the store holds, and the record as on the topic."""

    alert: Alert
    raw: str
    versions: int


@dataclass(frozen=True)
class StoredVersion:
    alert: Alert
    raw: str
    partition: int
    offset: int


def _ts(value: datetime) -> float:
    return value.timestamp()


class AlertStore:
    """SQLite read model; thread-safe (one lock per connection)."""

    def __init__(self, path: Path | str) -> None:
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._write = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._write.execute("PRAGMA journal_mode=WAL")
        self._write.execute("PRAGMA synchronous=NORMAL")
        self._write.executescript(_SCHEMA)
        self._read = (
            self._write
            if memory
            else sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        )
        self._write_lock = threading.Lock()
        self._read_lock = self._write_lock if memory else threading.Lock()

    # ------------------------------------------------------------------------------------------ writing
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._write
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def apply(self, topic: str, ops: Sequence[Upsert | Delete], positions: Mapping[int, int]) -> None:
        """Apply ``ops`` in order and record ``positions`` (next offset per partition), atomically.

        A version already stored is left as it is (a re-read after restart changes nothing); the alert's
        latest row follows the highest version seen.
        """
        with self._transaction() as conn:
            for op in ops:
                if isinstance(op, Delete):
                    self._delete(conn, [op.alert_id])
                else:
                    self._upsert(conn, op)
            conn.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(topic, p, o) for p, o in positions.items()],
            )

    @staticmethod
    def _upsert(conn: sqlite3.Connection, op: Upsert) -> None:
        a = op.alert
        conn.execute(
            "INSERT OR IGNORE INTO versions VALUES (?, ?, ?, ?, ?, ?)",
            (a.alert_id, a.version, op.partition, op.offset, _ts(a.last_updated), op.raw),
        )
        row = conn.execute("SELECT version FROM alerts WHERE alert_id = ?", (a.alert_id,)).fetchone()
        if row is not None and row[0] > a.version:
            return
        conn.execute(
            "INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.alert_id,
                a.version,
                a.event_type,
                a.severity,
                _ts(a.first_seen),
                _ts(a.last_updated),
                op.partition,
                op.offset,
                op.raw,
            ),
        )
        conn.execute("DELETE FROM alert_countries WHERE alert_id = ?", (a.alert_id,))
        conn.executemany(
            "INSERT OR IGNORE INTO alert_countries VALUES (?, ?, ?)",
            [(c, a.alert_id, _ts(a.last_updated)) for c in dict.fromkeys(a.countries)],
        )

    @staticmethod
    def _delete(conn: sqlite3.Connection, alert_ids: Iterable[str]) -> int:
        ids = [(i,) for i in alert_ids]
        conn.executemany("DELETE FROM versions WHERE alert_id = ?", ids)
        conn.executemany("DELETE FROM alert_countries WHERE alert_id = ?", ids)
        before = conn.total_changes
        conn.executemany("DELETE FROM alerts WHERE alert_id = ?", ids)
        return conn.total_changes - before

    def prune(self, *, older_than: datetime, beginnings: Mapping[int, int]) -> int:
        """Drop what the topic no longer holds; returns the number of alerts removed.

        - versions last updated before ``older_than`` (an alert whose latest version is that old goes whole);
        - alerts whose latest record lies before its partition's first offset (``beginnings``): retention
          deleted it from the topic, so a fresh read model would not have it either.
        """
        cutoff = _ts(older_than)
        with self._transaction() as conn:
            stale = [
                r[0] for r in conn.execute("SELECT alert_id FROM alerts WHERE last_updated < ?", (cutoff,))
            ]
            for partition, first in beginnings.items():
                stale += [
                    r[0]
                    for r in conn.execute(
                        "SELECT alert_id FROM alerts WHERE partition = ? AND offset < ?", (partition, first)
                    )
                ]
            removed = self._delete(conn, dict.fromkeys(stale))
            conn.execute("DELETE FROM versions WHERE last_updated < ?", (cutoff,))
        return removed

    def reset_partition(self, topic: str, partition: int) -> None:
        """Forget one partition (the topic was recreated: its offsets start again at 0)."""
        with self._transaction() as conn:
            ids = [
                r[0] for r in conn.execute("SELECT alert_id FROM alerts WHERE partition = ?", (partition,))
            ]
            self._delete(conn, ids)
            conn.execute("DELETE FROM versions WHERE partition = ?", (partition,))
            conn.execute("DELETE FROM offsets WHERE topic = ? AND partition = ?", (topic, partition))

    # ------------------------------------------------------------------------------------------ reading
    def positions(self, topic: str) -> dict[int, int]:
        """Next offset to read per partition, as last committed with the data."""
        with self._read_lock:
            rows = self._read.execute(
                "SELECT partition, next_offset FROM offsets WHERE topic = ?", (topic,)
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def list_alerts(
        self, flt: AlertFilter, *, cursor: Cursor | None = None, limit: int = 50
    ) -> list[StoredAlert]:
        """Latest versions matching ``flt``, newest ``last_updated`` first, after ``cursor``."""
        where: list[str] = []
        args: list[object] = []
        # with a country, walk that country's index newest first (CROSS JOIN keeps SQLite on it); its
        # last_updated column mirrors the alert's, so time bounds, cursor and order apply there
        t = "c" if flt.country else "a"
        source = "alerts a"
        if flt.country:
            source = "alert_countries c CROSS JOIN alerts a ON a.alert_id = c.alert_id"
            where.append("c.country = ?")
            args.append(flt.country)
        if flt.event_type:
            where.append("a.event_type = ?")
            args.append(flt.event_type)
        if flt.severity:
            where.append("a.severity = ?")
            args.append(flt.severity)
        if flt.since:
            where.append(f"{t}.last_updated >= ?")
            args.append(_ts(flt.since))
        if flt.until:
            where.append(f"{t}.last_updated < ?")
            args.append(_ts(flt.until))
        if cursor is not None:
            where.append(f"({t}.last_updated < ? OR ({t}.last_updated = ? AND {t}.alert_id < ?))")
            stamp = _ts(cursor.last_updated)
            args += [stamp, stamp, cursor.alert_id]
        sql = (
            f"SELECT a.record, (SELECT count(*) FROM versions v WHERE v.alert_id = a.alert_id) FROM {source}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {t}.last_updated DESC, {t}.alert_id DESC LIMIT ?"
        )
        args.append(limit)
        with self._read_lock:
            rows = self._read.execute(sql, args).fetchall()
        return [StoredAlert(Alert.model_validate_json(raw), raw, int(n)) for raw, n in rows]

    def get(self, alert_id: str) -> StoredAlert | None:
        with self._read_lock:
            row = self._read.execute(
                "SELECT record, (SELECT count(*) FROM versions v WHERE v.alert_id = a.alert_id) "
                "FROM alerts a WHERE alert_id = ?",
                (alert_id,),
            ).fetchone()
        return None if row is None else StoredAlert(Alert.model_validate_json(row[0]), row[0], int(row[1]))

    def versions(self, alert_id: str) -> list[StoredVersion]:
        """Every stored version of ``alert_id``, oldest first."""
        with self._read_lock:
            rows = self._read.execute(
                "SELECT record, partition, offset FROM versions WHERE alert_id = ? ORDER BY version",
                (alert_id,),
            ).fetchall()
        return [StoredVersion(Alert.model_validate_json(r), r, int(p), int(o)) for r, p, o in rows]

    def counts(self) -> tuple[int, int]:
        """(alerts, versions) held."""
        with self._read_lock:
            alerts = self._read.execute("SELECT count(*) FROM alerts").fetchone()[0]
            versions = self._read.execute("SELECT count(*) FROM versions").fetchone()[0]
        return int(alerts), int(versions)

    def newest_update(self) -> datetime | None:
        with self._read_lock:
            row = self._read.execute("SELECT max(last_updated) FROM alerts").fetchone()
        return None if row[0] is None else datetime.fromtimestamp(row[0], UTC)

    def close(self) -> None:
        if self._read is not self._write:
            self._read.close()
        self._write.close()
