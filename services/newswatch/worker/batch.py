"""Classify a batch of articles so that one bad article fails alone (pure; runs on the inference thread).

    results = classify_resilient(classifier, articles, policy)   # a Classification or ModelFailedError each

A failing batch is split as the failure policy says (in halves: k bad articles in a batch of n cost
O(k log n) extra model calls) until the failing articles are isolated; the good ones are still classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from newswatch.contracts import Article, Classification
from newswatch.worker.errors import ModelFailedError
from newswatch.worker.policy import Action, FailurePolicy, Stage

__all__ = ["Classifier", "classify_resilient", "split"]

T = TypeVar("T")


class Classifier(Protocol):
    """What the worker needs of :class:`newswatch.classifier.EventClassifier`.

    ``classify`` returns one Classification per article, in order, built by ``Classification.from_article``
    (so it carries the article's fields and ``classified_at``); the worker publishes it as it is.
    """

    @property
    def model_version(self) -> str: ...

    def classify(self, articles: Sequence[Article]) -> list[Classification]: ...


def _classify_checked(classifier: Classifier, articles: Sequence[Article]) -> list[Classification]:
    try:
        results = classifier.classify(articles)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # tokenizers can raise a pyo3 PanicException (a BaseException)
        raise ModelFailedError(f"{type(exc).__name__}: {exc}") from exc
    if len(results) != len(articles):
        raise ModelFailedError(f"classifier returned {len(results)} results for {len(articles)} articles")
    for article, result in zip(articles, results, strict=True):
        if result.article_id != article.id:
            raise ModelFailedError(f"classifier answered for {result.article_id!r}, expected {article.id!r}")
    return results


def split(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """``items`` in ``parts`` consecutive groups of nearly equal size, the larger ones last (none empty).

    split([1, 2, 3], 2)   # [[1], [2, 3]]
    """
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out: list[Sequence[T]] = []
    start = 0
    for k in range(parts):
        end = start + size + (1 if k >= parts - extra else 0)
        out.append(items[start:end])
        start = end
    return out


def classify_resilient(
    classifier: Classifier, articles: Sequence[Article], policy: FailurePolicy
) -> list[Classification | ModelFailedError]:
    """Classify ``articles`` in one call if possible, else split as ``policy`` says; failures are returned.

    classify_resilient(clf, [ok, poison, ok], policy)   # [Classification, ModelFailedError, Classification]
    """
    if not articles:
        return []
    try:
        return list(_classify_checked(classifier, articles))
    except ModelFailedError as exc:
        decision = policy.decide(Stage.CLASSIFY, exc, records=len(articles))
        if decision.action is not Action.SPLIT or decision.parts <= 1:
            return [exc] * len(articles)
    results: list[Classification | ModelFailedError] = []
    for part in split(articles, decision.parts):
        results.extend(classify_resilient(classifier, part, policy))
    return results
