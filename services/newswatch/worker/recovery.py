"""Faust's table recovery with the stream partitions sought to their committed offsets BEFORE they resume.

    app = faust.App("newswatch-worker", ..., TableManager=SeekFirstTableManager)

Why: when a worker (re)starts with a table to restore, faust-streaming 0.15 starts its fetcher during
changelog recovery, and aiokafka prefetches the assigned input partitions meanwhile. Stock
``Recovery.on_recovery_completed`` then (1) resumes the input partitions, (2) awaits the seek to the
committed offsets and (3) clears the stream queues (``flow_control.resume()``). While (2) is in flight the
fetcher delivers prefetched records; when the seek lands it resets the consumer's read offsets under the
batch being delivered, so the next record looks like a jump ("gap", as in a compacted topic) that the
offset commit may pass over; (3) then drops the records still queued, and their re-fetch is discarded as
already read. Those records are never processed, yet committed: lost. Seen as a restarted worker that never
finished the kill -9 test (1 to ~250 of 804 records missing on a loaded machine) and traced with faust's
DEVLOG ("DROPPED MESSAGE ROFF ..." after a 12..122 gap right after "Seek stream partitions"); upstream:
faust-streaming/faust#596 (race in recovery, open).

Here the consumer's flow is stopped while the seek is in flight, so the fetcher delivers nothing from
positions the seek is about to reset (faust itself seeks back to the commits when records arrive with the
flow stopped);
the flow resumes, and the queues are cleared, once the seek has landed. The rest is upstream's code unchanged.
(Seeking with the input partitions paused instead stalls a worker that takes over from a member killed while
it was joining.) ``OffsetGapDetector`` makes any such skip visible.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery

__all__ = ["OffsetGapDetector", "SeekFirstRecovery", "SeekFirstTableManager"]


class SeekFirstRecovery(Recovery):
    """``Recovery`` whose completion seeks the input partitions before resuming them (see the module doc)."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Finish a recovery: tables ready, input partitions sought to their commits, then resumed.

        await recovery.on_recovery_completed(generation_id)   # called by faust after the changelogs are read
        """
        app: Any = self.app  # faust's AppT does not declare the fetcher, the assignor's standbys or the flags
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            )
            for table in self.tables.values()
        ]
        if callbacks:
            await asyncio.wait(callbacks)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                "Recovery rebalancing again app id %s param %s", app.consumer_generation_id, generation_id
            )
            return
        input_tps = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        consumer.resume_partitions(input_tps)
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            # The flow stays stopped while the seek is in flight: the fetcher delivers nothing from positions
            # the seek is about to reset (what upstream's order lets through, faust-streaming#596). Seeking
            # with the input partitions paused instead stalls a worker that takes over the partitions of a
            # member killed while it was joining (tests/e2e/test_worker_recovery.py, two workers).
            consumer.stop_flow()
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        app.flow_control.resume()
        consumer.resume_flow()
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekFirstTableManager(TableManager):
    """faust's ``TableManager`` with :class:`SeekFirstRecovery`: ``faust.App(TableManager=...)``."""

    @property
    def recovery(self) -> Recovery:
        """The recovery service of this table manager (created on first use, like upstream's)."""
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class OffsetGapDetector:
    """Notices input records that never reached an agent: an offset jump within one partition.

        gaps = OffsetGapDetector()
        gaps.seen("articles", 0, 10, generation=3)   # None
        gaps.seen("articles", 0, 13, generation=3)   # (11, 12): records 11 and 12 were skipped

    Offsets are compared within one consumer generation only: after a rebalance a partition restarts from
    its committed offset, which may be ahead of what this worker saw (another worker went on). Going back
    (a replay) is never a gap. Our input topics are neither compacted nor written in transactions, so their
    offsets are consecutive and a jump means records were skipped.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], tuple[int, int]] = {}

    def seen(self, topic: str, partition: int, offset: int, *, generation: int) -> tuple[int, int] | None:
        """Record that ``offset`` arrived; return the (first, last) offsets skipped before it, if any."""
        key = (topic, partition)
        previous = self._last.get(key)
        if previous is None or previous[0] != generation or offset > previous[1]:
            self._last[key] = (generation, offset)
        if previous is not None and previous[0] == generation and offset > previous[1] + 1:
            return (previous[1] + 1, offset - 1)
        return None
