"""The worker's guard against skipped input records: the gap detector, and the app wiring of the
seek-first table recovery (the race itself is reproduced in tests/integration/worker/)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from worker_fakes import KeywordClassifier

from newswatch.settings import Settings
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.recovery import OffsetGapDetector, SeekFirstRecovery, SeekFirstTableManager


def test_consecutive_offsets_are_no_gap() -> None:
    gaps = OffsetGapDetector()
    assert [gaps.seen("t", 0, offset, generation=1) for offset in range(5, 9)] == [None] * 4


def test_a_jump_reports_the_skipped_offsets_once() -> None:
    gaps = OffsetGapDetector()
    gaps.seen("t", 0, 10, generation=1)
    assert gaps.seen("t", 0, 13, generation=1) == (11, 12)
    assert gaps.seen("t", 0, 14, generation=1) is None


def test_partitions_and_topics_are_tracked_apart() -> None:
    gaps = OffsetGapDetector()
    gaps.seen("t", 0, 10, generation=1)
    assert gaps.seen("t", 1, 50, generation=1) is None
    assert gaps.seen("u", 0, 99, generation=1) is None
    assert gaps.seen("t", 0, 11, generation=1) is None


def test_a_replay_is_no_gap_and_does_not_move_the_mark_back() -> None:
    gaps = OffsetGapDetector()
    gaps.seen("t", 0, 20, generation=1)
    assert gaps.seen("t", 0, 15, generation=1) is None  # re-delivered after a seek: duplicates, not a skip
    assert gaps.seen("t", 0, 21, generation=1) is None


def test_a_new_generation_restarts_from_the_commit_without_a_gap() -> None:
    gaps = OffsetGapDetector()
    gaps.seen("t", 0, 20, generation=1)
    assert gaps.seen("t", 0, 40, generation=2) is None  # another worker went on while we were rebalancing
    assert gaps.seen("t", 0, 43, generation=2) == (41, 42)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_the_worker_app_recovers_tables_with_the_seek_first_recovery(
    loop: asyncio.AbstractEventLoop, classifier: KeywordClassifier
) -> None:
    from newswatch.worker.app import WorkerApp  # imports faust

    worker = WorkerApp(Settings(), classifier, WorkerMetrics())
    assert isinstance(worker.app.tables, SeekFirstTableManager)
    assert isinstance(worker.app.tables.recovery, SeekFirstRecovery)
