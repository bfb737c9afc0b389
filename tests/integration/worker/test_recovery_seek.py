"""A worker that restarts with a table to restore processes every input record after its committed offset.

faust-streaming 0.15's stock recovery resumes the input partitions before it seeks them to the committed
offsets; when that seek is slow (a loaded machine) the fetcher delivers prefetched records meanwhile, the
seek then resets the read offsets under the batch being delivered, and records are skipped but committed
(faust-streaming#596; our kill -9 e2e test lost 1 to ~250 articles this way). This test makes the seek slow
on purpose and keeps the stream buffer small, so the fetcher is blocked in the middle of a batch when the
seek lands: with the stock ``TableManager`` records go missing, with ``SeekFirstTableManager`` none do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from newswatch.worker.recovery import SeekFirstTableManager

with warnings.catch_warnings():  # kafka-python 3.0 calls importlib.resources.read_text at import time
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

PARTITIONS = 3
RECORDS_PER_PARTITION = 200
COMMITTED = 10  # the group's committed offset on every input partition before the worker starts
SEEK_DELAY_S = 1.5


def _prepare(bootstrap: str, app_id: str, topic: str) -> None:
    """Input records, a table changelog with data (so the worker recovers it) and committed offsets."""
    changelog = f"{app_id}-state-changelog"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(topic, PARTITIONS, 1),
                NewTopic(changelog, PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for partition in range(PARTITIONS):
        for i in range(RECORDS_PER_PARTITION):
            producer.send(topic, key=f"k{i}".encode(), value=b"x", partition=partition)
        key, value = json.dumps(f"key-{partition}").encode(), json.dumps("value").encode()
        producer.send(changelog, key=key, value=value, partition=partition)
    producer.flush(timeout=60)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=app_id, enable_auto_commit=False)
    try:
        committed = OffsetAndMetadata(COMMITTED, "", -1)
        consumer.commit({TopicPartition(topic, p): committed for p in range(PARTITIONS)})
    finally:
        consumer.close()


def _slowed(seek: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def slow_seek() -> None:
        await asyncio.sleep(SEEK_DELAY_S)  # the fetcher runs meanwhile, as on a loaded machine
        await seek()

    return slow_seek


async def _run_worker(bootstrap: str, app_id: str, topic: str, table_manager: Any) -> dict[int, set[int]]:
    """Run a faust app like the worker's (a table, batches acked by hand); return the offsets processed."""
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        TableManager=table_manager,
        autodiscover=False,
        web_enabled=False,
        topic_partitions=PARTITIONS,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        stream_buffer_maxsize=8,  # the fetcher blocks in the middle of a batch, as under backpressure
    )
    app.Table("state", default=None, partitions=PARTITIONS, key_type=str, value_type=str)
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    processed: dict[int, set[int]] = defaultdict(set)

    async def consume(stream: Any) -> None:
        async for events in stream.noack_take(16, within=0.2):
            await asyncio.sleep(0.05)  # some work per batch
            for event in events:
                processed[event.message.partition].add(event.message.offset)
                await stream.ack(event)

    app.agent(source, name="consume")(consume)
    consumer: Any = app.consumer
    consumer.perform_seek = _slowed(consumer.perform_seek)
    app.in_worker = True
    await app.start()
    try:
        wanted = (RECORDS_PER_PARTITION - COMMITTED) * PARTITIONS
        for _ in range(120):
            await asyncio.sleep(0.25)
            if sum(len(offsets) for offsets in processed.values()) >= wanted:
                break
        await asyncio.sleep(1.0)  # let anything left over arrive
    finally:
        await app.stop()
    return processed


async def test_a_restart_with_a_table_to_restore_skips_no_input_record(kafka_bootstrap: str) -> None:
    app_id = f"recovery-{uuid.uuid4().hex[:10]}"
    topic = f"{app_id}.input"
    _prepare(kafka_bootstrap, app_id, topic)
    processed = await _run_worker(kafka_bootstrap, app_id, topic, SeekFirstTableManager)
    missing = {
        p: sorted(set(range(COMMITTED, RECORDS_PER_PARTITION)) - processed[p])
        for p in range(PARTITIONS)
        if set(range(COMMITTED, RECORDS_PER_PARTITION)) - processed[p]
    }
    assert not missing, f"input records never processed, by partition: {missing}"
