"""The local broker on a real Kafka: lifecycle, CLI, topics, kafka-python + aiokafka + faust round trips."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from tests.conftest import UniqueTopics

from newswatch.broker.clients import (
    admin_config,
    aiokafka_consumer_config,
    aiokafka_producer_config,
    consumer_config,
    faust_app_config,
    producer_config,
)
from newswatch.broker.local import LocalKafka, free_port, probe_broker
from newswatch.broker.main import EXIT_STOPPED, run_kafka, run_topics
from newswatch.broker.topics import TopicSpec, declared_topics, describe_topics, ensure_topics, read_all
from newswatch.settings import KafkaSettings, Settings


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


def _topic(settings: KafkaSettings, partitions: int = 3) -> str:
    name = f"test.broker.{_suffix()}"
    ensure_topics(settings, [TopicSpec(name=name, partitions=partitions, replication=1)])
    return name


def _settings_for(kafka: LocalKafka) -> Settings:
    """Settings whose local broker is ``kafka`` (same state dir, ports and jars), as the CLI would build."""
    config = kafka.config
    return Settings(
        state_dir=config.state_dir.parent,
        kafka=KafkaSettings(
            bootstrap_servers=config.bootstrap,
            local_port=config.port,
            local_controller_port=config.controller_port,
            local_jars_dir=config.jars_dir,
        ),
    )


def test_local_broker_start_stop_restart_are_idempotent_and_keep_data(
    local_kafka_factory: Callable[[], LocalKafka], capsys: pytest.CaptureFixture[str]
) -> None:
    kafka = local_kafka_factory()
    settings = _settings_for(kafka)
    assert kafka.is_running()
    assert probe_broker(kafka.bootstrap) == 1
    assert kafka.start() is False  # already running: nothing to do

    assert run_kafka(argparse.Namespace(action="status", settings=settings)) == 0
    out = capsys.readouterr().out
    assert "running, answering" in out and kafka.bootstrap in out and str(kafka.log_path) in out

    topic = _topic(settings.kafka)
    other_process_view = LocalKafka(kafka.config)  # stop works from the pid file alone
    assert other_process_view.stop() is True
    assert not kafka.is_running()
    assert other_process_view.stop() is False
    assert run_kafka(argparse.Namespace(action="status", settings=settings)) == EXIT_STOPPED
    assert "stopped" in capsys.readouterr().out

    assert kafka.start() is True
    assert run_kafka(argparse.Namespace(action="start", settings=settings)) == 0
    assert "already running" in capsys.readouterr().out
    assert topic in {state.spec.name for state in describe_topics(settings.kafka, [TopicSpec(topic, 3, 1)])}
    assert describe_topics(settings.kafka, [TopicSpec(topic, 3, 1)])[0].partitions == 3
    assert kafka.log_path.is_file()


def test_topics_ensure_creates_then_reports_existing_with_declared_config(
    kafka_settings: KafkaSettings,
) -> None:
    suffix = _suffix()
    settings = kafka_settings.model_copy(
        update={
            "topic_articles": f"a.{suffix}",
            "topic_classified": f"c.{suffix}",
            "topic_alerts": f"al.{suffix}",
            "topic_deadletter": f"d.{suffix}",
        }
    )
    specs = declared_topics(settings)
    first = ensure_topics(settings)
    assert set(first.created) == {spec.name for spec in specs} and first.existing == ()
    second = ensure_topics(settings)
    assert second.created == () and set(second.existing) == {spec.name for spec in specs}

    states = {state.spec.name: state.partitions for state in describe_topics(settings)}
    assert states == {spec.name: spec.partitions for spec in specs}

    admin = KafkaAdminClient(**admin_config(settings))
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic_alerts)])
    finally:
        admin.close()
    text = repr(described)
    assert "compact,delete" in text  # the alerts topic keeps the latest version of each alert


def test_topics_cli_ensure_and_list(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = _suffix()
    kafka = kafka_settings.model_copy(
        update={name: f"{name}.{suffix}" for name in ("topic_articles", "topic_classified", "topic_alerts")}
        | {"topic_deadletter": f"dl.{suffix}"}
    )
    args = argparse.Namespace(action="ensure", settings=Settings(kafka=kafka))
    assert run_topics(args) == 0
    assert capsys.readouterr().out.count("created") == 4
    assert run_topics(args) == 0
    assert capsys.readouterr().out.count("existed") == 4
    assert run_topics(argparse.Namespace(action="list", settings=Settings(kafka=kafka))) == 0
    listing = capsys.readouterr().out
    assert f"dl.{suffix}" in listing and "missing" not in listing


def test_topics_ensure_exits_1_with_a_clear_message_when_no_broker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2_000)
    assert run_topics(argparse.Namespace(action="ensure", settings=Settings(kafka=kafka))) == 1
    assert "no Kafka broker answered" in capsys.readouterr().err


def test_unique_topics_exist_with_declared_partitions_and_read_all_skips_non_json(
    unique_topics: UniqueTopics,
) -> None:
    settings = unique_topics.settings
    assert {s.spec.name: s.partitions for s in describe_topics(settings)} == {
        spec.name: spec.partitions for spec in declared_topics(settings)
    }
    producer = KafkaProducer(**producer_config(settings))
    for i in range(3):
        producer.send(
            unique_topics.articles, key=f"a{i}".encode(), value=json.dumps({"id": f"a{i}"}).encode()
        )
    producer.send(unique_topics.articles, key=b"bad", value=b"not json")
    producer.send(unique_topics.articles, key=b"list", value=b"[1, 2]")
    producer.flush()
    producer.close()
    records = read_all(settings, unique_topics.articles)
    assert sorted(record["id"] for record in records) == ["a0", "a1", "a2"]
    assert read_all(settings, unique_topics.deadletter) == []


def test_kafka_python_producer_to_aiokafka_consumer_group_with_commit(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings)
    producer = KafkaProducer(**producer_config(kafka_settings))
    for i in range(6):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    group = f"g.{_suffix()}"

    async def consume(expected: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, **aiokafka_consumer_config(kafka_settings, group_id=group))
        await consumer.start()
        values: list[bytes] = []
        try:
            while len(values) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                values.extend(m.value for msgs in batches.values() for m in msgs if m.value is not None)
                if expected == 0:
                    break
            await consumer.commit()
        finally:
            await consumer.stop()
        return values

    assert sorted(asyncio.run(consume(6))) == [f"v{i}".encode() for i in range(6)]
    # The group's committed offsets cover everything: a new member of the group sees nothing again.
    assert asyncio.run(consume(0)) == []


def test_aiokafka_producer_to_kafka_python_consumer_group_with_commit(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings, partitions=2)

    async def produce() -> None:
        producer = AIOKafkaProducer(**aiokafka_producer_config(kafka_settings))
        await producer.start()
        try:
            for i in range(4):
                await producer.send_and_wait(topic, key=f"k{i}".encode(), value=f"a{i}".encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    group = f"g.{_suffix()}"
    consumer = KafkaConsumer(
        topic, **consumer_config(kafka_settings, group_id=group), consumer_timeout_ms=20_000
    )
    values = []
    for message in consumer:
        values.append(message.value)
        if len(values) == 4:
            break
    consumer.commit()
    committed = sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(2))
    consumer.close()
    assert sorted(values) == [f"a{i}".encode() for i in range(4)]
    assert committed == 4


async def test_faust_agent_consumes_a_record(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    import faust

    topic_name = _topic(kafka_settings, partitions=1)
    producer = KafkaProducer(**producer_config(kafka_settings))
    producer.send(topic_name, key=b"id-1", value=b"hello faust").get(timeout=30)
    producer.close()

    app = faust.App(
        f"test-broker-{_suffix()}",
        **faust_app_config(kafka_settings),
        store="memory://",
        web_enabled=False,
        datadir=str(tmp_path / "faust"),
        topic_partitions=1,
    )
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @app.agent(app.topic(topic_name, value_serializer="raw"))
    async def collect(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            if not received.done():
                received.set_result(value)

    await app.start()
    try:
        assert await asyncio.wait_for(received, timeout=90) == b"hello faust"
    finally:
        await app.stop()
