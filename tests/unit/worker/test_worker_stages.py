"""The worker's pipeline without a broker: decode -> classify -> records (``prepare_batch``), publish
(``_publish``), acknowledge (``_handle_batch``) and the alert stage (``process_candidate``).

Fakes stand in for faust's producer and stream and for the model (worker_fakes.py); what needs a real broker
(faust's consumer, commits, rebalances, the changelog) is tested in tests/e2e."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError
from worker_fakes import (
    FakeStream,
    KeywordClassifier,
    article_source,
    candidate_source,
    events_of,
    make_article,
    make_candidate,
    make_worker,
    values,
)

from newswatch.contracts import Article, Classification, validate_record
from newswatch.worker.app import WorkerApp, _Outgoing
from newswatch.worker.errors import RecordDecodeError
from newswatch.worker.policy import Action, Decision, FailurePolicy, Stage

FAST = FailurePolicy(backoff_initial_seconds=0.01, backoff_max_seconds=0.02)


def _by_topic(worker: WorkerApp, outgoing: Sequence[_Outgoing], name: str) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in outgoing if m.topic == worker._names[name]]


def _counter(worker: WorkerApp, name: str, **labels: str) -> float:
    value = worker.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- prepare_batch: decode -> classify -> records ---------------------------------------------------------
async def test_a_mixed_batch_gives_every_record_exactly_one_outcome(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, _, _ = make_worker(classifier, tmp_path, max_record_bytes=10_000)
    event = make_article("ev", "France says last Barkhane soldiers have left Mali", summary="MINUSMA too")
    sources = [
        article_source(0, event),
        article_source(1, value=b"\xff\xfe not utf-8"),
        article_source(2, make_article("calm", "Weather: sunny spells")),
        article_source(3, value=None),  # a tombstone
        article_source(4, value=b'{"id": "x"}'),
        article_source(5, value=b"[" * 20_000),
        article_source(6, make_article("bad", "POISON headline")),
    ]
    outgoing = await worker.prepare_batch(sources)

    letters = _by_topic(worker, outgoing, "deadletter_topic")
    assert [(d["offset"], d["reason"]) for d in letters] == [
        (1, "decode_error"),
        (3, "decode_error"),
        (4, "schema_invalid"),
        (5, "payload_too_large"),
        (6, "model_error"),
    ]
    classified = _by_topic(worker, outgoing, "classified_topic")
    assert [c["article_id"] for c in classified] == ["ev", "calm"]
    for record in classified:
        validate_record("classification", record)
    assert classified[0]["url"] == event.url and classified[0]["title"] == event.title
    candidates = [m for m in outgoing if m.topic == worker._names["candidates_topic"]]
    assert [(m.key, m.source) for m in candidates] == [
        (b"military_withdrawal", sources[0]),
        (b"peacekeeping_change", sources[0]),
    ]
    for message in candidates:
        validate_record("candidate", json.loads(message.value))
    assert _counter(worker, "newswatch_worker_articles_consumed_total") == 7
    assert _counter(worker, "newswatch_worker_articles_classified_total") == 2
    assert _counter(worker, "newswatch_worker_deadletters_total", reason="decode_error") == 2


async def test_a_classification_missing_its_article_fields_dead_letters_only_that_article(
    tmp_path: Path,
) -> None:
    class Careless(KeywordClassifier):
        def classify(self, articles: Sequence[Article]) -> list[Classification]:
            return [
                c.model_copy(update={"url": None}) if "drop url" in a.title else c
                for a, c in zip(articles, super().classify(articles), strict=True)
            ]

    worker, _, _ = make_worker(Careless(), tmp_path)
    sources = [
        article_source(0, make_article("a0", "Troops left Mali, drop url")),
        article_source(1, make_article()),
    ]
    outgoing = await worker.prepare_batch(sources)
    [letter] = _by_topic(worker, outgoing, "deadletter_topic")
    assert (letter["offset"], letter["reason"]) == (0, "model_error")
    assert "lacks its article's fields" in letter["error"]
    assert [c["article_id"] for c in _by_topic(worker, outgoing, "classified_topic")] == ["a1"]


async def test_the_pipeline_carries_out_the_policy_it_is_given(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    class Strict(FailurePolicy):
        """Crash on bad input instead of dead-lettering it (as Quix Streams' default callbacks do)."""

        def decide(self, stage: Stage, error: BaseException, **context: Any) -> Decision:
            if stage is Stage.DECODE:
                return Decision(Action.RAISE)
            return super().decide(stage, error, **context)

    worker, _, _ = make_worker(classifier, tmp_path, policy=Strict())
    with pytest.raises(RecordDecodeError):
        await worker.prepare_batch([article_source(0, make_article()), article_source(1, value=b"nope")])

    class Dropping(FailurePolicy):
        def decide(self, stage: Stage, error: BaseException, **context: Any) -> Decision:
            if stage is Stage.DECODE:
                return Decision(Action.DROP)
            return super().decide(stage, error, **context)

    worker, _, _ = make_worker(classifier, tmp_path, policy=Dropping())
    outgoing = await worker.prepare_batch([article_source(0, make_article()), article_source(1, value=b"no")])
    assert [m.topic for m in outgoing] == [
        worker._names["classified_topic"],
        worker._names["candidates_topic"],
    ]


async def test_a_failing_batch_is_bisected_on_the_inference_thread(tmp_path: Path) -> None:
    classifier = KeywordClassifier()
    worker, _, _ = make_worker(classifier, tmp_path)
    titles = ["Weather"] * 3 + ["POISON"] + ["Weather"] * 4
    sources = [article_source(i, make_article(f"a{i}", t)) for i, t in enumerate(titles)]
    outgoing = await worker.prepare_batch(sources)
    assert [d["offset"] for d in _by_topic(worker, outgoing, "deadletter_topic")] == [3]
    assert len(_by_topic(worker, outgoing, "classified_topic")) == 7
    assert classifier.calls[0] == 8 and len(classifier.calls) == 7


# -- _publish: produce, wait for the acks, failures to the policy -----------------------------------------
async def test_publish_retries_what_kafka_did_not_acknowledge_and_keeps_the_order(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path, policy=FAST)
    classified = worker._names["classified_topic"]
    producer.refuse[classified] = (NotLeaderForPartitionError(), False, 3)  # 3 acks fail: v0, v1, then v0
    messages = [_Outgoing(classified, f"a{i}".encode(), f"v{i}".encode()) for i in range(2)]
    assert await worker._publish(messages) == []
    assert [v for t, _, v in producer.acked if t == classified] == [
        b"v1",
        b"v0",
    ]  # v1 on the 2nd try, v0 on the 3rd
    assert values(producer, worker._names["deadletter_topic"]) == []


async def test_publish_waits_through_a_broker_outage_without_dropping(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path, policy=FAST)
    classified = worker._names["classified_topic"]
    producer.refuse[classified] = (KafkaTimeoutError(), True, 6)  # faust raises at send, six times
    message = _Outgoing(classified, b"a0", b"v0", article_source(0, make_article("a0")))
    assert await worker._publish([message]) == []
    assert producer.acked == [(classified, b"a0", b"v0")]


async def test_publish_dead_letters_a_source_once_however_many_of_its_outputs_are_refused(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    candidates = worker._names["candidates_topic"]
    producer.refuse[candidates] = (MessageSizeTooLargeError(), False, None)
    source = article_source(0, make_article("ev", "France leaves Mali and MINUSMA"))
    outgoing = await worker.prepare_batch([source])
    assert sum(m.topic == candidates for m in outgoing) == 2
    refused = await worker._publish(outgoing)
    assert [m.topic for m in refused] == [candidates, candidates]
    [letter] = values(producer, worker._names["deadletter_topic"])
    assert (letter["reason"], letter["offset"]) == ("delivery_failed", 0)
    assert "refused it" in letter["error"]
    assert _counter(worker, "newswatch_worker_deadletters_total", reason="delivery_failed") == 1


async def test_a_dead_letter_kafka_refuses_for_good_is_dropped_not_retried(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    deadletters = worker._names["deadletter_topic"]
    producer.refuse[deadletters] = (MessageSizeTooLargeError(), True, None)
    letter = _Outgoing(deadletters, b"k", b"v", deadletter=True)
    assert await asyncio.wait_for(worker._publish([letter]), 5) == [letter]
    assert producer.acked == []


# -- _handle_batch: acknowledge only what Kafka acknowledged, in batch order --------------------------------
async def test_a_batch_is_acked_only_after_kafka_acknowledged_all_its_outputs(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    stream = FakeStream()
    sources = [article_source(i, make_article(f"a{i}", "Troops left Mali")) for i in range(3)]
    producer.hold()
    task = asyncio.ensure_future(worker._handle_batch(stream, events_of(sources), None))
    for _ in range(50):
        await asyncio.sleep(0.01)
        if producer.held:
            break
    assert producer.held and stream.acked == []  # produced, not acknowledged: nothing acked
    producer.release()
    await asyncio.wait_for(task, 5)
    assert stream.acked == [0, 1, 2]
    assert {r["article_id"] for r in values(producer, worker._names["classified_topic"])} == {
        "a0",
        "a1",
        "a2",
    }


async def test_a_batch_publishes_only_after_the_batch_before_it_is_acknowledged(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    stream = FakeStream()
    first = [article_source(i, make_article(f"a{i}", "Weather")) for i in range(2)]
    second = [article_source(i, make_article(f"a{i}", "Weather")) for i in range(2, 4)]
    producer.hold()
    task1 = asyncio.ensure_future(worker._handle_batch(stream, events_of(first), None))
    task2 = asyncio.ensure_future(worker._handle_batch(stream, events_of(second), task1))
    await asyncio.sleep(0.2)  # batch 2 is classified meanwhile, but waits for batch 1
    assert producer.held is not None and len(producer.held) == 2 and stream.acked == []
    producer.release()  # batch 1's acks
    await asyncio.wait_for(task1, 5)
    assert stream.acked == [0, 1]
    for _ in range(50):
        await asyncio.sleep(0.01)
        if stream.acked == [0, 1, 2, 3]:
            break
    await asyncio.wait_for(task2, 5)
    assert stream.acked == [0, 1, 2, 3]


async def test_a_batch_whose_publish_crashes_is_not_acked(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    class Crashing(FailurePolicy):
        def decide(self, stage: Stage, error: BaseException, **context: Any) -> Decision:
            return (
                Decision(Action.RAISE) if stage is Stage.PUBLISH else super().decide(stage, error, **context)
            )

    worker, producer, _ = make_worker(classifier, tmp_path, policy=Crashing())
    producer.refuse[worker._names["classified_topic"]] = (KafkaTimeoutError(), False, 1)
    stream = FakeStream()
    with pytest.raises(Exception, match="did not acknowledge"):
        await worker._handle_batch(stream, events_of([article_source(0, make_article())]), None)
    assert stream.acked == []


# -- process_candidate: decode -> alert table -> publish -> mark emitted ------------------------------------
async def test_a_candidate_opens_an_alert_after_the_changelog_is_flushed(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, store = make_worker(classifier, tmp_path)
    await worker.process_candidate(candidate_source(0))
    alerts = worker._names["alerts_topic"]
    assert producer.events == ["flush", f"send {alerts}"]
    [alert] = values(producer, alerts)
    validate_record("alert", alert)
    assert (alert["status"], alert["version"], alert["source_count"]) == ("new", 1, 1)
    state = json.loads(next(v for k, v in store.items() if k.startswith("a|")))
    assert state["emitted_version"] == 1
    assert (
        _counter(
            worker,
            "newswatch_worker_alerts_total",
            event_type="military_withdrawal",
            severity="urgent",
            status="new",
        )
        == 1
    )


async def test_a_redelivered_candidate_sends_nothing_and_a_second_outlet_updates(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, _ = make_worker(classifier, tmp_path)
    now = datetime.now(UTC)  # within the alerts' retention
    times = {"published_at": now - timedelta(hours=2), "fetched_at": now - timedelta(hours=1)}
    first = make_candidate("afp-1", classified_at=now, **times).model_dump_json().encode()
    await worker.process_candidate(candidate_source(0, value=first))
    await worker.process_candidate(candidate_source(0, value=first))  # the same article again (a replay)
    second = make_candidate("rfi-1", outlet="RFI", url="https://rfi.example/1", classified_at=now, **times)
    await worker.process_candidate(candidate_source(1, value=second.model_dump_json().encode()))
    alerts = values(producer, worker._names["alerts_topic"])
    assert [(a["version"], a["status"], a["source_count"]) for a in alerts] == [
        (1, "new", 1),
        (2, "update", 2),
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "schema_invalid"),
        (b'{"event_type": "coup"}', "schema_invalid"),
        (None, "schema_invalid"),
    ],
)
async def test_an_invalid_candidate_is_dead_lettered_and_the_table_left_alone(
    tmp_path: Path, classifier: KeywordClassifier, value: bytes | None, reason: str
) -> None:
    worker, producer, store = make_worker(classifier, tmp_path)
    source = candidate_source(7)
    await worker.process_candidate(type(source)(source.topic, source.partition, 7, source.key, value))
    [letter] = values(producer, worker._names["deadletter_topic"])
    assert (letter["reason"], letter["offset"], letter["topic"]) == (reason, 7, source.topic)
    assert store == {} and values(producer, worker._names["alerts_topic"]) == []


async def test_unreadable_alert_state_dead_letters_the_candidate(
    tmp_path: Path, classifier: KeywordClassifier
) -> None:
    worker, producer, store = make_worker(classifier, tmp_path)
    store["g|military_withdrawal"] = "{not json"
    await worker.process_candidate(candidate_source(3))
    [letter] = values(producer, worker._names["deadletter_topic"])
    assert (letter["reason"], letter["offset"]) == ("other", 3)
    assert "AlertStateError" in letter["error"]
    assert values(producer, worker._names["alerts_topic"]) == []
