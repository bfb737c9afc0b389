"""The README's main job: `newswatch demo` runs the pipeline on the bundled feeds and tells it as a story
(the logs in its state directory, no JSON and no client library error on the terminal); a re-run is
idempotent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

# one line per alert version, as `newswatch alerts tail` prints it (newswatch.notify.console.format_alert)
ALERT_LINE = re.compile(
    r"^\s+\[(flash|urgent|routine)\] (military_withdrawal|coup|peacekeeping_change) v\d+ (?:new|update)  ",
    re.M,
)
COUP_IN_GW = re.compile(r"\] coup v\d+ \w+  ([A-Z]{2},)*GW\b")
CORROBORATED = re.compile(r"\(([2-9]|\d\d+) sources\) ")


#: a word "error" anywhere (a client library's ``error   kafka.cluster: ...`` line, a traceback, a failure)
ERROR_WORD = re.compile(r"\berror\b", re.I)


def _assert_story_only(result: subprocess.CompletedProcess[str], *, stderr_logs: bool = False) -> None:
    """Nothing but the human story on stdout: no log line (JSON or text), no error; stderr empty, or (with
    ``--log-to-stderr``) JSON log records none of which is an error."""
    if stderr_logs:
        records = [json.loads(line) for line in result.stderr.splitlines()]
        assert records and not [r for r in records if r["level"] == "error"], result.stderr[-3000:]
    else:
        assert result.stderr == "", result.stderr[-3000:]
    for line in result.stdout.splitlines():
        assert not ERROR_WORD.search(line), line
        if line.lstrip().startswith("{"):
            try:
                json.loads(line)
            except ValueError:
                continue
            raise AssertionError(f"a JSON log line on stdout: {line}")


def _log_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class UniqueTopics(Protocol):  # the ``unique_topics`` fixture of tests/conftest.py
    articles: str
    classified: str
    alerts: str
    deadletter: str


def _demo(
    state_dir: Path, bootstrap: str, topics: UniqueTopics, *options: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NEWSWATCH_STATE_DIR": str(state_dir),
        "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        # topics and consumer group of this test alone, so other tests' records do not count
        "NEWSWATCH_KAFKA__TOPIC_ARTICLES": topics.articles,
        "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": topics.classified,
        "NEWSWATCH_KAFKA__TOPIC_ALERTS": topics.alerts,
        "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": topics.deadletter,
        "NEWSWATCH_WORKER__APP_ID": f"demo-test-{state_dir.name}",
        "NEWSWATCH_LOG_FORMAT": "json",
    }
    return subprocess.run(
        [sys.executable, "-m", "newswatch.cli", "demo", "--timeout", "300", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )


def test_demo_publishes_classifies_and_alerts_then_reruns_with_nothing_new(
    kafka_bootstrap: str, unique_topics: UniqueTopics, tmp_path: Path
) -> None:
    first = _demo(tmp_path, kafka_bootstrap, unique_topics)
    assert first.returncode == 0, first.stderr[-3000:]
    _assert_story_only(first)
    lines = first.stdout.splitlines()
    # the story: what runs, where the logs are, each step, the alerts, and how to stop
    assert lines[0].startswith("newswatch demo: the whole pipeline on this machine, offline.")
    log_path = tmp_path / "demo" / "demo.log"
    assert f"Logs: {log_path} and {tmp_path / 'demo' / 'worker.log'} (--log-to-stderr" in first.stdout
    story = [
        f"Kafka: using {kafka_bootstrap} (NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS)",
        "Topics: ",
        "Feeds: 6 demo feeds served from http://127.0.0.1:",
        "Poller: 6 feeds: 6 ok; items: ",
        f"On {unique_topics.articles}: ",
        "Worker: classifying ",
        "Alerts page: run `",
        "Done in ",
        "To see the alerts again: newswatch alerts tail --from-beginning",
        f"Nothing to stop: the demo leaves nothing running (Kafka is the cluster at {kafka_bootstrap}).",
    ]
    starts = [next(i for i, line in enumerate(lines) if line.startswith(s)) for s in story]
    assert starts == sorted(starts), first.stdout  # in this order
    # the logs went to the state directory instead, as JSON, with no client library error in them
    records = _log_records(log_path)
    assert {"demo_step", "feed_polled"} <= {str(r["event"]) for r in records}
    assert not [r for r in records if r["level"] == "error"], [r for r in records if r["level"] == "error"]
    assert (tmp_path / "demo" / "worker.log").stat().st_size > 0
    assert re.search(r"items: (\d+) new", first.stdout), first.stdout
    new_items = int(re.search(r"items: (\d+) new", first.stdout).group(1))  # type: ignore[union-attr]
    assert new_items >= 50
    alerts = ALERT_LINE.findall(first.stdout)
    event_types = {event_type for _, event_type in alerts}
    # the bundled feeds report a coup, a withdrawal and a mission change, each by several outlets
    assert event_types == {"military_withdrawal", "coup", "peacekeeping_change"}, first.stdout
    assert COUP_IN_GW.search(first.stdout), "the Guinea-Bissau coup alert names GW"
    assert CORROBORATED.search(first.stdout), "some alert is corroborated by several outlets"
    assert f"{new_items} articles classified" in first.stdout
    # it ends by saying how to browse the alerts: the exact command, for this run's broker and topic
    hint = [line for line in lines if line.startswith("Alerts page:") and "newswatch serve`" in line]
    assert hint and f"NEWSWATCH_KAFKA__TOPIC_ALERTS={unique_topics.alerts}" in hint[0], first.stdout[-800:]
    assert "http://127.0.0.1:9104/" in first.stdout

    second = _demo(tmp_path, kafka_bootstrap, unique_topics, "--log-to-stderr")
    assert second.returncode == 0, second.stderr[-3000:]
    _assert_story_only(second, stderr_logs=True)
    assert "demo_step" in second.stderr and not any(
        line.startswith("Logs:") for line in second.stdout.splitlines()
    )
    assert "items: 0 new" in second.stdout
    assert "nothing new to classify" in second.stdout
    assert ALERT_LINE.findall(second.stdout), "the re-run lists the alerts already produced"
