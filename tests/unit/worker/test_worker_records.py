"""Decoding, dead letters, resilient batch classification, severity, lag and metrics (no broker)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from worker_fakes import KeywordClassifier, make_article

from newswatch.contracts import validate_record
from newswatch.worker.batch import classify_resilient, split
from newswatch.worker.deadletter import SourceRecord, dead_letter, decode_article
from newswatch.worker.errors import (
    ModelFailedError,
    RecordDecodeError,
    RecordRejectedError,
    RecordSchemaError,
    RecordTooLargeError,
)
from newswatch.worker.lag import LagTracker
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.policy import FailurePolicy
from newswatch.worker.settings import AlertPolicy
from newswatch.worker.severity import severity_for

NOW = datetime(2024, 1, 1, tzinfo=UTC)
POLICY = FailurePolicy()


def article_bytes(**fields: object) -> bytes:
    data = make_article().model_dump(mode="json")
    data.update(fields)
    return json.dumps(data).encode()


def test_decode_valid_article() -> None:
    article = decode_article(article_bytes(), max_bytes=10_000)
    assert article.id == "a1"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (None, RecordDecodeError),
        (b"\xff\xfe not utf-8", RecordDecodeError),
        (b"{not json", RecordDecodeError),
        (b"[" * 9_000, RecordDecodeError),
        (b'"just a string"', RecordSchemaError),
        (json.dumps({"id": "x"}).encode(), RecordSchemaError),
        (article_bytes(published_at="yesterday"), RecordSchemaError),
        (article_bytes(extra_field=1), RecordSchemaError),
        (b" " * 20_000, RecordTooLargeError),
    ],
)
def test_decode_rejects_with_a_reason(raw: bytes | None, error: type[RecordRejectedError]) -> None:
    with pytest.raises(error):
        decode_article(raw, max_bytes=10_000)


def test_dead_letter_keeps_source_and_truncated_original() -> None:
    source = SourceRecord("news.articles.v1", 2, 41, b"k1", b"x" * 100)
    letter = dead_letter(source, RecordTooLargeError("too big"), failed_at=NOW, max_original_bytes=10)
    record = letter.model_dump(mode="json")
    validate_record("deadletter", record)
    assert record["reason"] == "payload_too_large"
    assert (record["topic"], record["partition"], record["offset"]) == ("news.articles.v1", 2, 41)
    assert base64.b64decode(record["original_value_b64"]) == b"x" * 10
    assert base64.b64decode(record["original_key_b64"]) == b"k1"
    assert record["original_size_bytes"] == 100
    assert "truncated" in record["error"]


def test_dead_letter_of_an_unexpected_error_is_other() -> None:
    letter = dead_letter(SourceRecord("t", 0, 0, None, None), ValueError("boom"), failed_at=NOW)
    assert (letter.reason, letter.original_value_b64, letter.original_key_b64) == ("other", "", None)


def test_classify_resilient_isolates_the_failing_articles(classifier: KeywordClassifier) -> None:
    articles = [make_article(f"a{i}", "POISON" if i in (2, 5) else "Troops left Mali") for i in range(8)]
    results = classify_resilient(classifier, articles, POLICY)
    failed = [i for i, r in enumerate(results) if isinstance(r, ModelFailedError)]
    assert failed == [2, 5]
    assert [r.article_id for r in results if not isinstance(r, ModelFailedError)] == [
        f"a{i}" for i in (0, 1, 3, 4, 6, 7)
    ]
    assert classifier.calls[0] == 8


def test_classify_resilient_turns_base_exceptions_and_bad_answers_into_failures() -> None:
    class Panicking(KeywordClassifier):
        def classify(self, articles):  # type: ignore[no-untyped-def]
            raise BaseException("pyo3 panic")

    class Short(KeywordClassifier):
        def classify(self, articles):  # type: ignore[no-untyped-def]
            return super().classify(articles)[:-1]

    for clf in (Panicking(), Short()):
        results = classify_resilient(clf, [make_article("a"), make_article("b")], POLICY)
        assert all(isinstance(r, ModelFailedError) for r in results)
    assert classify_resilient(KeywordClassifier(), [], POLICY) == []


def test_classify_resilient_bisects_so_one_bad_article_costs_log_n_calls(
    classifier: KeywordClassifier,
) -> None:
    articles = [make_article(f"a{i}", "POISON" if i == 5 else "Weather") for i in range(8)]
    results = classify_resilient(classifier, articles, POLICY)
    assert [i for i, r in enumerate(results) if isinstance(r, ModelFailedError)] == [5]
    assert classifier.calls == [8, 4, 4, 2, 1, 1, 2]  # halves down to the poison one, 7 calls for 8


@pytest.mark.parametrize(
    ("items", "parts", "expected"),
    [
        ([1, 2, 3], 2, [[1], [2, 3]]),
        ([1, 2, 3, 4], 2, [[1, 2], [3, 4]]),
        ([1, 2, 3], 3, [[1], [2], [3]]),
        ([1, 2], 5, [[1], [2]]),
        ([1, 2, 3], 1, [[1, 2, 3]]),
    ],
)
def test_split_keeps_order_and_puts_the_larger_groups_last(
    items: list[int], parts: int, expected: list[list[int]]
) -> None:
    assert [list(g) for g in split(items, parts)] == expected


def test_the_classifier_copies_the_article_fields(classifier: KeywordClassifier) -> None:
    article = make_article()
    record = classifier.classify([article])[0]
    validate_record("classification", record.model_dump(mode="json"))
    assert (record.url, record.title, record.outlet, record.published_at, record.fetched_at) == (
        article.url,
        article.title,
        article.outlet,
        article.published_at,
        article.fetched_at,
    )
    assert record.language == "en" and record.classified_at is not None


@pytest.mark.parametrize(
    ("probability", "outlets", "expected"),
    [(0.95, 1, "urgent"), (0.95, 3, "flash"), (0.75, 2, "urgent"), (0.75, 5, "urgent"), (0.6, 9, "routine")],
)
def test_severity(probability: float, outlets: int, expected: str) -> None:
    assert severity_for(probability, outlets=outlets, policy=AlertPolicy()) == expected


def test_lag_uses_processed_position_then_fallback() -> None:
    tracker = LagTracker()
    tracker.processed("t", 0, offset=41)
    tracker.processed("t", 0, offset=3)
    ends = {("t", 0): 50, ("t", 1): 10, ("t", 2): 5}
    assert tracker.lag(ends, fallback={("t", 1): 4, ("t", 0): 0}) == {("t", 0): 8, ("t", 1): 6}
    tracker.forget([("t", 0)])
    assert tracker.position(("t", 0)) is None
    assert tracker.lag({("t", 1): 3}, fallback={("t", 1): 4}) == {("t", 1): 0}


def test_metrics_are_named_and_preinitialised() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry=registry)
    metrics.set_info(model_version="m1", app_version="0.1.0")
    sample = registry.get_sample_value
    assert sample("newswatch_worker_articles_consumed_total") == 0
    assert sample("newswatch_worker_deadletters_total", {"reason": "model_error"}) == 0
    labels = {"event_type": "coup", "severity": "flash", "status": "new"}
    assert sample("newswatch_worker_alerts_total", labels) == 0
    assert sample("newswatch_worker_info", {"model_version": "m1", "app_version": "0.1.0"}) == 1
    assert sample("newswatch_worker_ingested_to_alert_seconds_count", {"event_type": "coup"}) == 0
    assert sample("newswatch_worker_batch_size_count") == 0
    names = {m.name for m in registry.collect()}
    assert names >= {
        "newswatch_worker_articles_classified",
        "newswatch_worker_inference_duration_seconds",
        "newswatch_worker_consumer_lag_messages",
        "newswatch_worker_published_to_alert_seconds",
        "newswatch_worker_ingested_to_classified_seconds",
    }
