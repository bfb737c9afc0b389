"""Read topics from their beginning to the end they had when reading started: the one topic reader of the
command-line tools, the demo and the tests.

A group-less kafka-python consumer (nothing committed, no group joined) assigns itself every partition of
the topics, seeks to their beginning and notes their end offsets; reading stops once every partition
reached its noted end, or raises :class:`TopicReadTimeoutError` (with what it read) when ``timeout_s``
runs out first. A topic that does not exist reads as empty.

    records = read_to_end(settings.kafka, settings.kafka.topic_alerts)   # TopicRecords, raw bytes
    articles = read_all(settings.kafka, settings.kafka.topic_articles)   # the JSON objects among them

    with TopicReader(settings.kafka, [classified, alerts]) as reader:
        backlog = reader.read_to_end()        # what the topics held when the reader opened
        fresh = reader.poll()                 # then what arrives after (nothing is skipped in between)

Blocking (kafka-python): from async code, call these in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from newswatch.broker.clients import kafka_consumer
from newswatch.broker.errors import BrokerUnreachableError, TopicAdminError
from newswatch.settings import KafkaSettings

__all__ = [
    "TopicReadTimeoutError",
    "TopicReader",
    "TopicRecord",
    "json_objects",
    "read_all",
    "read_to_end",
]

log = logging.getLogger(__name__)

_POLL_MS = 500


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record as read: where it sits, its raw key and value, timestamp and headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


class TopicReadTimeoutError(TopicAdminError):
    """The end offsets noted at the start were not all reached in time; ``records`` is what was read."""

    def __init__(self, message: str, records: Sequence[TopicRecord]) -> None:
        super().__init__(message)
        self.records = list(records)


class TopicReader:
    """A group-less consumer over every partition of ``topics``, from the beginning (or the end).

    Used from one thread at a time (kafka-python's consumer is not thread-safe). Raises
    ``BrokerUnreachableError`` when no broker answers, ``TopicAdminError`` when the broker fails a request.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        topics: Iterable[str],
        *,
        start: Literal["beginning", "end"] = "beginning",
        **overrides: Any,
    ) -> None:
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        self._topics = tuple(topics)
        try:
            self._consumer = kafka_consumer(settings, group_id=None, **overrides)
        except KafkaError as exc:
            raise BrokerUnreachableError(
                f"no Kafka broker answered at {settings.bootstrap_servers}: {exc!r}"
            ) from exc
        self._ahead: list[TopicRecord] = []  # read past the noted end by read_to_end; poll() returns them
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            ]
            self._consumer.assign(partitions)
            self._assigned = bool(partitions)
            self._end: dict[Any, int] = {}
            if partitions and start == "end":
                self._consumer.seek_to_end(*partitions)
            elif partitions:  # (with no partition given, kafka-python seeks all assigned: none, an error)
                self._consumer.seek_to_beginning(*partitions)
                begin = self._consumer.beginning_offsets(partitions)
                ends = self._consumer.end_offsets(partitions)
                self._end = {tp: end for tp, end in ends.items() if end > begin.get(tp, 0)}
        except KafkaError as exc:
            self._consumer.close()
            raise TopicAdminError(f"cannot read {', '.join(self._topics)}: {exc!r}") from exc

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def read_to_end(self, timeout_s: float = 30.0) -> list[TopicRecord]:
        """Every record below the end offsets noted at the start, by topic, partition and offset.

        Raises :class:`TopicReadTimeoutError` when ``timeout_s`` runs out first.
        """
        from kafka.errors import KafkaError

        records: list[TopicRecord] = []
        remaining = dict(self._end)
        deadline = time.monotonic() + timeout_s
        try:
            while remaining and (left := deadline - time.monotonic()) > 0:
                for record in self._poll(min(_POLL_MS, max(1, int(left * 1000)))):
                    end = self._end.get((record.topic, record.partition))
                    below = end is not None and record.offset < end
                    (records if below else self._ahead).append(record)
                remaining = {tp: end for tp, end in remaining.items() if self._consumer.position(tp) < end}
        except KafkaError as exc:
            raise TopicAdminError(f"cannot read {', '.join(self._topics)}: {exc!r}") from exc
        self._end = {}  # read: a second call returns nothing, poll() follows on
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        if remaining:
            behind = sorted(f"{tp.topic}/{tp.partition}" for tp in remaining)
            raise TopicReadTimeoutError(
                f"read {len(records)} records in {timeout_s:g} s; not at the end of {', '.join(behind)}",
                records,
            )
        return records

    def poll(self, timeout_ms: int = _POLL_MS) -> list[TopicRecord]:
        """The next records (those ``read_to_end`` read past its end first), waiting up to ``timeout_ms``."""
        from kafka.errors import KafkaError

        if self._ahead:
            ahead, self._ahead = self._ahead, []
            return ahead
        if not self._assigned:  # kafka-python refuses to poll without partitions: an empty wait instead
            time.sleep(timeout_ms / 1000)
            return []
        try:
            return self._poll(timeout_ms)
        except KafkaError as exc:
            raise TopicAdminError(f"cannot read {', '.join(self._topics)}: {exc!r}") from exc

    def close(self) -> None:
        self._consumer.close()

    def _poll(self, timeout_ms: int) -> list[TopicRecord]:
        return [
            TopicRecord(
                m.topic,
                m.partition,
                m.offset,
                m.key,
                m.value,
                m.timestamp,
                tuple((name, value or b"") for name, value in m.headers or ()),
            )
            for batch in self._consumer.poll(timeout_ms=timeout_ms).values()
            for m in batch
        ]


def read_to_end(
    settings: KafkaSettings, topics: str | Iterable[str], *, timeout_s: float = 30.0
) -> list[TopicRecord]:
    """Every record on ``topics`` up to the end offsets they had at the start (see the module docstring).

    dead = read_to_end(settings.kafka, settings.kafka.topic_deadletter, timeout_s=10)
    """
    names = (topics,) if isinstance(topics, str) else tuple(topics)
    with TopicReader(settings, names) as reader:
        return reader.read_to_end(timeout_s)


def json_objects(records: Iterable[TopicRecord]) -> list[dict[str, Any]]:
    """The values that are JSON objects, in order; any other value is logged and skipped."""
    out: list[dict[str, Any]] = []
    for record in records:
        try:
            decoded = json.loads(record.value) if record.value is not None else None
        except (ValueError, UnicodeDecodeError):
            decoded = None
        if isinstance(decoded, dict):
            out.append(decoded)
        else:
            log.warning("record_not_json_object", extra={"topic": record.topic, "offset": record.offset})
    return out


def read_all(settings: KafkaSettings, topic: str, *, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The JSON-object values on ``topic`` up to its end at the start (others logged and skipped).

    articles = read_all(settings.kafka, settings.kafka.topic_articles)
    """
    return json_objects(read_to_end(settings, topic, timeout_s=timeout_s))
