"""Package surface and metric names (docs/metrics.md is the contract)."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from newswatch.notify.metrics import NotifyMetrics

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"


def test_metrics_are_documented_and_preinitialised() -> None:
    registry = CollectorRegistry()
    NotifyMetrics(["ops"], registry=registry)
    exposed = {m.name for m in registry.collect()}
    documented = set(re.findall(r"`(newswatch_notify_[a-z_]+)`", DOCS.read_text()))
    # prometheus-client reports counters without their _total suffix
    assert {d.removesuffix("_total") for d in documented} == exposed
    outcomes = {
        s.labels["outcome"]
        for m in registry.collect()
        for s in m.samples
        if s.name == "newswatch_notify_deliveries_total"
    }
    assert outcomes == {"sent", "failed", "retry", "filtered", "duplicate"}


def test_alerts_are_counted_by_country_for_new_alerts_only() -> None:
    from tests.unit.notify.receiver import make_alert

    registry = CollectorRegistry()
    metrics = NotifyMetrics([], registry=registry)
    metrics.observe_alert(make_alert(countries=["FR", "ML"]))
    metrics.observe_alert(make_alert(countries=["ML"], status="update", version=2))
    metrics.observe_alert(make_alert(countries=[]))
    metrics.observe_alert(make_alert(countries=["XK"]))

    def count(country: str) -> float | None:
        return registry.get_sample_value("newswatch_notify_alerts_by_country_total", {"country": country})

    assert (count("FR"), count("ML"), count("none"), count("other"), count("NE")) == (1, 1, 1, 1, 0)
    stamp = registry.get_sample_value(
        "newswatch_notify_last_alert_timestamp_seconds",
        {"event_type": "military_withdrawal", "severity": "flash"},
    )
    assert stamp == make_alert().last_updated.timestamp()
