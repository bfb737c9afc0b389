"""The SQLite store survives a restart; the publisher reports exactly which articles Kafka acknowledged."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka.errors import MessageSizeTooLargeError

from newswatch.contracts import Article, validate_record
from newswatch.poller.errors import StoreError
from newswatch.poller.fetch import Validators
from newswatch.poller.publish import Publisher, encode_article
from newswatch.poller.store import FeedState, Store


def test_seen_ids_and_feed_state_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "poller.sqlite3"
    with Store.open(path) as store:
        assert store.unseen(["a", "b", "a", "c"]) == ["a", "b", "c"]
        store.mark_seen([("a", "feed-1"), ("b", "feed-1")])
        store.mark_seen([("a", "feed-1")])  # idempotent
        store.save_feed_state("https://f/1", FeedState(Validators('"e"', "lm"), 123.5, 2, 100.0))
    with Store.open(path) as store:
        assert store.unseen(["a", "b", "c", "d"]) == ["c", "d"]
        assert store.seen_count() == 2
        assert store.feed_state("https://f/1") == FeedState(Validators('"e"', "lm"), 123.5, 2, 100.0)
        assert store.feed_state("https://unknown") == FeedState()
        store.save_feed_state("https://f/1", FeedState(Validators(None, None), 200.0, 0, 150.0))
        assert store.feed_state("https://f/1").validators == Validators()


def test_unseen_handles_more_ids_than_sqlite_variables() -> None:
    with Store.open(":memory:") as store:
        ids = [f"id-{n}" for n in range(2500)]
        store.mark_seen([(i, "f") for i in ids[::2]])
        assert store.unseen(ids) == ids[1::2]


def test_store_errors_are_translated(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        Store.open(blocker / "sub" / "poller.sqlite3")
    store = Store.open(":memory:")
    store.close()
    with pytest.raises((StoreError, sqlite3.ProgrammingError)):
        store.unseen(["a"])


def _article(n: int) -> Article:
    return Article(
        id=f"{n:064x}",
        url=f"https://example.org/{n}",
        title=f"Title {n} — é",
        summary="",
        published_at=None,
        language="fr",
        feed_url="https://example.org/rss",
        fetched_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


def test_encoded_record_is_keyed_by_id_and_schema_valid() -> None:
    key, value = encode_article(_article(7))
    assert key == f"{7:064x}".encode()
    record = json.loads(value)
    validate_record("article", record)
    assert "—" in value.decode("utf-8")


class _Future:
    """Resolved (True: acked, False: failed) or pending forever (None), like kafka-python's future."""

    def __init__(self, ok: bool | None) -> None:
        self.ok = ok

    def add_callback(self, fn: Callable[[object], None]) -> None:
        if self.ok is True:
            fn(object())

    def add_errback(self, fn: Callable[[BaseException], None]) -> None:
        if self.ok is False:
            fn(RuntimeError("NotLeaderForPartition"))


class _TooLargeFuture(_Future):
    """Failed by the broker: the record is over the topic's max.message.bytes."""

    def add_errback(self, fn: Callable[[BaseException], None]) -> None:
        fn(MessageSizeTooLargeError("MESSAGE_TOO_LARGE"))


class FakeProducer:
    def __init__(
        self,
        outcomes: Sequence[bool | None] = (),
        send_error_at: int | None = None,
        too_large_at: Sequence[int] = (),
        broker_too_large_at: Sequence[int] = (),
    ) -> None:
        self.outcomes = list(outcomes)
        self.send_error_at = send_error_at
        self.too_large_at = set(too_large_at)
        self.broker_too_large_at = set(broker_too_large_at)
        self.calls = 0
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.flushed = 0
        self.closed = False

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> _Future:
        self.calls += 1
        if self.calls - 1 in self.too_large_at:
            raise MessageSizeTooLargeError("The message is 1200317 bytes when serialized")
        if self.send_error_at is not None and len(self.sent) == self.send_error_at:
            raise TimeoutError("metadata not available after 1000 ms")
        self.sent.append((topic, key, value))
        if self.calls - 1 in self.broker_too_large_at:
            return _TooLargeFuture(None)
        return _Future(self.outcomes[len(self.sent) - 1] if len(self.sent) <= len(self.outcomes) else True)

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


async def test_all_acknowledged() -> None:
    producer = FakeProducer()
    publisher = Publisher(lambda: producer, topic="articles", timeout_seconds=1)
    outcome = await publisher.publish([_article(1), _article(2)])
    assert outcome.acked == (f"{1:064x}", f"{2:064x}") and outcome.failed == 0 and outcome.error is None
    assert [(t, k) for t, k, _ in producer.sent] == [
        ("articles", f"{1:064x}".encode()),
        ("articles", f"{2:064x}".encode()),
    ]
    publisher.close()
    assert producer.closed


