"""The local broker on a real Kafka: lifecycle, CLI, topics, the topic reader, kafka-python and faust."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from tests.conftest import UniqueTopics

from newswatch.broker.clients import faust_app_config, kafka_admin, kafka_consumer, kafka_producer
from newswatch.broker.local import LocalKafka, free_port, probe_broker
from newswatch.broker.main import EXIT_STOPPED, run_kafka, run_topics
from newswatch.broker.reading import TopicReader, TopicReadTimeoutError, read_all, read_to_end
from newswatch.broker.topics import TopicSpec, declared_topics, describe_topics, ensure_topics
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

    admin = kafka_admin(settings)
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
    producer = kafka_producer(settings)
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


def test_kafka_python_consumer_group_commits_what_it_read(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings, partitions=2)
    producer = kafka_producer(kafka_settings)
    for i in range(4):
        producer.send(topic, key=f"k{i}".encode(), value=f"a{i}".encode())
    producer.flush()
    producer.close()
    group = f"g.{_suffix()}"
    consumer = kafka_consumer(kafka_settings, topic, group_id=group, consumer_timeout_ms=20_000)
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
    # The group's committed offsets cover everything: a new member of the group sees nothing again.
    again = kafka_consumer(kafka_settings, topic, group_id=group, consumer_timeout_ms=3_000)
    assert [m.value for m in again] == []
    again.close()


def _produce(settings: KafkaSettings, topic: str, records: list[tuple[int, bytes, bytes]]) -> None:
    producer = kafka_producer(settings)
    for partition, key, value in records:
        producer.send(topic, key=key, value=value, partition=partition, headers=[("h", b"1")])
    producer.flush()
    producer.close()


def test_read_to_end_reads_every_partition_up_to_its_end_at_the_start(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings, partitions=3)
    records = [(p, f"k{p}{i}".encode(), f"v{p}{i}".encode()) for p in range(3) for i in range(4)]
    records.append((1, b"x", b""))
    _produce(kafka_settings, topic, records)
    read = read_to_end(kafka_settings, topic, timeout_s=30)
    assert [(r.partition, r.key, r.value) for r in read] == sorted(records)
    assert [r.offset for r in read if r.partition == 1] == list(range(5))
    assert read[0].headers == (("h", b"1"),) and read[0].timestamp_ms > 0
    assert read_to_end(kafka_settings, topic) == read  # group-less: nothing committed, read again whole


def test_read_to_end_of_an_empty_or_missing_topic_is_empty_at_once(kafka_settings: KafkaSettings) -> None:
    empty = _topic(kafka_settings, partitions=2)
    missing = f"test.missing.{_suffix()}"
    started = time.monotonic()
    assert read_to_end(kafka_settings, empty, timeout_s=0) == []
    assert read_to_end(kafka_settings, missing, timeout_s=0) == []
    assert time.monotonic() - started < 15
    with TopicReader(kafka_settings, [missing]) as reader:
        assert reader.poll(200) == []
    missing_spec = TopicSpec(missing, 1, 1)
    assert describe_topics(kafka_settings, [missing_spec])[0].partitions is None  # reading did not create it


def test_read_to_end_raises_with_what_it_read_when_time_runs_out(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings, partitions=2)
    _produce(kafka_settings, topic, [(p, b"k", b"v" * 100) for p in range(2) for _ in range(50)])
    started = time.monotonic()
    with pytest.raises(TopicReadTimeoutError, match=f"not at the end of {topic}/") as caught:
        read_to_end(kafka_settings, topic, timeout_s=0)
    assert time.monotonic() - started < 15 and caught.value.records == []
    assert len(read_to_end(kafka_settings, topic, timeout_s=30)) == 100


def test_reader_follows_on_after_the_end_without_losing_a_record(kafka_settings: KafkaSettings) -> None:
    topic = _topic(kafka_settings, partitions=2)
    _produce(kafka_settings, topic, [(0, b"old", b"0"), (1, b"old", b"1")])
    with TopicReader(kafka_settings, [topic]) as reader:
        _produce(kafka_settings, topic, [(0, b"new", b"2"), (1, b"new", b"3")])  # after the end was noted
        backlog = reader.read_to_end(timeout_s=30)
        assert sorted(r.value for r in backlog) == [b"0", b"1"]
        fresh: list[bytes | None] = []
        deadline = time.monotonic() + 30
        while len(fresh) < 2 and time.monotonic() < deadline:
            fresh.extend(r.value for r in reader.poll(500))
        assert sorted(fresh) == [b"2", b"3"]
    with TopicReader(kafka_settings, [topic], start="end") as tail:
        assert tail.read_to_end(timeout_s=0) == [] and tail.poll(1_000) == []


async def test_faust_agent_consumes_a_record(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    import faust

    topic_name = _topic(kafka_settings, partitions=1)
    producer = kafka_producer(kafka_settings)
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
