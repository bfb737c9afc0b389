"""Every Prometheus metric of the worker (``newswatch_worker_*``; the contract is docs/metrics.md).

    metrics = WorkerMetrics(registry=CollectorRegistry())
    metrics.articles_consumed.inc()
    metrics.set_info(model_version="minilm-v3", app_version="0.1.0")

Label values are bounded and pre-initialised: reasons, event types, severities and statuses come from the
contracts; ``topic``/``partition`` of the lag gauge are the partitions assigned to this worker (removed on
revocation).
"""

from __future__ import annotations

from typing import Any, get_args

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info

from newswatch.contracts import EVENT_TYPES, AlertStatus, DeadLetterReason, Severity

__all__ = ["WorkerMetrics"]

_NS = "newswatch"
_SUB = "worker"
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_INFERENCE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PIPELINE = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_AGE = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0)


class WorkerMetrics:
    """The worker's metrics, registered in ``registry`` (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = REGISTRY if registry is None else registry
        self.registry = reg
        common: dict[str, Any] = {"namespace": _NS, "subsystem": _SUB, "registry": reg}
        self.articles_consumed = Counter(
            "articles_consumed", "Records read from the articles topic.", **common
        )
        self.articles_classified = Counter(
            "articles_classified", "Classification records produced.", **common
        )
        self.deadletters = Counter("deadletters", "Records dead-lettered, by reason.", ["reason"], **common)
        self.batch_size = Histogram("batch_size", "Articles per inference batch.", buckets=_BATCH, **common)
        self.inference_duration = Histogram(
            "inference_duration_seconds", "Model time per batch.", buckets=_INFERENCE, **common
        )
        self.alerts = Counter("alerts", "Alerts emitted.", ["event_type", "severity", "status"], **common)
        self.candidates_held = Counter(
            "candidates_held",
            "Positive candidates that opened no alert (reason: no_country, a placeless coup).",
            ["event_type", "reason"],
            **common,
        )
        self.consumer_lag = Gauge(
            "consumer_lag_messages", "End offset minus position.", ["topic", "partition"], **common
        )
        self.published_to_alert = Histogram(
            "published_to_alert_seconds", "Publication to alert.", ["event_type"], buckets=_AGE, **common
        )
        self.ingested_to_alert = Histogram(
            "ingested_to_alert_seconds", "Poller fetch to alert.", ["event_type"], buckets=_PIPELINE, **common
        )
        self.ingested_to_classified = Histogram(
            "ingested_to_classified_seconds", "Poller fetch to classification.", buckets=_PIPELINE, **common
        )
        self.info = Info("worker", "Model and app version of this worker.", namespace=_NS, registry=reg)
        for reason in get_args(DeadLetterReason):
            self.deadletters.labels(reason=reason)
        for event_type in EVENT_TYPES:
            self.published_to_alert.labels(event_type=event_type)
            self.ingested_to_alert.labels(event_type=event_type)
            for severity in get_args(Severity):
                for status in get_args(AlertStatus):
                    self.alerts.labels(event_type=event_type, severity=severity, status=status)

    def set_info(self, *, model_version: str, app_version: str) -> None:
        """Publish ``newswatch_worker_info{model_version=...,app_version=...} 1``."""
        self.info.info({"model_version": model_version, "app_version": app_version})
