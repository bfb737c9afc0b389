"""A labelling round's files, and the texts they point at rebuilt from the public sources.

A round has two independent annotations of every item (A and B) and one decision (C) for every item on which
they disagree (docs/events.md, "Labelling data to these definitions"). :func:`merge` turns them into one label
per item plus agreement figures; :func:`split` freezes a validation split stratified by language and label;
:func:`rebuild` joins committed pointers with their texts into the labelled JSONL that training and evaluation
read (:mod:`newswatch.tooling.training.data`).

    newswatch data rebuild --repo rsstrends=/src/rssTrends --repo orangesum=/src/OrangeSum ...
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newswatch.contracts.models import EVENT_TYPES
from newswatch.tooling.corpus import SOURCES, CorpusError, RawItem, iter_source

__all__ = ["Annotation", "agreement", "counts", "main", "merge", "read_annotations", "rebuild", "split"]

Labels = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Annotation:
    item_id: str
    labels: Labels
    ambiguous: bool
    note: str


def _annotation(row: Mapping[str, Any]) -> Annotation:
    labels = tuple(int(bool(row[name])) for name in EVENT_TYPES)
    return Annotation(
        item_id=str(row["item_id"]),
        labels=(labels[0], labels[1], labels[2]),
        ambiguous=bool(row.get("ambiguous", False)),
        note=str(row.get("note") or ""),
    )


def read_annotations(paths: Iterable[Path]) -> dict[str, Annotation]:
    """One annotator's lines (JSONL, the format in docs/events.md); the first line for an id wins."""
    out: dict[str, Annotation] = {}
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                annotation = _annotation(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError(f"{path}:{lineno}: bad annotation: {exc}") from exc
            out.setdefault(annotation.item_id, annotation)
    return out


def agreement(
    first: Mapping[str, Annotation], second: Mapping[str, Annotation]
) -> dict[str, dict[str, float]]:
    """Per label: items, both-yes, either-yes, raw agreement and Cohen's kappa over the shared items."""
    shared = sorted(set(first) & set(second))
    report: dict[str, dict[str, float]] = {}
    for k, name in enumerate(EVENT_TYPES):
        a = [first[i].labels[k] for i in shared]
        b = [second[i].labels[k] for i in shared]
        n = len(shared)
        agree = sum(x == y for x, y in zip(a, b, strict=True))
        pa, pb = sum(a) / max(n, 1), sum(b) / max(n, 1)
        expected = pa * pb + (1 - pa) * (1 - pb)
        observed = agree / max(n, 1)
        kappa = (observed - expected) / (1 - expected) if expected < 1 else 1.0
        report[name] = {
            "items": n,
            "both_yes": sum(x and y for x, y in zip(a, b, strict=True)),
            "either_yes": sum(x or y for x, y in zip(a, b, strict=True)),
            "agreement": round(observed, 4),
            "kappa": round(kappa, 3),
        }
    return report


def merge(
    first: Mapping[str, Annotation], second: Mapping[str, Annotation], third: Mapping[str, Annotation]
) -> dict[str, dict[str, Any]]:
    """The decided labels of every item both annotators labelled: theirs when they agree on all three labels,
    else the third's (an undecided disagreement raises). Ambiguous when either flagged it, or the third
    did."""
    decided: dict[str, dict[str, Any]] = {}
    for item_id in sorted(set(first) & set(second)):
        a, b = first[item_id], second[item_id]
        if a.labels == b.labels:
            decided[item_id] = {
                "labels": a.labels,
                "ambiguous": a.ambiguous or b.ambiguous,
                "note": a.note or b.note,
                "decided_by": "agreement",
            }
            continue
        c = third.get(item_id)
        if c is None:
            raise CorpusError(f"{item_id}: the annotators disagree and no decision was made")
        decided[item_id] = {
            "labels": c.labels,
            "ambiguous": c.ambiguous,
            "note": c.note,
            "decided_by": "third",
        }
    return decided


def split(
    rows: Sequence[Mapping[str, Any]], size: int, seed: int
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(validation, train): ``size`` rows drawn proportionally from each (language, label set) stratum."""
    strata: dict[tuple[str, Labels], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        labels = tuple(int(row["labels"][name]) for name in EVENT_TYPES)
        strata[(str(row["lang"]), (labels[0], labels[1], labels[2]))].append(row)
    rng = random.Random(seed)
    fraction = size / max(len(rows), 1)
    validation: list[Mapping[str, Any]] = []
    train: list[Mapping[str, Any]] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda r: str(r["id"]))
        rng.shuffle(members)
        take = round(len(members) * fraction)
        validation.extend(members[:take])
        train.extend(members[take:])
    return validation, train


def counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Items and positives per language (and ``all``), non-ambiguous positives apart."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for lang in (str(row["lang"]), "all"):
            table[lang]["items"] += 1
            table[lang]["ambiguous"] += int(bool(row["ambiguous"]))
            for name in EVENT_TYPES:
                table[lang][name] += int(row["labels"][name])
    return {lang: dict(c) for lang, c in sorted(table.items())}


def rebuild(pointer_files: Sequence[Path], repos: Mapping[str, Path], out_dir: Path) -> dict[str, int]:
    """Write, for each pointer file, the same rows with ``title`` and ``summary`` read from the sources at
    their pinned commits, in the labelled-data format; returns the rows written per file. A source that is
    not given, or that lacks an item, is a :class:`CorpusError` naming it."""
    wanted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    loaded: dict[Path, list[dict[str, Any]]] = {}
    for path in pointer_files:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        loaded[path] = rows
        for row in rows:
            wanted[row["source"]][row["path"]].add(row["id"])
    texts: dict[str, RawItem] = {}
    for source, by_path in sorted(wanted.items()):
        if source not in SOURCES:
            raise CorpusError(f"unknown source {source!r}")
        if source not in repos:
            raise CorpusError(
                f"no clone given for {source} ({SOURCES[source].repository}): --repo {source}=PATH"
            )
        for item in iter_source(source, repos[source], sorted(by_path)):
            if item.id in by_path[item.path]:
                texts.setdefault(item.id, item)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for path, rows in loaded.items():
        lines = []
        for row in rows:
            found = texts.get(row["id"])
            if found is None:
                raise CorpusError(f"{row['source']} has no item {row['id']} in {row['path']}")
            lines.append(
                json.dumps(
                    {**row, "title": found.title, "summary": found.summary, "source_dataset": row["source"]},
                    ensure_ascii=False,
                )
            )
        (out_dir / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[path.name] = len(lines)
    return written


def _read_jsonl(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows.extend(json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip())
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newswatch.tooling.labelset``: merge a round's annotations into the committed label files.

    --selection: the round's pointer files (selection output); --a/--b/--c: the annotators' and the third's
    JSONL files. Writes OUT/validation.jsonl and OUT/train.jsonl (pointers + labels, no texts) and prints
    agreement and counts as JSON.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m newswatch.tooling.labelset", description=main.__doc__)
    parser.add_argument("--selection", type=Path, nargs="+", required=True)
    parser.add_argument("--a", type=Path, nargs="+", required=True)
    parser.add_argument("--b", type=Path, nargs="+", required=True)
    parser.add_argument("--c", type=Path, nargs="*", default=[])
    parser.add_argument("--validation-size", type=int, default=1400)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    first, second, third = read_annotations(args.a), read_annotations(args.b), read_annotations(args.c)
    decided = merge(first, second, third)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pointer in _read_jsonl(args.selection):
        if pointer["id"] in seen:
            continue
        seen.add(pointer["id"])
        source = SOURCES[pointer["source"]]
        label = decided[pointer["id"]]
        rows.append(
            {
                **pointer,
                "repository": source.repository,
                "commit": source.commit,
                "licence": source.licence,
                "labels": dict(zip(EVENT_TYPES, label["labels"], strict=True)),
                "ambiguous": label["ambiguous"],
                "note": label["note"],
                "decided_by": label["decided_by"],
            }
        )
    validation, train = split(rows, args.validation_size, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("validation", validation), ("train", train)):
        ordered = sorted(part, key=lambda r: str(r["id"]))
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in ordered)
        (args.out / f"{name}.jsonl").write_text(text, encoding="utf-8")
    report = {
        "agreement": agreement(first, second),
        "disagreements": sum(1 for r in rows if r["decided_by"] == "third"),
        "counts": {"all": counts(rows), "validation": counts(validation), "train": counts(train)},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
