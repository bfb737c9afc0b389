"""Notify's rebalance listener on a real broker: when a second member joins the group, the first commits
what its offset tracker has settled before its partitions move, and forgets their unsettled offsets."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace
from typing import Any

from kafka import TopicPartition

from newswatch.broker.clients import kafka_consumer, kafka_producer
from newswatch.broker.topics import TopicSpec, ensure_topics
from newswatch.notify.dispatch import OffsetTracker
from newswatch.notify.main import _ConsumerThread, _Rebalance
from newswatch.settings import KafkaSettings


async def _poll_until(thread: _ConsumerThread, consumer: Any, done: Any, timeout: float = 60.0) -> list[Any]:
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    while not done(records) and time.monotonic() < deadline:
        batches = await thread.run(consumer.poll, timeout_ms=500)
        records.extend(r for batch in batches.values() for r in batch)
    return records


async def test_revoked_partitions_are_committed_up_to_the_settled_offset(
    kafka_settings: KafkaSettings,
) -> None:
    topic = f"test.notify.rebalance.{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_settings, [TopicSpec(topic, partitions=2, replication=1)])
    producer = kafka_producer(kafka_settings)
    for partition in (0, 1):
        for i in range(3):
            producer.send(topic, key=b"k", value=f"{partition}-{i}".encode(), partition=partition)
    producer.flush()
    producer.close()
    group = f"notify-rebalance-{uuid.uuid4().hex[:8]}"
    tracker = OffsetTracker()
    dispatcher = SimpleNamespace(tracker=tracker)  # the listener only uses the dispatcher's tracker
    first_thread, second_thread = _ConsumerThread(), _ConsumerThread()
    first = await first_thread.run(kafka_consumer, kafka_settings, group_id=group)
    listener = _Rebalance(dispatcher, asyncio.get_running_loop())  # type: ignore[arg-type]
    listener.consumer = first
    await first_thread.run(first.subscribe, [topic], listener=listener)
    second = None
    try:
        records = await _poll_until(first_thread, first, lambda rs: len(rs) >= 6)
        assert len(records) == 6
        for record in records:  # offsets 0 and 1 settled on each partition, offset 2 still pending
            tracker.add((record.topic, record.partition), record.offset, pending=int(record.offset == 2))
        assert tracker.committable() == {(topic, 0): 2, (topic, 1): 2}

        second = await second_thread.run(kafka_consumer, kafka_settings, group_id=group)
        await second_thread.run(second.subscribe, [topic])
        # both members poll until the group settled on one partition each and the newcomer read its backlog
        joined, _ = await asyncio.gather(
            _poll_until(second_thread, second, lambda rs: bool(rs), timeout=90),
            _poll_until(first_thread, first, lambda _: len(first.assignment()) == 1, timeout=90),
        )
        assert len(first.assignment()) == 1 and len(second.assignment()) == 1
        # the newcomer starts at the committed offset 2: it re-reads only the unsettled record
        assert [r.offset for r in joined] == [2]
        assert {p: second.committed(TopicPartition(topic, p)) for p in (0, 1)} == {0: 2, 1: 2}
        # eager rebalancing revokes every partition first: the tracker forgot them all
        assert tracker.committable() == {} and tracker.pending_count() == 0
    finally:
        if second is not None:
            await second_thread.run(second.close)
        await first_thread.run(first.close)
        first_thread.shutdown()
        second_thread.shutdown()
