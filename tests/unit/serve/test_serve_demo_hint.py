"""The demo's last step names the exact `newswatch serve` command for the run's broker and topic."""

from __future__ import annotations

import asyncio

from newswatch.demo import DemoRun, browse_hint, serve_command
from newswatch.settings import KafkaSettings, Settings


def test_default_settings_need_no_environment() -> None:
    assert serve_command(Settings()) == "newswatch serve"


def test_a_custom_broker_and_topic_are_spelled_out() -> None:
    kafka = KafkaSettings(bootstrap_servers="10.0.0.5:9092", topic_alerts="news.alerts.v1.test")
    command = serve_command(Settings(kafka=kafka))
    assert command == (
        "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS=10.0.0.5:9092 NEWSWATCH_KAFKA__TOPIC_ALERTS=news.alerts.v1.test "
        "newswatch serve"
    )


def test_browse_hint_prints_the_command_the_url_and_how_to_stop_it() -> None:
    run = DemoRun(settings=Settings())
    asyncio.run(browse_hint(run))
    text = "\n".join(run.lines)
    assert "`newswatch serve`" in text and "newswatch demo --serve" in text
    assert "http://127.0.0.1:9104/" in text and "Ctrl-C stops it" in text
