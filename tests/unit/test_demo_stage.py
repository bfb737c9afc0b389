"""The demo's worker stage: counting what the worker produced, and printing alerts the way notify does."""

from __future__ import annotations

import base64
from typing import Any

from tests.unit.notify.receiver import make_alert

from newswatch.contracts import Alert
from newswatch.demo_stage import OutputTally
from newswatch.notify.console import format_alert

ARTICLES = "news.articles.v1"


def _tally() -> OutputTally:
    return OutputTally(ARTICLES, wanted={"a1", "a2", "a3"})


def _record(**overrides: Any) -> dict[str, Any]:
    return make_alert(**overrides).model_dump(mode="json")


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
    v2 = _record(alert_id="al-1", version=2, status="update")
    first = tally.add("a", "alerts", v2)
    assert isinstance(first, Alert) and (first.alert_id, first.version) == ("al-1", 2)
    assert tally.add("a", "alerts", _record(alert_id="al-1", version=1)) is None
    assert tally.add("a", "alerts", dict(v2)) is None
    assert set(tally.alerts) == {"al-1"} and tally.alerts["al-1"].version == 2


def test_records_that_are_not_alerts_are_ignored() -> None:
    tally = _tally()
    assert tally.add("a", "alerts", _record(alert_id="al-2") | {"version": "x"}) is None
    assert tally.add("a", "alerts", {"version": 3}) is None
    assert tally.add("a", "alerts", _record() | {"severity": "\x1b[2J"}) is None
    assert tally.alerts == {}


def test_the_printed_line_is_notify_console_line() -> None:
    record = _record(
        alert_id="al-3",
        headline="France leaves Mali <b>\x1b[31m",
        countries=["FR", "ML"],
        severity="urgent",
        status="update",
        version=2,
        source_count=2,
        outlets=["AFP", "RFI"],
    )
    alert = _tally().add("a", "alerts", record)
    assert alert is not None
    line = format_alert(alert)
    assert line.startswith("[urgent] military_withdrawal v2 update  FR,ML  p=0.95  ")
    assert '"France leaves Mali &lt;b&gt;\\x1b[31m"  (2 sources) https://www.dw.com/en/a-1' in line
    assert "(1 source) " in format_alert(make_alert())
