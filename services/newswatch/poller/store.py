"""The poller's local state in one SQLite file: ids acknowledged by Kafka, per-feed schedule and validators.

Why SQLite and not reading back the articles topic: a restart needs no scan of the topic (which grows without
bound and is shared with other producers), lookups are O(log n) on the primary key, and the file is small
(about 100 bytes per id). Measured in ``bench/poller_bench.py``; see ``docs/poller.md``.

An id is written here only after the broker acknowledged its record, so a crash between the two re-publishes
at most the last batch (at-least-once; the topic is keyed by id, so consumers can drop repeats).

    with Store.open(Path(".state/poller.sqlite3")) as store:
        fresh = store.unseen(["a1", "b2"])
        store.mark_seen([("a1", "un-news-en")])
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from newswatch.poller.errors import StoreError
from newswatch.poller.fetch import Validators

__all__ = ["FeedState", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    id TEXT PRIMARY KEY,
    feed TEXT NOT NULL,
    acked_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    next_check_at REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_success_at REAL
);
"""
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FeedState:
    """What survives a restart about one feed (times are Unix seconds)."""

    validators: Validators = field(default_factory=Validators)
    next_check_at: float = 0.0
    failures: int = 0
    last_success_at: float | None = None


class Store:
    """SQLite-backed dedup and feed state. Use from one thread (the event loop's); calls take microseconds."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) the store at ``path``; ``":memory:"`` for a throw-away store."""
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open poller store {path}: {exc}") from exc
        return cls(db)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"poller store {what} failed: {exc}") from exc

    def unseen(self, ids: Sequence[str]) -> list[str]:
        """The ids in ``ids`` never acknowledged before, in input order, without repeats."""
        ordered = list(dict.fromkeys(ids))
        known: set[str] = set()
        with self._translate("lookup"):
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id FROM seen WHERE id IN ({marks})", chunk)
                known.update(row[0] for row in rows)
        return [item for item in ordered if item not in known]

    def mark_seen(self, items: Sequence[tuple[str, str]], now: float | None = None) -> None:
        """Record ``(article_id, feed_name)`` pairs as acknowledged by Kafka (one transaction)."""
        stamp = time.time() if now is None else now
        with self._translate("write"):
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO seen (id, feed, acked_at) VALUES (?, ?, ?)",
                    [(item, feed, stamp) for item, feed in items],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def seen_count(self) -> int:
        with self._translate("count"):
            row = self._db.execute("SELECT count(*) FROM seen").fetchone()
        return int(row[0])

    def feed_state(self, url: str) -> FeedState:
        """The saved state of the feed at ``url``, or a fresh :class:`FeedState`."""
        with self._translate("read"):
            row = self._db.execute(
                "SELECT etag, last_modified, next_check_at, failures, last_success_at FROM feed_state"
                " WHERE url = ?",
                (url,),
            ).fetchone()
        if row is None:
            return FeedState()
        return FeedState(Validators(row[0], row[1]), float(row[2]), int(row[3]), row[4])

    def save_feed_state(self, url: str, state: FeedState) -> None:
        with self._translate("write"):
            self._db.execute(
                "INSERT INTO feed_state (url, etag, last_modified, next_check_at, failures, last_success_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,"
                " last_modified = excluded.last_modified, next_check_at = excluded.next_check_at,"
                " failures = excluded.failures, last_success_at = excluded.last_success_at",
                (
                    url,
                    state.validators.etag,
                    state.validators.last_modified,
                    state.next_check_at,
                    state.failures,
                    state.last_success_at,
                ),
            )
