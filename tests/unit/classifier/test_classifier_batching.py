"""Decisions do not depend on the batch: an article gets the same labels, and probabilities within 1e-4,
scored alone or in any batch (the default ONNX cascade, on real dev items of mixed lengths)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.unit.classifier.conftest import make_article

from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.loader import load_classifier
from newswatch.classifier.settings import ClassifierSettings
from newswatch.contracts.models import EVENT_TYPES, Article, Classification
from newswatch.tooling.training.data import load_labelled

N_ITEMS = 240


@pytest.fixture(scope="module")
def clf() -> EventClassifier:
    return load_classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def articles(shared_dir: Path) -> list[Article]:
    items = load_labelled(shared_dir / "data" / "dev" / "events-dev.jsonl")[:N_ITEMS]
    out = []
    for n, it in enumerate(items):
        # Mixed shapes: title + summary, title only, and a long body that is scored in windows.
        if n % 7 == 3:
            out.append(make_article(it.title, "", id_=it.id))
        elif n % 11 == 5:
            out.append(make_article(it.title, it.summary, content=" ".join([it.summary] * 6), id_=it.id))
        else:
            out.append(make_article(it.title, it.summary, id_=it.id))
    return out


def _by_id(results: Sequence[Classification]) -> dict[str, Classification]:
    return {r.article_id: r for r in results}


def _batched(clf: EventClassifier, articles: Sequence[Article], seed: int) -> dict[str, Classification]:
    rng = random.Random(seed)
    order = list(articles)
    rng.shuffle(order)
    out: dict[str, Classification] = {}
    start = 0
    while start < len(order):
        size = rng.choice((2, 5, 8, 13, 32, 64))
        out.update(_by_id(clf.classify(order[start : start + size])))
        start += size
    return out


def test_scores_do_not_depend_on_the_batch(clf: EventClassifier, articles: list[Article]) -> None:
    assert len(articles) >= 200
    alone = {a.id: clf.classify([a])[0] for a in articles}
    positives = sum(bool(r.labels) for r in alone.values())
    assert positives >= 20  # the comparison covers yes decisions, not only clear no's
    for seed in (1, 2):
        batched = _batched(clf, articles, seed)
        assert set(batched) == set(alone)
        for article_id, one in alone.items():
            other = batched[article_id]
            assert other.labels == one.labels, article_id
            for event in EVENT_TYPES:
                assert abs(other.scores.get(event) - one.scores.get(event)) <= 1e-4, (article_id, event)
            assert other.evidence == one.evidence, article_id
