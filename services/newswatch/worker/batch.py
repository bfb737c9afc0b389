"""Classify a batch of articles so that one bad article fails alone (pure; runs on the inference thread).

    results = classify_resilient(classifier, articles)   # one Classification or ModelFailedError per article
    record = enrich(article, results[0], classified_at=now)

A failing batch is split in halves until the failing articles are isolated, so k bad articles in a batch of n
cost O(k log n) extra model calls and the good ones are still classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from newswatch.contracts import Article, Classification
from newswatch.worker.errors import ModelFailedError

__all__ = ["Classifier", "classify_resilient", "enrich"]


class Classifier(Protocol):
    """What the worker needs of :class:`newswatch.classifier.EventClassifier`."""

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


def classify_resilient(
    classifier: Classifier, articles: Sequence[Article]
) -> list[Classification | ModelFailedError]:
    """Classify ``articles`` in one call if possible, else by halves; failures are returned, not raised.

    classify_resilient(clf, [good, poison, good])   # [Classification, ModelFailedError, Classification]
    """
    if not articles:
        return []
    try:
        return list(_classify_checked(classifier, articles))
    except ModelFailedError as exc:
        if len(articles) == 1:
            return [exc]
    middle = len(articles) // 2
    head = classify_resilient(classifier, articles[:middle])
    return [*head, *classify_resilient(classifier, articles[middle:])]


def enrich(article: Article, classification: Classification, *, classified_at: datetime) -> Classification:
    """Copy the article fields consumers want onto the classification and stamp ``classified_at``.

    enrich(article, result, classified_at=datetime.now(UTC)).url == article.url   # True
    """
    return classification.model_copy(  # values come from validated records: no re-validation needed
        update={
            "language": classification.language or article.language,
            "url": article.url,
            "title": article.title,
            "outlet": article.outlet,
            "published_at": article.published_at,
            "fetched_at": article.fetched_at,
            "classified_at": classified_at.astimezone(UTC),
        }
    )
