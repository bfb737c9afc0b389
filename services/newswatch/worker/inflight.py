"""Which input records were being classified when this worker died: a poison record is not retried for ever.

    ledger = InflightLedger.open(state_dir / "worker" / app_id)   # takes the first free slot file
    ledger.attempts(source)          # times ``source`` was being classified when a worker process died
    ledger.begin(sources); ...; ledger.end(sources)              # around every classifier call

A record that kills the process (a native crash in the tokenizer, an out-of-memory kill, a ``SystemExit``)
is replayed after the restart, since its offset was never committed, and would kill the next process too.
Before each classifier call the worker writes the records of the call to a small JSON file, and removes them
after the call; whatever the file still holds when a process starts was in flight when the last one died.
Such a record is classified alone (so the innocent records of its batch are cleared), and once it has been in
flight at ``max_classify_attempts`` deaths it is dead-lettered without being classified.

The file is written with write-then-rename (no fsync: it guards against the process dying, not the machine).
Several workers sharing one state directory each hold one slot file, locked with ``flock`` while they run; a
restarted worker takes the first unlocked slot, which after a crash is the dead worker's. Entries of records
that another worker processes after a rebalance stay in the file (at most one batch per death; the file
keeps the newest ``max_entries``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from newswatch.worker.deadletter import SourceRecord

__all__ = ["InflightLedger"]

log = logging.getLogger(__name__)

_SLOTS = 64


def _key(source: SourceRecord) -> str:
    return f"{source.topic}/{source.partition}/{source.offset}"


class InflightLedger:
    """Attempt counts of the records in flight at a process death, persisted in one slot file."""

    def __init__(
        self, path: Path | None, lock: IO[bytes] | None = None, *, max_entries: int = 10_000
    ) -> None:
        self._path = path
        self._lock = lock  # kept open: the flock lasts as long as this process
        self._max_entries = max_entries
        self._attempts: dict[str, int] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._attempts = {str(k): int(v) for k, v in dict(data).items()}
            except (OSError, ValueError, TypeError) as exc:
                log.warning("inflight_ledger_unreadable", extra={"path": str(path), "error": repr(exc)})
        if self._attempts:
            log.warning("inflight_records_found", extra={"path": str(path), "records": len(self._attempts)})

    @classmethod
    def open(cls, directory: Path) -> InflightLedger:
        """The ledger of the first slot file in ``directory`` that no running process holds."""
        directory.mkdir(parents=True, exist_ok=True)
        for slot in range(_SLOTS):
            lock = (directory / f"inflight-{slot}.lock").open("ab")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                continue
            return cls(directory / f"inflight-{slot}.json", lock)
        log.warning("inflight_ledger_unavailable", extra={"directory": str(directory)})
        return cls(None)

    def attempts(self, source: SourceRecord) -> int:
        """How many process deaths ``source`` was in flight at (0: never)."""
        return self._attempts.get(_key(source), 0)

    def begin(self, sources: Iterable[SourceRecord]) -> None:
        """Count ``sources`` as in flight (persisted before the classifier is called)."""
        for source in sources:
            key = _key(source)
            self._attempts[key] = self._attempts.pop(key, 0) + 1  # re-inserted: newest last
        self._save()

    def end(self, sources: Iterable[SourceRecord]) -> None:
        """The classifier call over ``sources`` returned: they are in flight no more."""
        for source in sources:
            self._attempts.pop(_key(source), None)
        self._save()

    def close(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
            self._lock = None

    def _save(self) -> None:
        if self._path is None:
            return
        while len(self._attempts) > self._max_entries:
            del self._attempts[next(iter(self._attempts))]
        tmp = self._path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self._attempts), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("inflight_ledger_unwritable", extra={"path": str(self._path), "error": repr(exc)})
