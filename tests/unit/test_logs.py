"""Logging set-up: a file destination, and kafka-python's close-time cancellations demoted, nothing else."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.errors import Cancelled, KafkaConnectionError

from newswatch.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_logs_go_to_the_file_not_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    path = tmp_path / "demo" / "demo.log"
    configure_logging("INFO", "json", path=path)
    logging.getLogger("newswatch.demo").info("demo_step", extra={"step": "poll_feeds"})
    assert capsys.readouterr().err == ""
    (record,) = _records(path)
    assert record["event"] == "demo_step" and record["step"] == "poll_feeds" and record["level"] == "info"


def test_metadata_refresh_cancelled_by_close_is_not_an_error(tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "x.log"
    configure_logging("INFO", "json", path=path)
    cluster = logging.getLogger("kafka.cluster")
    # the two calls kafka-python 3 makes (kafka/cluster.py): a close cancels, a dead broker fails
    cluster.error("Metadata refresh: failed %s", Cancelled())
    cluster.error("Metadata refresh: failed %s", KafkaConnectionError("socket disconnected"))
    cluster.error("Bootstrap failed: %s", Cancelled())
    records = _records(path)
    assert [r["event"] for r in records] == [
        "Metadata refresh: failed KafkaConnectionError: socket disconnected",
        "Bootstrap failed: Cancelled",
    ]
    assert {r["level"] for r in records} == {"error"}


def test_read_racing_a_close_is_not_an_error_but_other_read_failures_are(
    tmp_path: Path, restore_logging: None
) -> None:
    path = tmp_path / "x.log"
    configure_logging("INFO", "text", path=path)
    transport = logging.getLogger("kafka.net.transport")
    message = "%s: Error receiving network data closing socket"
    for error, state in (
        (AttributeError("'NoneType' object has no attribute 'recv'"), "closed"),
        (ConnectionResetError("reset"), "closed"),
        (AttributeError("x"), "connected"),
    ):
        try:
            raise error
        except Exception:
            transport.exception(message, f"<KafkaTCPTransport [none] ({state})>")
    text = path.read_text(encoding="utf-8")
    assert text.count("Error receiving network data") == 2
    assert "ConnectionResetError" in text and "(connected)" in text
