"""Alerts and a filled store for the serve unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.contracts import Alert
from newswatch.serve.store import AlertStore, Upsert

T0 = datetime(2022, 8, 15, 13, 0, 0, tzinfo=UTC)
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def alert(alert_id: str = "al-1", version: int = 1, minutes: int = 0, **overrides: Any) -> Alert:
    """A valid Alert v1 whose version ``n`` has ``n`` sources; ``minutes`` after T0 is its last update."""
    sources = [
        {
            "sentence": f"Source {i} reports soldiers left {alert_id}.",
            "article_id": f"{alert_id}-a{i}",
            "url": f"https://outlet{i}.example/{alert_id}/{i}",
            "outlet": f"Outlet {i}",
        }
        for i in range(1, version + 1)
    ]
    data: dict[str, Any] = {
        "alert_id": alert_id,
        "version": version,
        "status": "new" if version == 1 else "update",
        "event_type": "military_withdrawal",
        "probability": 0.95,
        "severity": "flash",
        "headline": f"Withdrawal {alert_id}",
        "evidence": sources,
        "countries": ["FR", "ML"],
        "links": [s["url"] for s in sources],
        "outlets": [s["outlet"] for s in sources],
        "article_ids": [s["article_id"] for s in sources],
        "source_count": version,
        "first_seen": T0,
        "last_updated": T0 + timedelta(minutes=minutes),
        "published_at": T0 - timedelta(minutes=12),
        "freshness_minutes": 12.0,
        "model_version": "test-1",
    }
    data.update(overrides)
    return Alert.model_validate(data)


@dataclass
class Status:
    """Stands in for the ReadModel's status in app tests."""

    ready: bool = True
    lag: dict[int, int] = field(default_factory=dict)
    error: str | None = None


def put(store: AlertStore, *alerts: Alert, topic: str = "t", partition: int = 0, start: int = 0) -> None:
    ops = [Upsert(a, a.model_dump_json(), partition, start + i) for i, a in enumerate(alerts)]
    store.apply(topic, ops, {partition: start + len(alerts)})
