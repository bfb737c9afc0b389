"""Scores against labelled data: per-label precision/recall/F1 with counts, macro-F1, the false-positive rate
on items with no label; overall and per language; ambiguous items reported apart. Also threshold selection,
and the classifier's probabilities on labelled items.

    probs, _ = dev_decisions(clf, items)
    report = evaluate(items, predicted)            # predicted: one tuple of 0/1 per item
    print(format_report(report))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from newswatch.classifier.classifier import ArticleText, EventClassifier
from newswatch.classifier.text import clean_text
from newswatch.contracts.models import EVENT_TYPES, EventType
from newswatch.tooling.training.data import LabelledItem

__all__ = ["choose_thresholds", "dev_decisions", "evaluate", "format_report", "subset_scores"]


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def subset_scores(items: Sequence[LabelledItem], predicted: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Counts and scores for one subset of items (all of them count)."""
    labels: dict[str, Any] = {}
    f1s: list[float] = []
    for k, name in enumerate(EVENT_TYPES):
        tp = sum(1 for it, p in zip(items, predicted, strict=True) if it.labels[k] and p[k])
        fp = sum(1 for it, p in zip(items, predicted, strict=True) if not it.labels[k] and p[k])
        fn = sum(1 for it, p in zip(items, predicted, strict=True) if it.labels[k] and not p[k])
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = _ratio(2 * precision * recall, precision + recall)
        # A label with no positives and no false alarms is perfect, not zero.
        if tp + fp + fn == 0:
            precision = recall = f1 = 1.0
        f1s.append(f1)
        labels[name] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "support": tp + fn,
        }
    no_label = [p for it, p in zip(items, predicted, strict=True) if not it.has_event]
    flagged = sum(1 for p in no_label if any(p))
    return {
        "n": len(items),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "labels": labels,
        "no_label_items": len(no_label),
        "no_label_flagged": flagged,
        "fp_rate_no_label": round(_ratio(flagged, len(no_label)), 4),
    }


def evaluate(items: Sequence[LabelledItem], predicted: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Scores on non-ambiguous items (overall, ``en``, ``fr``, other languages) and on the ambiguous ones.

    >>> evaluate(items, [(0, 1, 0), ...])["scored"]["all"]["macro_f1"]   # doctest: +SKIP
    """
    report: dict[str, Any] = {"scored": {}, "ambiguous": {}}
    for key, keep_ambiguous in (("scored", False), ("ambiguous", True)):
        pool = [(it, p) for it, p in zip(items, predicted, strict=True) if it.ambiguous == keep_ambiguous]
        languages = sorted({it.lang for it, _ in pool})
        for lang in ["all", *languages]:
            part = [(it, p) for it, p in pool if lang in ("all", it.lang)]
            if part:
                report[key][lang] = subset_scores([it for it, _ in part], [p for _, p in part])
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate`'s report."""
    lines: list[str] = []
    for key, heading in (
        ("scored", "non-ambiguous items (scored)"),
        ("ambiguous", "ambiguous items (apart)"),
    ):
        for lang, s in report.get(key, {}).items():
            lines.append(
                f"== {heading}, language={lang}: n={s['n']}  macro-F1={s['macro_f1']:.3f}  "
                f"FP rate on no-label items={s['fp_rate_no_label']:.3f} "
                f"({s['no_label_flagged']}/{s['no_label_items']})"
            )
            lines.append(
                f"   {'label':22} {'P':>6} {'R':>6} {'F1':>6} {'TP':>4} {'FP':>4} {'FN':>4} {'sup':>4}"
            )
            for name, m in s["labels"].items():
                lines.append(
                    f"   {name:22} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
                    f"{m['tp']:4d} {m['fp']:4d} {m['fn']:4d} {m['support']:4d}"
                )
    return "\n".join(lines)


def choose_thresholds(
    items: Sequence[LabelledItem], probs: npt.NDArray[np.float64], floor: float = 0.2, ceiling: float = 0.95
) -> dict[EventType, float]:
    """Per label, the threshold that maximises F1 on the non-ambiguous items, taken at the middle of the
    best plateau (and within [floor, ceiling]) so that it does not hug one item.

    >>> choose_thresholds(items, probs)["coup"]    # doctest: +SKIP
    0.61
    """
    keep = [i for i, it in enumerate(items) if not it.ambiguous]
    y = np.array([[items[i].labels[k] for k in range(len(EVENT_TYPES))] for i in keep])
    p = probs[keep]
    grid = np.round(np.arange(floor, ceiling + 1e-9, 0.01), 2)
    chosen: dict[EventType, float] = {}
    for k, name in enumerate(EVENT_TYPES):
        f1s = []
        for t in grid:
            pred = p[:, k] >= t
            tp = float(np.sum(pred & (y[:, k] == 1)))
            fp = float(np.sum(pred & (y[:, k] == 0)))
            fn = float(np.sum(~pred & (y[:, k] == 1)))
            f1s.append(_ratio(2 * tp, 2 * tp + fp + fn))
        best = max(f1s)
        at_best = [float(t) for t, f in zip(grid, f1s, strict=True) if f >= best - 1e-9]
        chosen[name] = round(float(np.median(at_best)), 2)
    return chosen


def dev_decisions(
    clf: EventClassifier, items: Sequence[LabelledItem]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(article probabilities, head-only probabilities) of labelled items, as the classifier computes them."""
    texts = [ArticleText(clean_text(it.title), clean_text(it.summary)) for it in items]
    scores = clf.score_texts(texts)
    return np.stack([s.probs for s in scores]), np.stack([s.head for s in scores])
