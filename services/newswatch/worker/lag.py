"""Consumer lag per partition: end offset minus this worker's position (pure bookkeeping).

    tracker = LagTracker()
    tracker.processed("news.articles.v1", 0, offset=41)          # position becomes 42
    tracker.lag({("news.articles.v1", 0): 50}, fallback={})      # {("news.articles.v1", 0): 8}

The position is the offset after the last record this worker finished (not the fetch position, which runs
ahead by whatever the consumer prefetched); for a partition with nothing finished yet the consumer's own
position (its committed offset after assignment) is the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LagTracker", "Partition"]

Partition = tuple[str, int]


class LagTracker:
    """Positions of the partitions this worker processes, and lag computed from end offsets."""

    def __init__(self) -> None:
        self._positions: dict[Partition, int] = {}

    def processed(self, topic: str, partition: int, *, offset: int) -> None:
        """Record that the record at ``offset`` is done; the position only moves forward."""
        key = (topic, partition)
        self._positions[key] = max(self._positions.get(key, 0), offset + 1)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop partitions revoked from this worker (another worker owns their position now)."""
        for key in partitions:
            self._positions.pop(key, None)

    def position(self, partition: Partition) -> int | None:
        return self._positions.get(partition)

    def lag(
        self, end_offsets: Mapping[Partition, int], *, fallback: Mapping[Partition, int]
    ) -> dict[Partition, int]:
        """Lag of each partition in ``end_offsets`` (never negative); partitions with no position are skipped.

        tracker.lag({("t", 0): 10}, fallback={("t", 0): 4})   # {("t", 0): 6} when nothing processed yet
        """
        out: dict[Partition, int] = {}
        for key, end in end_offsets.items():
            position = self._positions.get(key, fallback.get(key))
            if position is not None:
                out[key] = max(0, end - position)
        return out