async def test_partial_failure_reports_only_acked_ids() -> None:
    producer = FakeProducer([True, False, None])
    outcome = await Publisher(lambda: producer, topic="t", timeout_seconds=0.1).publish(
        [_article(n) for n in range(3)]
    )
    assert outcome.acked == (f"{0:064x}",)
    assert outcome.failed == 2 and outcome.error and "NotLeaderForPartition" in outcome.error


async def test_send_failure_stops_the_batch() -> None:
    producer = FakeProducer(send_error_at=1)
    outcome = await Publisher(lambda: producer, topic="t", timeout_seconds=1).publish(
        [_article(n) for n in range(3)]
    )
    assert outcome.acked == (f"{0:064x}",) and outcome.failed == 2 and "metadata" in (outcome.error or "")


async def test_producer_creation_failure_is_retried_next_time() -> None:
    calls: list[int] = []

    def factory() -> FakeProducer:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("NoBrokersAvailable")
        return FakeProducer()

    publisher = Publisher(factory, topic="t", timeout_seconds=1)
    first = await publisher.publish([_article(1)])
    assert first.acked == () and first.failed == 1 and "NoBrokersAvailable" in (first.error or "")
    second = await publisher.publish([_article(1)])
    assert second.acked == (f"{1:064x}",)


async def test_empty_batch_touches_nothing() -> None:
    def factory() -> FakeProducer:
        raise AssertionError("no producer needed")

    assert (await Publisher(factory, topic="t", timeout_seconds=1).publish([])).acked == ()


async def test_a_record_too_large_for_kafka_is_rejected_and_the_others_are_sent() -> None:
    producer = FakeProducer(too_large_at=[1], broker_too_large_at=[3])
    outcome = await Publisher(lambda: producer, topic="t", timeout_seconds=1).publish(
        [_article(n) for n in range(5)]
    )
    assert outcome.acked == (f"{0:064x}", f"{2:064x}", f"{4:064x}")
    assert outcome.rejected == (f"{1:064x}", f"{3:064x}")
    assert outcome.failed == 0 and outcome.error is None


class SlowFactory:
    """A producer factory that blocks, like kafka-python bootstrapping against a broker that is down."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0
        self.producer = FakeProducer()

    def __call__(self) -> FakeProducer:
        self.calls += 1
        if not self.release.wait(timeout=10):
            raise TimeoutError("bootstrap timed out")
        return self.producer


@pytest.fixture
def slow_factory() -> Iterator[SlowFactory]:
    factory = SlowFactory()
    yield factory
    factory.release.set()


async def test_a_broker_down_at_start_up_leaves_the_default_executor_to_dns(
    slow_factory: SlowFactory,
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(2))  # where loop.getaddrinfo runs
    publisher = Publisher(slow_factory, topic="t", timeout_seconds=1)
    publishes = [asyncio.create_task(publisher.publish([_article(n)])) for n in range(4)]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await asyncio.wait_for(loop.getaddrinfo("127.0.0.1", 80), timeout=2)
    assert time.perf_counter() - started < 0.5, "a DNS look-up waited for the producer"
    slow_factory.release.set()
    outcomes = await asyncio.gather(*publishes)
    assert [outcome.acked for outcome in outcomes] == [(f"{n:064x}",) for n in range(4)]
    assert slow_factory.calls == 1
    publisher.close()


async def test_a_publish_waits_for_the_producer_at_most_the_start_timeout(slow_factory: SlowFactory) -> None:
    publisher = Publisher(slow_factory, topic="t", timeout_seconds=1, start_timeout_seconds=0.1)
    publisher.start()  # the build begins before any publish
    started = time.perf_counter()
    first = await publisher.publish([_article(1), _article(2)])
    assert time.perf_counter() - started < 1.0
    assert first.acked == () and first.failed == 2 and "not ready" in (first.error or "")
    slow_factory.release.set()  # the build went on in the background
    for _ in range(100):
        second = await publisher.publish([_article(1)])
        if second.acked:
            break
        await asyncio.sleep(0.01)
    assert second.acked == (f"{1:064x}",) and slow_factory.calls == 1
    publisher.close()
    assert slow_factory.producer.closed


async def test_closing_while_the_producer_is_built_closes_it_when_it_arrives(
    slow_factory: SlowFactory,
) -> None:
    publisher = Publisher(slow_factory, topic="t", timeout_seconds=1)
    publisher.start()
    await asyncio.sleep(0.05)
    publisher.close()
    slow_factory.release.set()
    for _ in range(100):
        if slow_factory.producer.closed:
            break
        await asyncio.sleep(0.01)
    assert slow_factory.producer.closed
    assert (await publisher.publish([_article(1)])).error == "publisher closed"
