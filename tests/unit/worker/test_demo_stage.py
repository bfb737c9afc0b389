"""The demo's worker stage: counting what the worker produced, and the human alert line."""

from __future__ import annotations

import base64

from newswatch.worker.demo_stage import OutputTally, alert_line

ARTICLES = "news.articles.v1"


def _tally() -> OutputTally:
    return OutputTally(ARTICLES, wanted={"a1", "a2", "a3"})


def test_classifications_and_worker_dead_letters_settle_articles() -> None:
    tally = _tally()
    tally.add("c", "classified", {"article_id": "a1"})
    key = base64.b64encode(b"a2").decode()
    tally.add("d", "deadletter", {"service": "worker", "topic": ARTICLES, "original_key_b64": key})
    assert tally.pending() == {"a3"}


def test_other_dead_letters_and_bad_keys_do_not_settle_articles() -> None:
    tally = _tally()
    key = base64.b64encode(b"a1").decode()
    tally.add("d", "deadletter", {"service": "poller", "topic": ARTICLES, "original_key_b64": key})
    tally.add("d", "deadletter", {"service": "worker", "topic": "other", "original_key_b64": key})
    tally.add("d", "deadletter", {"service": "worker", "topic": ARTICLES, "original_key_b64": "!!"})
    tally.add("d", "deadletter", {"service": "worker", "topic": ARTICLES})
    assert tally.pending() == {"a1", "a2", "a3"}


def test_only_newer_alert_versions_are_returned() -> None:
    tally = _tally()
    v2 = {"alert_id": "al-1", "version": 2, "status": "update"}
    assert tally.add("a", "alerts", v2) == v2
    assert tally.add("a", "alerts", {"alert_id": "al-1", "version": 1, "status": "new"}) is None
    assert tally.add("a", "alerts", dict(v2)) is None
    assert tally.add("a", "alerts", {"alert_id": "al-2", "version": "x"}) is None
    assert tally.add("a", "alerts", {"version": 3}) is None
    assert tally.alerts == {"al-1": v2}


def test_alert_line_shows_severity_type_countries_headline_and_sources() -> None:
    line = alert_line(
        {
            "severity": "urgent",
            "event_type": "military_withdrawal",
            "countries": ["FR", "ML"],
            "headline": "France leaves Mali",
            "source_count": 2,
            "outlets": ["AFP", "RFI"],
            "status": "update",
            "version": 2,
        }
    )
    assert line.split()[:3] == ["URGENT", "military_withdrawal", "FR,ML"]
    assert "France leaves Mali (2 sources: AFP, RFI) [update v2]" in line
    assert "(1 source: --" not in alert_line({"source_count": 1, "countries": []})
    assert "--" in alert_line({"source_count": 1, "countries": []})
