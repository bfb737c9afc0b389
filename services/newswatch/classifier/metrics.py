"""Prometheus metrics of the classifier (namespace ``newswatch``, subsystem ``classifier``).

The worker creates one :class:`ClassifierMetrics` on its registry and passes it to ``load_classifier``.

    metrics = ClassifierMetrics(registry=CollectorRegistry())
    metrics.articles.labels(stage="screened_out").inc()
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from newswatch.contracts.models import EVENT_TYPES

__all__ = ["STAGES", "ClassifierMetrics"]

STAGES = ("screened_out", "scored")
_NS, _SUB = "newswatch", "classifier"


class ClassifierMetrics:
    """Every classifier metric; label values are pre-initialised so their series start at zero."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.articles = Counter(
            "articles",
            "Articles classified, by stage reached (lexical screen or transformer).",
            ["stage"],
            namespace=_NS,
            subsystem=_SUB,
            registry=registry,
        )
        self.positives = Counter(
            "positives",
            "Articles decided yes, by event type.",
            ["event_type"],
            namespace=_NS,
            subsystem=_SUB,
            registry=registry,
        )
        self.windows = Counter(
            "windows",
            "Extra text windows scored for long articles.",
            namespace=_NS,
            subsystem=_SUB,
            registry=registry,
        )
        self.failures = Counter(
            "failures", "Batches on which the model failed.", namespace=_NS, subsystem=_SUB, registry=registry
        )
        self.batch_duration = Histogram(
            "batch_duration_seconds",
            "Time to classify one batch (screen, model, evidence, countries).",
            namespace=_NS,
            subsystem=_SUB,
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        for stage in STAGES:
            self.articles.labels(stage=stage)
        for event_type in EVENT_TYPES:
            self.positives.labels(event_type=event_type)
