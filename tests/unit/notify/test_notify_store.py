"""The delivery log survives a reopen and the first settled outcome wins."""

from __future__ import annotations

from pathlib import Path

from newswatch.notify.store import DeliveryStore


def test_settled_versions_survive_a_reopen(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path / "sub" / "n.db")
    assert not store.seen("s", "a", 1)
    store.record("s", "a", 1, "sent")
    store.record("s", "a", 1, "dead_lettered")
    store.close()
    store = DeliveryStore(tmp_path / "sub" / "n.db")
    assert store.seen("s", "a", 1) and store.outcome("s", "a", 1) == "sent"
    assert not store.seen("s", "a", 2) and not store.seen("other", "a", 1)
    assert store.prune(older_than_seconds=3600) == 0
    assert store.prune(older_than_seconds=-1) == 1
    assert not store.seen("s", "a", 1)
