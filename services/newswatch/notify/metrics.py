"""Every metric of the notify service (namespace ``newswatch``, subsystem ``notify``); see docs/metrics.md.

Label values are bounded: ``subscription`` is a configured subscription name, ``outcome`` and ``reason``
come from fixed sets, and every combination is created at start so its series begins at zero.

    metrics = NotifyMetrics(["ops-team"], registry=CollectorRegistry())
    metrics.deliveries.labels(subscription="ops-team", outcome="sent").inc()
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["DEADLETTER_REASONS", "OUTCOMES", "NotifyMetrics"]

OUTCOMES = ("sent", "failed", "retry", "filtered", "duplicate")
DEADLETTER_REASONS = ("decode_error", "schema_invalid", "payload_too_large", "delivery_failed")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class NotifyMetrics:
    """The notify service's metrics, registered in ``registry`` (a fresh one per test)."""

    def __init__(self, subscriptions: Iterable[str], registry: CollectorRegistry = REGISTRY) -> None:
        ns, sub = "newswatch", "notify"
        self.alerts_consumed = Counter(
            "alerts_consumed",
            "Records read from the alerts topic.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.deliveries = Counter(
            "deliveries",
            "Deliveries per subscription by outcome (sent, failed, retry, filtered, duplicate).",
            ["subscription", "outcome"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.delivery_duration = Histogram(
            "delivery_duration_seconds",
            "Time to deliver one alert to one subscription, retries included.",
            ["subscription"],
            buckets=_LATENCY_BUCKETS,
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.queued = Gauge(
            "queued_alerts",
            "Alerts waiting in each subscription's queue.",
            ["subscription"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.deadletters = Counter(
            "deadletters",
            "Records dead-lettered by the notify service, by reason.",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.last_delivery = Gauge(
            "last_delivery_timestamp_seconds",
            "Unix time of the last successful delivery per subscription.",
            ["subscription"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        for name in subscriptions:
            for outcome in OUTCOMES:
                self.deliveries.labels(subscription=name, outcome=outcome)
            self.delivery_duration.labels(subscription=name)
            self.queued.labels(subscription=name)
        for reason in DEADLETTER_REASONS:
            self.deadletters.labels(reason=reason)
