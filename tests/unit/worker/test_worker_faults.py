"""Broker and classifier faults in the worker's handlers (no broker: a fake producer stands in for faust's).

Kafka refusing an output for good, faust's ``ProducerSendError``, a classifier that hangs, and a record that
was in flight when worker processes died."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from prometheus_client import CollectorRegistry
from worker_fakes import KeywordClassifier, article_source, candidate_source, make_article, make_worker

from newswatch.contracts import Article, Classification
from newswatch.settings import Settings
from newswatch.worker.app import WorkerApp
from newswatch.worker.deadletter import SourceRecord
from newswatch.worker.inflight import InflightLedger
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.settings import WorkerSettings

T0 = datetime(2022, 8, 15, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize("at_send", [True, False], ids=["ProducerSendError", "ack-error"])
async def test_an_alert_kafka_refuses_for_good_is_not_marked_emitted(
    tmp_path: Path, classifier: KeywordClassifier, at_send: bool
) -> None:
    worker, producer, store = make_worker(classifier, tmp_path)
    alerts = worker._names["alerts_topic"]
    producer.refuse[alerts] = (MessageSizeTooLargeError(), at_send, 1)
    source = candidate_source()
    await worker.process_candidate(source)  # no crash
    assert producer.values(alerts) == []
    [letter] = producer.values(worker._names["deadletter_topic"])
    assert (letter["reason"], letter["topic"], letter["offset"]) == ("delivery_failed", source.topic, 0)
    state = json.loads(next(v for k, v in store.items() if k.startswith("a|")))
    assert state["emitted_version"] == 0, "marked emitted although Kafka never acknowledged it"
    await worker.process_candidate(source)  # the replay re-sends the alert that was never acknowledged
    [alert] = producer.values(alerts)
    assert (alert["status"], alert["version"]) == ("new", 1)


async def test_a_retriable_error_wrapped_by_faust_is_retried_until_acknowledged(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    alerts = worker._names["alerts_topic"]
    producer.refuse[alerts] = (KafkaTimeoutError(), True, 1)
    await worker.process_candidate(candidate_source())
    assert [a["version"] for a in producer.values(alerts)] == [1]
    assert producer.values(worker._names["deadletter_topic"]) == []


async def test_a_classification_refused_at_send_dead_letters_its_article(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    classified = worker._names["classified_topic"]
    producer.refuse[classified] = (MessageSizeTooLargeError(), True, 1)
    sources = [article_source(i, make_article(f"a{i}", "Troops left Mali")) for i in range(2)]
    outgoing = await worker.prepare_batch(sources)
    refused = await worker._publish(outgoing)
    assert [m.topic for m in refused] == [classified]
    assert [r["article_id"] for r in producer.values(classified)] == ["a1"]
    [letter] = producer.values(worker._names["deadletter_topic"])
    assert (letter["reason"], letter["offset"]) == ("delivery_failed", 0)


class HangingClassifier(KeywordClassifier):
    """Blocks on any batch holding a 'HANG' title until released (a stuck tokenizer)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def classify(self, articles: Sequence[Article]) -> list[Classification]:
        if any("HANG" in a.title for a in articles):
            self.release.wait()
        return super().classify(articles)


async def test_a_classifier_call_past_the_timeout_dead_letters_only_the_hanging_article(
    tmp_path: Path,
) -> None:
    classifier = HangingClassifier()
    worker, _, _ = make_worker(classifier, tmp_path, classify_timeout_seconds=0.2)
    titles = ["Troops left Mali", "HANG", "Weather"]
    sources = [article_source(i, make_article(f"a{i}", t)) for i, t in enumerate(titles)]
    try:
        outgoing = await worker.prepare_batch(sources)
    finally:
        classifier.release.set()
    letters = [json.loads(m.value) for m in outgoing if m.topic == worker._names["deadletter_topic"]]
    assert [(d["offset"], d["reason"]) for d in letters] == [(1, "model_error")]
    assert "timed out" in letters[0]["error"]
    classified = [json.loads(m.value) for m in outgoing if m.topic == worker._names["classified_topic"]]
    assert sorted(c["article_id"] for c in classified) == ["a0", "a2"]


def test_the_ledger_keeps_what_was_in_flight_when_the_process_died(tmp_path: Path) -> None:
    source = SourceRecord("t", 0, 7, None, b"x")
    done = SourceRecord("t", 0, 6, None, b"x")
    first = InflightLedger.open(tmp_path)
    first.begin([done])
    first.end([done])
    first.begin([source])  # the process dies here
    taken = InflightLedger.open(tmp_path)  # the dead process's slot is still locked: another slot
    assert taken.attempts(source) == 0
    first.close()  # the lock goes with the process
    restarted = InflightLedger.open(tmp_path)
    assert (restarted.attempts(source), restarted.attempts(done)) == (1, 0)
    for ledger in (taken, restarted):
        ledger.close()


async def test_a_record_in_flight_at_repeated_deaths_is_dead_lettered_and_a_suspect_classified_alone(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, _, _ = make_worker(classifier, tmp_path, max_classify_attempts=3)
    sources = [article_source(i, make_article(f"a{i}", "Troops left Mali")) for i in range(4)]
    dead = InflightLedger.open(tmp_path)
    for _ in range(3):
        dead.begin([sources[0]])
    dead.begin([sources[1]])
    dead.close()
    worker._ledger = InflightLedger.open(tmp_path)
    outgoing = await worker.prepare_batch(sources)
    letters = [json.loads(m.value) for m in outgoing if m.topic == worker._names["deadletter_topic"]]
    assert [(d["offset"], d["reason"]) for d in letters] == [(0, "model_error")]
    classified = {json.loads(m.value)["article_id"] for m in outgoing if m.topic.endswith("classified.v1")}
    assert classified == {"a1", "a2", "a3"}
    assert classifier.calls == [2, 1]  # the suspect alone, after the others
    worker._ledger.close()
    after = InflightLedger.open(tmp_path)  # what the next process finds: the suspect was cleared
    assert (after.attempts(sources[0]), after.attempts(sources[1])) == (3, 0)  # the poison one stays known
    after.close()


async def test_the_worker_producer_is_idempotent(tmp_path: Path, classifier: KeywordClassifier) -> None:
    settings = Settings(state_dir=tmp_path)
    worker = WorkerApp(settings, classifier, WorkerMetrics(registry=CollectorRegistry()))
    client = worker.app.producer._new_producer()  # type: ignore[attr-defined]  # the aiokafka producer faust starts
    try:
        manager = client._txn_manager  # aiokafka keeps the producer id and sequence numbers here
        assert manager is not None, "enable_idempotence is off"
        assert manager.transactional_id is None  # idempotent, not transactional
    finally:
        await client.client.close()


def test_the_consumer_reads_a_backlog_ahead_in_small_fetches(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    """A 1 MB fetch per articles partition (faust's default) queued thousands of backlog articles ahead of
    the candidates fetched after them: no alert until the backlog was nearly read (the backlog bench)."""
    worker = WorkerApp(Settings(state_dir=tmp_path), classifier, WorkerMetrics(registry=CollectorRegistry()))
    assert worker.app.conf.consumer_max_fetch_size == WorkerSettings().fetch_partition_bytes <= 65_536
    custom = Settings(state_dir=tmp_path, worker=WorkerSettings(fetch_partition_bytes=4096))
    assert (
        WorkerApp(
            custom, classifier, WorkerMetrics(registry=CollectorRegistry())
        ).app.conf.consumer_max_fetch_size
        == 4096
    )
