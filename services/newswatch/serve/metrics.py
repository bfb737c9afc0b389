"""Every metric of the serve service (namespace ``newswatch``, subsystem ``serve``); see docs/metrics.md.

``route`` is a route template of the app (``/alerts/{alert_id}``, a bounded set, ``other`` for paths that
match none), ``status`` an HTTP status code; both are created at start for the routes and usual codes.

    metrics = ServeMetrics(["/", "/api/v1/alerts"], registry=CollectorRegistry())
    metrics.requests.labels(route="/", status="200").inc()
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SKIP_REASONS", "STATUSES", "ServeMetrics"]

STATUSES = ("200", "304", "400", "404", "500", "503")
SKIP_REASONS = ("decode_error", "schema_invalid", "payload_too_large")
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServeMetrics:
    """The serve service's metrics, registered in ``registry`` (a fresh one per test)."""

    def __init__(self, routes: Iterable[str], registry: CollectorRegistry = REGISTRY) -> None:
        ns, sub = "newswatch", "serve"
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route template and status code.",
            ["route", "status"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer one HTTP request, by route template.",
            ["route"],
            buckets=_DURATION_BUCKETS,
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.records = Counter(
            "records_applied",
            "Alert records written to the read model (tombstones included).",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.skipped = Counter(
            "records_skipped",
            "Records on the alerts topic that are not valid Alert v1, skipped, by reason.",
            ["reason"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.lag = Gauge(
            "readmodel_lag_messages",
            "End offset of the alerts topic minus the read model's position, per partition.",
            ["partition"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.alerts = Gauge(
            "readmodel_alerts",
            "Alerts held by the read model.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.versions = Gauge(
            "readmodel_versions",
            "Alert versions held by the read model.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.ready = Gauge(
            "readmodel_ready",
            "1 once the read model caught up with the end offsets seen at start-up.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.pruned = Counter(
            "readmodel_pruned_alerts",
            "Alerts removed because the topic no longer holds them or they passed max_age_days.",
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        for route in (*routes, "other"):
            self.request_duration.labels(route=route)
            for status in STATUSES:
                self.requests.labels(route=route, status=status)
        for reason in SKIP_REASONS:
            self.skipped.labels(reason=reason)
