"""``newswatch data``: rebuild the texts of the committed real-news labels, or count them.

    newswatch data rebuild --repo rsstrends=/src/rssTrends --repo orangesum=/src/OrangeSum \\
        --repo news-archive=/src/news-archive --repo newsflow=/src/newsflow
    newswatch data rebuild --clone-into .state/sources      # git clone what is not given (needs GitHub)
    newswatch data stats

``data/real/*.jsonl`` hold ids, labels and pointers (source, path, key at a pinned commit); rebuilt files with
``title`` and ``summary`` go to ``.state/data/real/`` (never committed), where ``newswatch train`` reads them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from newswatch.tooling.corpus import SOURCES, CorpusError
from newswatch.tooling.labelset import counts, rebuild

__all__ = ["add_data_arguments", "run_data"]

LABELS_DIR = Path("data/real")
REBUILT_DIR = Path(".state/data/real")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["rebuild", "stats"])
    parser.add_argument("--labels-dir", type=Path, default=LABELS_DIR, help="committed pointer files")
    parser.add_argument("--out", type=Path, default=REBUILT_DIR, help="where rebuilt files go")
    parser.add_argument("--repo", action="append", default=[], help="NAME=PATH of a source clone (repeat)")
    parser.add_argument(
        "--clone-into", type=Path, default=None, help="clone each source not given with --repo into DIR/NAME"
    )


def _clone(name: str, into: Path) -> Path:
    source = SOURCES[name]
    target = into / name
    if not target.exists():
        into.mkdir(parents=True, exist_ok=True)
        url = f"https://github.com/{source.repository}.git"
        try:
            subprocess.run(["git", "clone", "--bare", "--quiet", url, str(target)], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise CorpusError(f"cannot clone {url}: {exc}") from exc
    return target


def run_data(args: argparse.Namespace) -> int:
    files = sorted(args.labels_dir.glob("*.jsonl"))
    if not files:
        sys.stderr.write(json.dumps({"error": f"no label files in {args.labels_dir}"}) + "\n")
        return 2
    if args.action == "stats":
        for path in files:
            rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            sys.stdout.write(json.dumps({"file": path.name, "counts": counts(rows)}) + "\n")
        return 0
    try:
        repos = {}
        for spec in args.repo:
            name, sep, path = spec.partition("=")
            if not sep or name not in SOURCES:
                raise CorpusError(f"--repo wants NAME=PATH with NAME one of {sorted(SOURCES)}: {spec!r}")
            repos[name] = Path(path)
        if args.clone_into is not None:
            for name in SOURCES:
                repos.setdefault(name, _clone(name, args.clone_into))
        written = rebuild(files, repos, args.out)
    except CorpusError as exc:
        sys.stderr.write(json.dumps({"error": str(exc)}) + "\n")
        return 2
    sys.stdout.write(json.dumps({"out": str(args.out), "written": written}) + "\n")
    return 0
