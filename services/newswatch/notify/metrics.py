"""Every metric of the notify service (namespace ``newswatch``, subsystem ``notify``); see docs/metrics.md.

Label values are bounded: ``subscription`` is a configured subscription name, ``outcome`` and ``reason``
come from fixed sets, and every combination is created at start so its series begins at zero.

    metrics = NotifyMetrics(["ops-team"], registry=CollectorRegistry())
    metrics.deliveries.labels(subscription="ops-team", outcome="sent").inc()
"""

from __future__ import annotations

from collections.abc import Iterable

import pycountry
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from newswatch.contracts import Alert

__all__ = ["COUNTRY_LABELS", "DEADLETTER_REASONS", "OUTCOMES", "NotifyMetrics"]

OUTCOMES = ("sent", "failed", "retry", "filtered", "duplicate")
DEADLETTER_REASONS = ("decode_error", "schema_invalid", "payload_too_large", "delivery_failed")
# ISO 3166-1 alpha-2 codes (a bounded set of ~250), "none" for alerts without a country, "other" for
# codes outside the ISO list (e.g. user-assigned XK)
COUNTRY_LABELS = (*sorted(c.alpha_2 for c in pycountry.countries), "none", "other")
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
            "Alerts waiting in each subscription's backlog.",
            ["subscription"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.parked = Gauge(
            "subscription_parked",
            "1 while the subscription is parked (its receiver failed; probed, not retried per alert).",
            ["subscription"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.backlog_dropped = Counter(
            "backlog_dropped_alerts",
            "Alerts dropped (dead-lettered undelivered) from a subscription's full backlog.",
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
        self.deadletters_refused = Counter(
            "deadletters_refused",
            "Dead letters the sink refused for good (e.g. too large for the topic): logged, then settled.",
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
        self.alerts_by_country = Counter(
            "alerts_by_country",
            "New alerts (status new) per country they involve; an alert with two countries counts twice.",
            ["country"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        self.last_alert = Gauge(
            "last_alert_timestamp_seconds",
            "Unix time of the newest alert seen, per event type and severity.",
            ["event_type", "severity"],
            namespace=ns,
            subsystem=sub,
            registry=registry,
        )
        for country in COUNTRY_LABELS:
            self.alerts_by_country.labels(country=country)
        for name in subscriptions:
            for outcome in OUTCOMES:
                self.deliveries.labels(subscription=name, outcome=outcome)
            self.delivery_duration.labels(subscription=name)
            self.queued.labels(subscription=name)
            self.parked.labels(subscription=name)
            self.backlog_dropped.labels(subscription=name)
        for reason in DEADLETTER_REASONS:
            self.deadletters.labels(reason=reason)
            self.deadletters_refused.labels(reason=reason)

    def observe_alert(self, alert: Alert) -> None:
        """Count a consumed alert for the Events dashboard (country counts only for ``status: new``)."""
        self.last_alert.labels(event_type=alert.event_type, severity=alert.severity).set(
            alert.last_updated.timestamp()
        )
        if alert.status != "new":
            return
        known = set(COUNTRY_LABELS)
        for country in alert.countries or ("none",):
            self.alerts_by_country.labels(country=country if country in known else "other").inc()
