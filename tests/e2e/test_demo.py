"""The README's main job: `newswatch demo` runs the pipeline on the bundled feeds; a re-run is idempotent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

ALERT_LINE = re.compile(
    r"^\s+(FLASH|URGENT|ROUTINE)\s+(military_withdrawal|coup|peacekeeping_change)\s", re.M
)


class UniqueTopics(Protocol):  # the ``unique_topics`` fixture of tests/conftest.py
    articles: str
    classified: str
    alerts: str
    deadletter: str


def _demo(state_dir: Path, bootstrap: str, topics: UniqueTopics) -> subprocess.CompletedProcess[str]:
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
    }
    return subprocess.run(
        [sys.executable, "-m", "newswatch.cli", "demo", "--timeout", "300"],
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
    assert re.search(r"items: (\d+) new", first.stdout), first.stdout
    new_items = int(re.search(r"items: (\d+) new", first.stdout).group(1))  # type: ignore[union-attr]
    assert new_items >= 50
    alerts = ALERT_LINE.findall(first.stdout)
    event_types = {event_type for _, event_type in alerts}
    # the bundled feeds report a coup, a withdrawal and a mission change, each by several outlets
    assert event_types == {"military_withdrawal", "coup", "peacekeeping_change"}, first.stdout
    assert re.search(r"coup\s+GW", first.stdout), "the Guinea-Bissau coup alert names GW"
    assert re.search(r"\(\d+ sources: ", first.stdout), "some alert is corroborated by several outlets"
    assert f"{new_items} articles classified" in first.stdout
    # it ends by saying how to browse the alerts: the exact command, for this run's broker and topic
    hint = [line for line in first.stdout.splitlines()[-4:] if "newswatch serve`" in line]
    assert hint and f"NEWSWATCH_KAFKA__TOPIC_ALERTS={unique_topics.alerts}" in hint[0], first.stdout[-800:]
    assert "http://127.0.0.1:9104/" in first.stdout

    second = _demo(tmp_path, kafka_bootstrap, unique_topics)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "items: 0 new" in second.stdout
    assert "nothing new to classify" in second.stdout
    assert ALERT_LINE.findall(second.stdout), "the re-run lists the alerts already produced"
