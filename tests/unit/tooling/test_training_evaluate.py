"""Evaluation counts and threshold selection."""

from __future__ import annotations

import numpy as np

from newswatch.tooling.training.data import LabelledItem
from newswatch.tooling.training.evaluate import choose_thresholds, evaluate, format_report


def item(i: int, labels: tuple[int, int, int], lang: str = "en", ambiguous: bool = False) -> LabelledItem:
    return LabelledItem(f"i{i}", lang, f"title {i}", "", labels, ambiguous, "test")


def test_counts_per_label_language_and_ambiguous_apart() -> None:
    items = [
        item(1, (1, 0, 0)),
        item(2, (1, 0, 0)),
        item(3, (0, 0, 0)),
        item(4, (0, 1, 0), "fr"),
        item(5, (0, 0, 0), "fr"),
        item(6, (0, 1, 0), ambiguous=True),
    ]
    predicted = [(1, 0, 0), (0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]
    report = evaluate(items, predicted)
    overall = report["scored"]["all"]
    assert overall["n"] == 5
    withdrawal = overall["labels"]["military_withdrawal"]
    assert (withdrawal["tp"], withdrawal["fp"], withdrawal["fn"], withdrawal["support"]) == (1, 1, 1, 2)
    assert withdrawal["f1"] == 0.5
    assert overall["labels"]["coup"]["f1"] == 1.0
    assert overall["no_label_items"] == 2 and overall["no_label_flagged"] == 2
    assert overall["fp_rate_no_label"] == 1.0
    assert report["scored"]["fr"]["n"] == 2
    assert report["ambiguous"]["all"]["labels"]["coup"]["fn"] == 1
    text = format_report(report)
    assert "language=fr" in text and "ambiguous" in text and "macro-F1" in text


def test_label_without_positives_or_alarms_is_perfect() -> None:
    report = evaluate([item(1, (0, 0, 0))], [(0, 0, 0)])
    assert report["scored"]["all"]["macro_f1"] == 1.0


def test_choose_thresholds_separates_and_ignores_ambiguous() -> None:
    items = [item(1, (1, 0, 0)), item(2, (1, 0, 0)), item(3, (0, 0, 0)), item(4, (0, 0, 0), ambiguous=True)]
    probs = np.array([[0.9, 0.1, 0.1], [0.7, 0.1, 0.1], [0.4, 0.1, 0.1], [0.95, 0.1, 0.1]])
    thresholds = choose_thresholds(items, probs)
    assert 0.4 < thresholds["military_withdrawal"] <= 0.7
