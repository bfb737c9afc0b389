"""Notify's dead letters fit the dead-letter topic whatever the record's size, and Kafka's refusals are
translated so the dispatcher can tell "too large, never" from "broker away, later"."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from kafka.record.default_records import DefaultRecordBatchBuilder
from pydantic import ValidationError
from tests.unit.notify.test_notify_dispatch import TOPIC, ListSink, _console_dispatcher

from newswatch.broker.reading import TopicRecord
from newswatch.broker.topics import DEADLETTER_MAX_BYTES
from newswatch.contracts import DeadLetter
from newswatch.notify.dispatch import build_deadletter
from newswatch.notify.errors import DeadLetterRefusedError
from newswatch.notify.main import KafkaDeadLetterSink, _intake, deadletter_producer_config
from newswatch.notify.settings import NotifySettings
from newswatch.settings import KafkaSettings

_MIB = 1024 * 1024


def _letter(value: bytes, key: bytes | None = None, **kwargs: Any) -> DeadLetter:
    return build_deadletter(
        reason="schema_invalid",
        error="alert invalid",
        topic=TOPIC,
        partition=0,
        offset=9,
        key=key,
        value=value,
        **kwargs,
    )


def _kafka_size(letter: DeadLetter, key: bytes | None, subscription: str = "x" * 64) -> int:
    """The size kafka-python checks against ``max_request_size`` (headers as the sink sends them)."""
    value = letter.model_dump_json().encode()
    return int(
        DefaultRecordBatchBuilder.estimate_size_in_bytes(
            key, value, [("subscription", subscription.encode())]
        )
    )


def test_a_790_kb_record_gives_a_deadletter_under_1_mib() -> None:
    value = b"x" * 790_000
    letter = _letter(value, key=b"k" * 300_000)
    # before: the whole original, 1.05 MB of base64, which the 1 MiB producer refused
    assert len(letter.model_dump_json().encode()) < 800_000
    assert base64.b64decode(letter.original_value_b64) == value[:262_144]
    assert letter.original_key_b64 is not None and len(base64.b64decode(letter.original_key_b64)) == 262_144
    assert letter.original_size_bytes == 790_000
    assert "original truncated to 262144 of 790000 bytes" in letter.error


def test_small_originals_are_kept_whole() -> None:
    letter = _letter(b'{"alert_id": 1}', key=b"a1")
    assert base64.b64decode(letter.original_value_b64) == b'{"alert_id": 1}'
    assert letter.original_key_b64 == base64.b64encode(b"a1").decode()
    assert "truncated" not in letter.error


def test_the_largest_allowed_deadletter_fits_the_topic_and_the_producer() -> None:
    largest = NotifySettings.model_fields["deadletter_max_original_bytes"].metadata
    limit = next(m.le for m in largest if hasattr(m, "le"))
    letter = _letter(b"\xff" * (5 * _MIB), key=b"\xff" * (5 * _MIB), max_original_bytes=limit)
    size = _kafka_size(letter, b"k" * 1024)  # the sink cuts the Kafka key to 1 KiB
    config = deadletter_producer_config(KafkaSettings())
    assert size <= config["max_request_size"] == DEADLETTER_MAX_BYTES  # was 1 MiB, the default
    with pytest.raises(ValidationError):
        NotifySettings(deadletter_max_original_bytes=limit + 1)


class FakeProducer:
    """kafka-python's producer as the sink uses it: ``send`` (may raise) returns a future of the ack."""

    def __init__(self, error: Exception | None = None, *, at_send: bool = False) -> None:
        self.error = error
        self.at_send = at_send
        self.sent: list[dict[str, Any]] = []
        self.threads: set[str] = set()
        self.closed = False

    def send(self, topic: str, **kwargs: Any) -> Future[None]:
        self.threads.add(threading.current_thread().name)
        future: Future[None] = Future()
        if self.error is not None and self.at_send:
            raise self.error
        if self.error is not None:
            future.set_exception(self.error)
        else:
            self.sent.append({"topic": topic, **kwargs})
            future.set_result(None)
        return _Ack(future)  # type: ignore[return-value]

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


class _Ack:
    """kafka-python's ``FutureRecordMetadata``: ``get(timeout)`` returns the metadata or raises."""

    def __init__(self, future: Future[None]) -> None:
        self._future = future

    def get(self, timeout: float | None = None) -> None:
        self._future.result(timeout)


async def test_kafka_sink_sends_keyed_letters_with_the_subscription_header_off_the_loop() -> None:
    producer = FakeProducer()
    sink = KafkaDeadLetterSink(producer, "dl")
    await sink.send("ops", _letter(b"{}"), b"k" * 5000)
    await sink.close()
    (sent,) = producer.sent
    assert (
        sent["topic"] == "dl" and sent["key"] == b"k" * 1024 and sent["headers"] == [("subscription", b"ops")]
    )
    assert DeadLetter.model_validate_json(sent["value"]).offset == 9
    assert producer.threads != {threading.current_thread().name} and producer.closed


@pytest.mark.parametrize("at_send", [True, False])  # kafka-python checks the size at send; the broker too
async def test_kafka_sink_translates_a_size_refusal_and_lets_transient_errors_through(at_send: bool) -> None:
    refusing = KafkaDeadLetterSink(FakeProducer(MessageSizeTooLargeError("too big"), at_send=at_send), "dl")
    with pytest.raises(DeadLetterRefusedError, match="dl refused a dead letter"):
        await refusing.send("", _letter(b"{}"), None)
    for transient in (KafkaConnectionError("away"), KafkaTimeoutError("no ack")):
        away = KafkaDeadLetterSink(FakeProducer(transient, at_send=at_send), "dl")
        with pytest.raises(type(transient)):  # retried by the dispatcher's outbox
            await away.send("", _letter(b"{}"), None)


async def test_intake_dead_letters_a_huge_undecodable_record_truncated(tmp_path: Path) -> None:
    sink = ListSink()
    dispatcher, metrics = _console_dispatcher(tmp_path, sink)
    value = b"{" + b" " * 790_000
    record = TopicRecord(TOPIC, 2, 40, b"key", value, 0)
    await dispatcher.start()
    try:
        await _intake(record, dispatcher, metrics, max_original_bytes=1000)
        assert await dispatcher.drain(5)
    finally:
        await dispatcher.stop()
    ((name, letter),) = sink.items
    assert name == "" and letter.reason == "decode_error" and letter.offset == 40
    assert len(base64.b64decode(letter.original_value_b64)) == 1000 and letter.original_size_bytes == len(
        value
    )
    assert dispatcher.tracker.committable() == {(TOPIC, 2): 41}
