"""The whole worker on the real broker: seed article and friends in, the expected alerts out exactly once;
five outlets make one alert; poison records are dead-lettered and later records still processed; /metrics."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import (
    Pipeline,
    Worker,
    article,
    filler_articles,
    kherson_articles,
    negative_articles,
    seed_article,
)
from prometheus_client.parser import text_string_to_metric_families

from newswatch.contracts import validate_record

TOKENIZER_POISON = {
    "tok-control": ("\x00\x01\x1b[31m\x7f" * 200, "\x00" * 5000),
    "tok-combining": ("Breaking", "Z" + "\u0301" * 15_000),
    "tok-rtl-emoji": ("\u202e" + "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 300, "\ufeff" * 3000),
}


@dataclass
class Run:
    pipe: Pipeline
    worker: Worker
    valid_ids: set[str]
    tokenizer_ids: set[str]
    bad_offsets: dict[str, str]


def _poison(pipe: Pipeline) -> dict[str, str]:
    """Publish poison records; return expected dead-letter reason by record key."""
    good = json.loads(article("x", "x").model_dump_json())
    wrong_schema = {k: v for k, v in good.items() if k != "title"} | {"id": "bad-schema", "extra": True}
    surrogate = json.dumps(good | {"id": "bad-surrogate", "title": "Troops \ud800 left"}).encode()
    huge = json.dumps(good | {"id": "bad-huge", "summary": "x" * (10 * 1024 * 1024)}).encode()
    records = {
        "bad-json": (b'{"id": "bad-json", "title": ', "decode_error"),
        "bad-binary": (b"\xff\xfe\x00garbage", "decode_error"),
        "bad-schema": (json.dumps(wrong_schema).encode(), "schema_invalid"),
        "bad-surrogate": (surrogate, "schema_invalid"),
        "bad-huge": (huge, "payload_too_large"),
    }
    for key, (value, _) in records.items():
        pipe.publish_raw(key.encode(), value)
    return {key: reason for key, (_, reason) in records.items()}


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    pipe = Pipeline(kafka_bootstrap, Path(tmp_path_factory.mktemp("pipeline")))
    try:
        before = [seed_article(), *negative_articles(), *kherson_articles()]
        pipe.publish(before)
        bad = _poison(pipe)
        tokenizer = [article(i, t, s) for i, (t, s) in TOKENIZER_POISON.items()]
        tokenizer.append(article("tok-longword", "Long word", "", content="a" * 199_000))
        pipe.publish(tokenizer)
        after = filler_articles(6, prefix="after")
        pipe.publish(after)
        worker = pipe.start_worker()
        valid = {a.id for a in before + after}
        pipe.wait_classified(valid)
        tokenizer_ids = {a.id for a in tokenizer}

        def settled() -> bool:
            done = pipe.classified_ids() | {_key(d) for d in pipe.records("deadletter")}
            return tokenizer_ids | set(bad) <= done

        pipe.wait_for("poison outcomes", settled)
        run = Run(pipe, worker, valid, tokenizer_ids, bad)
        pipe.wait_for("every partition processed (lag 0)", lambda: _lag_settled(run), timeout=60)
        yield run
    finally:
        pipe.close()


def _key(letter: dict[str, Any]) -> str:
    return base64.b64decode(letter["original_key_b64"] or "").decode(errors="replace")


def test_seed_and_friends_yield_the_expected_alerts_exactly_once(run: Run) -> None:
    alerts = run.pipe.records("alerts")
    for alert in alerts:
        validate_record("alert", alert)
    opened = [a for a in alerts if a["status"] == "new"]
    assert len({a["alert_id"] for a in opened}) == len(opened), "an alert id was opened twice"
    seed_alerts = {a["event_type"] for a in alerts if "seed-barkhane-2022" in a["article_ids"]}
    assert seed_alerts == {"military_withdrawal", "peacekeeping_change"}
    assert not [a for a in alerts if a["event_type"] == "coup"]
    negatives = {"neg-football", "neg-brexit", "neg-weather"}
    assert not [a for a in alerts if negatives & set(a["article_ids"])]
    versions = Counter((a["alert_id"], a["version"]) for a in alerts)
    assert max(versions.values()) == 1, "an alert version was emitted twice in a clean run"
    classified = run.pipe.records("classified")
    assert Counter(r["article_id"] for r in classified if r["article_id"] in run.valid_ids) == Counter(
        {i: 1 for i in run.valid_ids}
    )
    seed = next(r for r in classified if r["article_id"] == "seed-barkhane-2022")
    validate_record("classification", seed)
    assert set(seed["labels"]) == {"military_withdrawal", "peacekeeping_change"}
    assert {"FR", "ML"} <= set(seed["countries"])


def test_five_outlets_make_one_alert_and_four_updates(run: Run) -> None:
    alerts = run.pipe.records("alerts")
    kherson = [a for a in alerts if any(i.startswith("kherson-") for i in a["article_ids"])]
    assert len({a["alert_id"] for a in kherson}) == 1
    assert sorted((a["status"], a["version"]) for a in kherson) == [
        ("new", 1),
        ("update", 2),
        ("update", 3),
        ("update", 4),
        ("update", 5),
    ]
    last = max(kherson, key=lambda a: a["version"])
    assert last["source_count"] == 5
    assert len(last["outlets"]) == 5 and len(last["links"]) == 5
    assert last["event_type"] == "military_withdrawal"
    assert {"RU", "UA"} & set(last["countries"])
    assert last["severity"] in ("flash", "urgent")


def test_poison_records_are_dead_lettered_and_later_records_processed(run: Run) -> None:
    letters = {_key(d): d for d in run.pipe.records("deadletter")}
    for letter in letters.values():
        validate_record("deadletter", letter)
        assert letter["topic"] == run.pipe.topics["articles"] and letter["service"] == "worker"
    for key, reason in run.bad_offsets.items():
        assert letters[key]["reason"] == reason, key
    assert letters["bad-huge"]["original_size_bytes"] > 10 * 1024 * 1024
    assert base64.b64decode(letters["bad-json"]["original_value_b64"]) == b'{"id": "bad-json", "title": '
    classified = run.pipe.classified_ids()
    for item in run.tokenizer_ids:  # one outcome each: classified, or a model_error dead letter
        assert (item in classified) != (item in letters), item
        if item in letters:
            assert letters[item]["reason"] == "model_error"
    assert {f"after-{i}" for i in range(6)} <= classified


def test_metrics_are_served_with_sensible_values(run: Run) -> None:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(run.worker.scrape()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    def total(name: str, **match: str) -> float:
        found = [v for (n, lab), v in samples.items() if n == name and match.items() <= dict(lab).items()]
        return sum(found)

    records = len(run.valid_ids) + len(run.tokenizer_ids) + len(run.bad_offsets)
    assert value("newswatch_worker_articles_consumed_total") == records
    letters = run.pipe.records("deadletter")
    assert value("newswatch_worker_articles_classified_total") == records - len(letters)
    assert value("newswatch_worker_deadletters_total", reason="decode_error") == 2
    assert value("newswatch_worker_deadletters_total", reason="payload_too_large") == 1
    assert total("newswatch_worker_deadletters_total") == len(letters)
    alerts = run.pipe.records("alerts")
    assert total("newswatch_worker_alerts_total") == len(alerts)
    opened = [a for a in alerts if a["status"] == "new"]
    assert total("newswatch_worker_alerts_total", status="new") == len(opened)
    assert total("newswatch_worker_alerts_total", event_type="coup") == 0
    assert value("newswatch_worker_batch_size_sum") == records - len(letters) + total(
        "newswatch_worker_deadletters_total", reason="model_error"
    )
    assert value("newswatch_worker_inference_duration_seconds_count") >= 1
    assert value("newswatch_worker_ingested_to_classified_seconds_count") == records - len(letters)
    assert value("newswatch_worker_ingested_to_alert_seconds_count", event_type="military_withdrawal") >= 6
    assert value("newswatch_worker_published_to_alert_seconds_count", event_type="peacekeeping_change") >= 1
    # the classifier's own metrics, on the same endpoint: every article the worker classified went through
    # it (a batch that failed and was retried one by one is counted once per successful call)
    classified = value("newswatch_worker_articles_classified_total")
    assert total("newswatch_classifier_articles_total") >= classified > 0
    assert value("newswatch_classifier_articles_total", stage="scored") >= 1
    assert value("newswatch_classifier_articles_total", stage="screened_out") >= 1
    assert value("newswatch_classifier_positives_total", event_type="military_withdrawal") >= 6
    assert value("newswatch_classifier_positives_total", event_type="peacekeeping_change") >= 1
    assert value("newswatch_classifier_batch_duration_seconds_count") >= 1
    info = [labels for (n, labels), v in samples.items() if n == "newswatch_worker_info" and v == 1]
    assert len(info) == 1 and dict(info[0])["model_version"] and dict(info[0])["app_version"] == "0.1.0"
    assert _lag_settled(run)


def _lag_settled(run: Run) -> bool:
    lags = {}
    for family in text_string_to_metric_families(run.worker.scrape()):
        if family.name == "newswatch_worker_consumer_lag_messages":
            lags = {(s.labels["topic"], s.labels["partition"]): s.value for s in family.samples}
    topics = {t for (t, _) in lags}
    articles = {p for (t, p) in lags if t == run.pipe.topics["articles"]}
    wanted = {run.pipe.topics["articles"], f"{run.pipe.app_id}-alert-candidates"}
    return topics == wanted and articles == {"0", "1", "2"} and all(v == 0 for v in lags.values())
