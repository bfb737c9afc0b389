"""Keeps the :class:`AlertStore` current with ``news.alerts.v1``: a kafka-python consumer without a group,
assigned every partition, resuming from the offsets stored with the data, in one background thread.

    model = ReadModel(settings, store, metrics)
    model.start()          # reads from the stored offsets (the beginning on a fresh store)
    model.ready            # True once caught up with the end offsets seen at start-up
    model.stop()

:func:`decode_records` is the pure part: records in, store operations and skip reasons out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from newswatch.notify.encoding import decode_alert
from newswatch.notify.errors import AlertDecodeError
from newswatch.serve.metrics import ServeMetrics
from newswatch.serve.store import AlertStore, Delete, Upsert
from newswatch.settings import Settings

__all__ = ["Decoded", "ReadModel", "RecordLike", "decode_records"]

log = logging.getLogger(__name__)
_MAX_RECORDS = 500
_COUNT_REFRESH_SECONDS = 1.0
_RETRY_SECONDS = 2.0


class RecordLike(Protocol):
    """What we read of a consumer record (kafka-python's ``ConsumerRecord``)."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass
class Decoded:
    ops: list[Upsert | Delete] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)
    skipped: list[tuple[int, int, str, str]] = field(default_factory=list)  # partition, offset, reason, error


def decode_records(
    records: Iterable[RecordLike], key_of: dict[tuple[int, int], str] | None = None
) -> Decoded:
    """Turn records into store operations; a record that is not Alert v1 is skipped (and reported).

    A null value is a tombstone for the alert named by its key (``key_of[(partition, offset)]``).
    Positions always advance past every record, valid or not, so a poison record is read once.
    """
    out = Decoded()
    for record in records:
        out.positions[record.partition] = max(out.positions.get(record.partition, 0), record.offset + 1)
        if record.value is None:
            key = (key_of or {}).get((record.partition, record.offset))
            if key:
                out.ops.append(Delete(key))
            continue
        try:
            alert = decode_alert(record.value)
        except AlertDecodeError as exc:
            out.skipped.append((record.partition, record.offset, exc.reason, str(exc)[:500]))
            continue
        out.ops.append(Upsert(alert, record.value.decode("utf-8"), record.partition, record.offset))
    return out


class ReadModel:
    """The consumer thread; ``ready``, ``lag`` and ``error`` are safe to read from any thread."""

    def __init__(self, settings: Settings, store: AlertStore, metrics: ServeMetrics) -> None:
        self._settings = settings
        self._topic = settings.kafka.topic_alerts
        self._store = store
        self._metrics = metrics
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serve-readmodel", daemon=True)
        self.lag: dict[int, int] = {}
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def start(self) -> None:
        self._refresh_counts()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------------------------------ thread
    def _run(self) -> None:
        from kafka.errors import KafkaError

        while not self._stop.is_set():
            try:
                self._consume()
            except KafkaError as exc:
                self.error = repr(exc)
                log.warning("readmodel_kafka_error", extra={"error": repr(exc)})
                self._stop.wait(_RETRY_SECONDS)
            except Exception as exc:  # a bug: keep serving what we have, retry the consumer
                self.error = repr(exc)
                log.error("readmodel_failed", exc_info=exc)
                self._stop.wait(_RETRY_SECONDS)

    def _consume(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from newswatch.broker.clients import consumer_config

        cfg = self._settings.serve
        consumer = KafkaConsumer(**consumer_config(self._settings.kafka, group_id=None))
        try:
            partitions = consumer.partitions_for_topic(self._topic)
            if not partitions:
                self.error = f"topic {self._topic} not found"
                log.warning("readmodel_topic_missing", extra={"topic": self._topic})
                self._stop.wait(_RETRY_SECONDS)
                return
            tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            targets = self._seek(consumer, tps)
            self.error = None
            log.info("readmodel_started", extra={"topic": self._topic, "targets": targets})
            last_lag = last_prune = 0.0
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=cfg.poll_timeout_ms, max_records=_MAX_RECORDS)
                records = [r for batch in batches.values() for r in batch]
                if records:
                    self._apply(records)
                positions = {tp.partition: consumer.position(tp) for tp in tps}
                if not self._ready.is_set() and all(positions[p] >= t for p, t in targets.items()):
                    self._ready.set()
                    self._metrics.ready.set(1)
                    log.info("readmodel_ready", extra={"alerts": self._store.counts()[0]})
                now = time.monotonic()
                if now - last_lag >= cfg.lag_refresh_seconds:
                    ends = consumer.end_offsets(tps)
                    self._report_lag({tp.partition: ends[tp] - positions[tp.partition] for tp in tps})
                    last_lag = now
                if now - last_prune >= cfg.prune_interval_seconds:
                    self._prune({tp.partition: o for tp, o in consumer.beginning_offsets(tps).items()})
                    last_prune = now
        finally:
            consumer.close()

    def _seek(self, consumer: Any, tps: list[Any]) -> dict[int, int]:
        """Seek each partition to its stored offset; returns the end offsets to catch up with."""
        stored = self._store.positions(self._topic)
        beginnings = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            position = stored.get(tp.partition)
            if position is not None and position > ends[tp]:
                # more than the topic holds: it was deleted and recreated; rebuild this partition
                log.warning("readmodel_partition_reset", extra={"partition": tp.partition})
                self._store.reset_partition(self._topic, tp.partition)
                position = None
            if position is None or position < beginnings[tp]:
                consumer.seek(tp, beginnings[tp])
            else:
                consumer.seek(tp, position)
        return {tp.partition: int(ends[tp]) for tp in tps}

    def _apply(self, records: list[Any]) -> None:
        keys = {
            (r.partition, r.offset): r.key.decode("utf-8", "replace")
            for r in records
            if r.value is None and r.key
        }
        decoded = decode_records(records, keys)
        for partition, offset, reason, error in decoded.skipped:
            self._metrics.skipped.labels(reason=reason).inc()
            log.warning(
                "alert_record_skipped",
                extra={"partition": partition, "offset": offset, "reason": reason, "error": error},
            )
        self._store.apply(self._topic, decoded.ops, decoded.positions)
        self._metrics.records.inc(len(decoded.ops))
        self._refresh_counts()

    _last_counts = 0.0

    def _refresh_counts(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_counts < _COUNT_REFRESH_SECONDS:
            return
        self._last_counts = now
        alerts, versions = self._store.counts()
        self._metrics.alerts.set(alerts)
        self._metrics.versions.set(versions)

    def _report_lag(self, lag: dict[int, int]) -> None:
        self.lag = lag
        for partition, value in lag.items():
            self._metrics.lag.labels(partition=str(partition)).set(max(0, value))
        self._refresh_counts(force=True)

    def _prune(self, beginnings: dict[int, int]) -> None:
        older_than = datetime.now(UTC) - timedelta(days=self._settings.serve.max_age_days)
        removed = self._store.prune(older_than=older_than, beginnings=beginnings)
        if removed:
            self._metrics.pruned.inc(removed)
            log.info("readmodel_pruned", extra={"alerts": removed})
        self._refresh_counts(force=True)
