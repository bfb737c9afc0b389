"""CLI of the classifier: ``newswatch classify`` (``newswatch eval`` and ``newswatch train`` are tooling:
:mod:`newswatch.tooling.training.main`).

Data flow: Article v1 JSON lines (stdin or --input)
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
from typing import IO, Any

from pydantic import ValidationError

from newswatch.classifier.errors import ClassifierError
from newswatch.contracts.models import Article, Classification

__all__ = ["add_classify_arguments", "classify_stream", "run_classify"]

log = logging.getLogger(__name__)


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
