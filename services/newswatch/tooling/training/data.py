"""Labelled data: the JSONL files of ``../shared/data`` and ``data/train/written-*.jsonl``.

Each line: ``id``, ``lang``, ``title``, ``summary``, ``labels`` (the three event types, 0 or 1),
``ambiguous``, optional ``note``, ``published``, ``source_dataset``.

    items = load_labelled(Path("../shared/data/dev/events-dev.jsonl"))
    items[0].labels   # (0, 1, 0) in EVENT_TYPES order
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newswatch.classifier.errors import TrainingDataError
from newswatch.contracts.models import EVENT_TYPES

__all__ = ["LabelledItem", "files_sha256", "load_labelled", "load_many"]


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One labelled article; ``labels`` follow :data:`EVENT_TYPES`."""

    id: str
    lang: str
    title: str
    summary: str
    labels: tuple[int, int, int]
    ambiguous: bool
    source: str

    @property
    def has_event(self) -> bool:
        return any(self.labels)


def _parse(raw: str, path: Path, lineno: int) -> LabelledItem:
    try:
        obj = json.loads(raw)
        labels_obj = obj["labels"]
        labels = tuple(int(bool(labels_obj[name])) for name in EVENT_TYPES)
        item = LabelledItem(
            id=str(obj["id"]),
            lang=str(obj.get("lang") or "en").lower()[:2],
            title=str(obj.get("title") or ""),
            summary=str(obj.get("summary") or ""),
            labels=(labels[0], labels[1], labels[2]),
            ambiguous=bool(obj.get("ambiguous", False)),
            source=str(obj.get("source_dataset") or path.name),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainingDataError(f"{path}:{lineno}: malformed labelled item: {exc}") from exc
    if not (item.title or item.summary):
        raise TrainingDataError(f"{path}:{lineno}: item {item.id!r} has neither title nor summary")
    return item


def load_labelled(path: Path) -> list[LabelledItem]:
    """Read one labelled JSONL file; raises :class:`TrainingDataError` naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc}") from exc
    return [_parse(line, path, n) for n, line in enumerate(lines, 1) if line.strip()]


def load_many(paths: Iterable[Path]) -> list[LabelledItem]:
    """Read several files in order, dropping repeated ids (first wins)."""
    seen: set[str] = set()
    items: list[LabelledItem] = []
    for path in paths:
        for item in load_labelled(path):
            if item.id not in seen:
                seen.add(item.id)
                items.append(item)
    return items


def files_sha256(paths: Sequence[Path]) -> str:
    """One SHA-256 over the named files' bytes, in order (the training-data hash)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
