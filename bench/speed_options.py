"""Two ways to make the classifier cheaper, measured against its accuracy (issue 3's speed bars); none ships.

screen:  a learned second stage after the keyword screen. Hashed word 1-2-grams and character 3-5-grams of
         each model input (title + body, accents folded), logistic regression (C=1, balanced). Its target is
         "the shipped model would look at this": the exact graph's probability reaches the cascade gate (0.1)
         on some label, or the item is a gold positive. Scores come from 5-fold cross-validation on the
         training inputs (real feed items and written items), and from a fit on all of them for the dev set.
         An input is dropped below (lowest cross-validated score of any input the shipped model says yes to)
         minus a margin. Printed per margin: the share of the model's negatives dropped (real feed items in
         CV, dev items) and the yes decisions and gate-passing inputs it would lose.
student: the same training recipe on a truncated encoder: the first K base layers (frozen) and two trained
         layers (initialised from base layers 10 and 11) + head, about (K + 2) / 12 of the shipped cost.
         Thresholds are tuned on dev as the shipped model's were; prints its dev scores.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/speed_options.py screen     # ~3 min (needs scikit-learn)
    HF_HUB_OFFLINE=1 .venv/bin/python bench/speed_options.py student --keep 4 --out /tmp/student   # ~6 min

Results are in bench/README.md ("What else was tried").
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRAIN_FILE = SHARED / "data" / "train" / "events-train-en.jsonl"
DEV_FILE = SHARED / "data" / "dev" / "events-dev.jsonl"
N_BUCKETS = 2**18
_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _hashed(pair: tuple[str, str | None]) -> np.ndarray[Any, np.dtype[np.int64]]:
    words = _WORD.findall(_fold(f"{pair[0]} \n {pair[1] or ''}"[:700]))
    grams = [f"w:{w}" for w in words] + [f"b:{a}_{b}" for a, b in itertools.pairwise(words)]
    for word in words:
        padded = f" {word} "
        grams += [f"c:{padded[i : i + n]}" for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    return np.unique(np.array([zlib.crc32(g.encode()) % N_BUCKETS for g in grams], dtype=np.int64))


def _inputs() -> list[dict[str, Any]]:
    """Every model input (head, and windows with a trigger word) of the keyword-passing training/dev items."""
    from newswatch.classifier.classifier import ArticleText, _windows
    from newswatch.classifier.screen import passes_screen
    from newswatch.classifier.text import clean_text
    from newswatch.tooling.training.data import load_labelled

    files = [TRAIN_FILE, *sorted((ROOT / "data" / "train").glob("written-*.jsonl")), DEV_FILE]
    rows: list[dict[str, Any]] = []
    for path in files:
        for item in load_labelled(path):
            text = ArticleText(clean_text(item.title), clean_text(item.summary))
            if not passes_screen(text.full):
                continue
            head = (text.title, text.body or None) if text.title else (text.body, None)
            pairs = [head] + [p for p in _windows(text, 128, 12) if passes_screen(p[1] or p[0])]
            for k, pair in enumerate(pairs):
                rows.append({"file": path.name, "pair": pair, "gold": k == 0 and any(item.labels)})
    return rows


def study_screen() -> dict[str, Any]:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from newswatch.classifier.loader import load_classifier
    from newswatch.classifier.settings import ClassifierSettings

    clf = load_classifier(ClassifierSettings(backend="onnx-exact", num_threads=2))
    rows = _inputs()
    probs = clf.calibrate(clf.scorer.logits([r["pair"] for r in rows]))
    thresholds = np.array(list(clf.thresholds.values()))
    yes = (probs >= thresholds).any(axis=1)
    gate = (probs >= 0.1).any(axis=1)
    gold = np.array([r["gold"] for r in rows])
    dev = np.array([r["file"] == DEV_FILE.name for r in rows])
    real = np.array([r["file"] == TRAIN_FILE.name for r in rows])
    hashed = [_hashed(r["pair"]) for r in rows]
    values = np.concatenate([np.full(len(h), 1 / np.sqrt(max(1, len(h)))) for h in hashed])
    pointers = np.cumsum([0] + [len(h) for h in hashed])
    x = csr_matrix((values, np.concatenate(hashed), pointers), shape=(len(rows), N_BUCKETS))
    y = (gate | gold).astype(int)
    train = np.flatnonzero(~dev)
    oof = np.zeros(len(rows))
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(train, y[train]):
        model = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
        model.fit(x[train[fit]], y[train[fit]])
        oof[train[held]] = model.decision_function(x[train[held]])
    model = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced").fit(x[train], y[train])
    dev_scores = model.decision_function(x[dev])
    lowest_yes = float(oof[train][yes[train]].min())
    report: dict[str, Any] = {
        "inputs": {"train": len(train), "dev": int(dev.sum())},
        "model_yes": {"train": int(yes[train].sum()), "dev": int(yes[dev].sum())},
        "margins": [],
    }
    for margin in (0.0, 0.5, 1.0):
        cut = lowest_yes - margin
        cv_neg = ~gate & ~dev & real
        report["margins"].append(
            {
                "margin": margin,
                "cv_real_negatives_dropped": round(float(((oof < cut) & cv_neg).sum() / cv_neg.sum()), 3),
                "dev_negatives_dropped": round(
                    float(((dev_scores < cut) & ~gate[dev]).sum() / (~gate[dev]).sum()), 3
                ),
                "dev_yes_lost": int(((dev_scores < cut) & yes[dev]).sum()),
                "dev_gate_inputs_lost": int(((dev_scores < cut) & gate[dev]).sum()),
                "cv_gate_inputs_lost": int(((oof < cut) & gate & ~dev).sum()),
            }
        )
    return report


def study_student(keep: int, out: Path) -> dict[str, Any]:
    from torch import nn

    from newswatch.classifier import model as model_module
    from newswatch.tooling.training import train as train_module
    from newswatch.tooling.training.main import DEFAULT_SEED_ARTICLE, train_files

    load_base = model_module.EventNet.from_base

    def truncated(path: str, n_labels: int, local_only: bool = True) -> model_module.EventNet:
        net = load_base(path, n_labels, local_only)
        layers = net.layers
        kept = [layers[i] for i in (*range(keep), len(layers) - 2, len(layers) - 1)]
        net.encoder.encoder.layer = nn.ModuleList(kept)
        net.encoder.config.num_hidden_layers = len(kept)
        return net

    train_module.EventNet.from_base = truncated
    config = train_module.TrainConfig(
        data_files=train_files([TRAIN_FILE], ROOT / "data" / "train"),
        out_dir=out,
        dev_file=DEV_FILE,
        seed_article=ROOT / DEFAULT_SEED_ARTICLE,
    )
    manifest = train_module.train(config)
    return {"layers": keep + 2, "thresholds": manifest.thresholds, "dev_scores": manifest.dev_scores}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="study", required=True)
    sub.add_parser("screen")
    student = sub.add_parser("student")
    student.add_argument("--keep", type=int, default=4, help="base layers kept below the two trained ones")
    student.add_argument("--out", type=Path, default=Path("/tmp/newswatch-student"))
    args = parser.parse_args(argv)
    report = study_screen() if args.study == "screen" else study_student(args.keep, args.out)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
