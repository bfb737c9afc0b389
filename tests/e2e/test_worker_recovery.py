"""Crashes: kill -9 mid-stream then restart; two workers in one group, one killed, the survivor finishes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pipeline_support import Pipeline, filler_articles, kherson_articles, seed_article


def _assert_alerts_idempotent(alerts: list[dict[str, Any]]) -> None:
    opened = Counter(a["alert_id"] for a in alerts if a["status"] == "new")
    assert opened and max(opened.values()) == 1, f"alert ids opened twice: {opened}"
    by_version: dict[tuple[str, int], dict[str, Any]] = {}
    for alert in alerts:  # a repeated (id, version) must be a byte-identical re-send
        previous = by_version.setdefault((alert["alert_id"], alert["version"]), alert)
        assert previous == alert


def _kherson_versions(pipe: Pipeline) -> list[dict[str, Any]]:
    kherson = [a for a in pipe.records("alerts") if any(i.startswith("kherson-") for i in a["article_ids"])]
    assert len({a["alert_id"] for a in kherson}) <= 1, "the kherson reports opened several alerts"
    return kherson


def _kherson_sources(pipe: Pipeline) -> int:
    return max((a["source_count"] for a in _kherson_versions(pipe)), default=0)


def _kherson_alert(pipe: Pipeline) -> dict[str, Any]:
    return max(_kherson_versions(pipe), key=lambda a: a["version"])


@pytest.mark.timeout(900)
def test_kill9_mid_stream_then_restart_loses_nothing_and_restores_the_table(pipeline: Pipeline) -> None:
    events, fillers = [seed_article(), *kherson_articles(0, 3)], filler_articles(800, military=True)
    stream = [*events, *fillers]
    pipeline.publish(events)
    worker = pipeline.start_worker("first")
    # the table holds the kherson alert before the kill, so the restarted worker has a table to restore
    pipeline.wait_for("the first 3 kherson sources", lambda: _kherson_sources(pipeline) == 3)
    pipeline.publish(fillers)
    pipeline.wait_for("a part of the stream classified", lambda: len(pipeline.classified_ids()) >= 44)
    worker.kill9()
    assert len(pipeline.classified_ids()) < len(stream), "stream finished before the kill; make it longer"
    pipeline.start_worker("restarted")
    # the restarted worker reloads the model, restores the table and rejoins: 20-60 s on a loaded 2-core
    # machine. A restart that never finished was records lost in the table recovery (worker/recovery.py)
    pipeline.wait_classified(a.id for a in stream)
    pipeline.wait_for("3 kherson sources", lambda: _kherson_sources(pipeline) == 3)
    # the restored table turns a later report into an update of the same alert, not a new alert
    pipeline.publish(kherson_articles(3, 5))
    pipeline.wait_for("5 kherson sources", lambda: _kherson_sources(pipeline) == 5)
    alerts = pipeline.records("alerts")
    _assert_alerts_idempotent(alerts)
    assert not pipeline.skipped_input()
    last = _kherson_alert(pipeline)
    assert (last["version"], last["status"]) == (5, "update")
    assert {"military_withdrawal", "peacekeeping_change"} <= {
        a["event_type"] for a in alerts if "seed-barkhane-2022" in a["article_ids"]
    }


def test_two_workers_one_killed_the_survivor_takes_over(pipeline: Pipeline) -> None:
    first = [*kherson_articles(0, 2), *filler_articles(30, prefix="first")]
    pipeline.publish(first)
    victim = pipeline.start_worker("a")
    survivor = pipeline.start_worker("b")
    pipeline.wait_classified(a.id for a in first)
    pipeline.wait_for("2 kherson sources", lambda: _kherson_sources(pipeline) == 2)
    victim.kill9()
    second = [seed_article(), *kherson_articles(2, 5), *filler_articles(30, prefix="second")]
    pipeline.publish(second)
    pipeline.wait_classified((a.id for a in first + second), timeout=240)
    pipeline.wait_for("5 kherson sources", lambda: _kherson_sources(pipeline) == 5)
    assert survivor.process.poll() is None
    assert not pipeline.skipped_input()
    _assert_alerts_idempotent(pipeline.records("alerts"))
    assert _kherson_alert(pipeline)["version"] == 5
