"""`newswatch serve` against the real broker: alerts produced to the topic show up in the API, the Atom feed
and the page, in order, with every version; a restart resumes from the stored offsets and a fresh store
rebuilds the same state; a poison record is skipped and counted, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from tests.integration.serve.harness import ServeProcess, produce, record
from tests.unit.serve.support import alert

from newswatch.contracts import validate_record


class UniqueTopics:  # the ``unique_topics`` fixture of tests/conftest.py
    alerts: str


@pytest.fixture
def processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for proc in started:
        proc.stop()


def _state(proc: ServeProcess) -> tuple[object, object]:
    listing = proc.json("/api/v1/alerts?limit=500")
    histories = {a["alert_id"]: proc.json(f"/api/v1/alerts/{a['alert_id']}") for a in listing["alerts"]}
    return listing, histories


def test_alerts_flow_into_api_feed_and_page_and_survive_restarts(
    kafka_bootstrap: str, unique_topics: UniqueTopics, tmp_path: Path, processes: list[ServeProcess]
) -> None:
    topic = unique_topics.alerts
    produce(
        kafka_bootstrap,
        topic,
        [
            record(alert("al-a", 1, 0, event_type="coup", countries=["ML"])),
            record(alert("al-b", 1, 2, countries=["NE"])),
            ("poison", b'{"alert_id": "broken"}'),
            ("poison", b"\xff not json"),
            record(alert("al-a", 2, 4, event_type="coup", countries=["ML"])),
        ],
    )
    serve = ServeProcess(kafka_bootstrap, topic, tmp_path / "state", tmp_path / "serve.log")
    processes.append(serve)
    serve.wait_ready()

    # read at start-up: newest first, every version of al-a
    listing = serve.json("/api/v1/alerts")
    assert [(a["alert_id"], a["version"]) for a in listing["alerts"]] == [("al-a", 2), ("al-b", 1)]
    for a in listing["alerts"]:
        validate_record("alert", a)
    assert [v["version"] for v in serve.json("/api/v1/alerts/al-a")["versions"]] == [1, 2]
    assert serve.metric("newswatch_serve_records_skipped_total") == 2
    assert serve.metric("newswatch_serve_readmodel_versions") == 3

    # kept current: a new version and a new alert arrive while it runs
    produce(
        kafka_bootstrap, topic, [record(alert("al-b", 2, 6, countries=["NE"])), record(alert("al-c", 1, 8))]
    )
    listing = serve.wait_for("/api/v1/alerts", lambda b: len(b["alerts"]) == 3)
    assert [(a["alert_id"], a["version"]) for a in listing["alerts"]] == [
        ("al-c", 1),
        ("al-b", 2),
        ("al-a", 2),
    ]

    feed = feedparser.parse(serve.get("/alerts.atom")[1])
    assert not feed.bozo and [e.id.rsplit(":", 1)[1] for e in feed.entries] == ["al-c", "al-b", "al-a"]
    coups = feedparser.parse(serve.get("/alerts.atom?event_type=coup&country=ML")[1])
    assert [e.id.rsplit(":", 1)[1] for e in coups.entries] == ["al-a"]
    status, page = serve.get("/")
    html = page.decode()
    assert status == 200 and html.index("Withdrawal al-c") < html.index("Withdrawal al-b") < html.index(
        "Withdrawal al-a"
    )
    history = serve.get("/alerts/al-b")[1].decode()
    assert 'data-version="2"' in history and 'data-version="1"' in history
    assert serve.get("/alerts/al-b/v1.cap")[0] == 200
    before = _state(serve)
    assert serve.stop() == 0

    # restart on the same store: resumes from its offsets (reads nothing again), same state
    again = ServeProcess(kafka_bootstrap, topic, tmp_path / "state", tmp_path / "serve.log")
    processes.append(again)
    again.wait_ready()
    assert _state(again) == before
    assert again.metric("newswatch_serve_records_applied_total") == 0
    assert again.metric("newswatch_serve_records_skipped_total") == 0

    # a fresh store rebuilds the same state from the topic, skipping the poison again
    fresh = ServeProcess(kafka_bootstrap, topic, tmp_path / "fresh", tmp_path / "fresh.log")
    processes.append(fresh)
    fresh.wait_ready()
    assert _state(fresh) == before
    assert fresh.metric("newswatch_serve_records_skipped_total") == 2
    assert fresh.metric("newswatch_serve_readmodel_lag_messages") == 0
