"""What ``newswatch demo`` tells a newcomer at the start and at the end (the steps are tested end to end)."""

from __future__ import annotations

from pathlib import Path

from newswatch.demo import DemoRun, _ending, _introduction, demo_log_path
from newswatch.settings import Settings


def _run(state_dir: Path | None = None, bootstrap: str | None = None) -> DemoRun:
    settings = Settings(state_dir=state_dir or Path(".state"))
    if bootstrap is not None:
        settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
        )
    return DemoRun(settings=settings)


def test_introduction_says_what_runs_and_where_the_logs_are(tmp_path: Path) -> None:
    run = _run(tmp_path)
    _introduction(run, demo_log_path(run.settings))
    text = "\n".join(run.lines)
    assert text.startswith("newswatch demo: the whole pipeline on this machine, offline.")
    assert f"Logs: {tmp_path}/demo/demo.log and {tmp_path}/demo/worker.log (--log-to-stderr" in text
    quiet = _run(tmp_path)
    _introduction(quiet, None)
    assert not any(line.startswith("Logs:") for line in quiet.lines)


def test_ending_with_the_default_state_dir_says_make_stop() -> None:
    run = _run(Path(".state"))
    run.local_broker = "127.0.0.1:9092"
    _ending(run, 42.4)
    assert run.lines[1:] == [
        "Done in 42 s.",
        "To see the alerts again: newswatch alerts tail --from-beginning --idle-timeout 5",
        "To stop everything: make stop (or newswatch kafka stop); the Kafka broker on 127.0.0.1:9092 is all"
        " the demo leaves running.",
        "To start afresh: make clean (stops it, removes .venv and .state).",
    ]


def test_ending_with_another_state_dir_names_it(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.local_broker = "127.0.0.1:39092"
    _ending(run, 3)
    assert f"To stop everything: NEWSWATCH_STATE_DIR={tmp_path} newswatch kafka stop;" in run.lines[3]
    assert run.lines[4] == f"To start afresh: stop it, then rm -r {tmp_path}."


def test_ending_on_a_cluster_it_did_not_start_has_nothing_to_stop(tmp_path: Path) -> None:
    run = _run(tmp_path, bootstrap="broker-1:9092")
    _ending(run, 3)
    assert (
        run.lines[-1]
        == "Nothing to stop: the demo leaves nothing running (Kafka is the cluster at broker-1:9092)."
    )
