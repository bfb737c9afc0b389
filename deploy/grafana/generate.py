"""Grafana dashboards as code: writes deploy/grafana/dashboards/*.json (plain Grafana JSON, schema 39).

    python deploy/grafana/generate.py            # rewrite the JSON files
    python deploy/grafana/generate.py --check    # exit 1 if the committed JSON is stale

Panels read the recording rules of deploy/prometheus/rules/recording.yml (tests/integration/ops runs every
panel query against a real Prometheus scraping a real run). Country and alert details are not metric labels
of the worker: the Events dashboard counts countries from notify's bounded `country` label and explains
what needs a logs or Kafka datasource.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS", "Panel", "Target", "dashboard_json", "main", "render_all"]

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "newswatch-prometheus"}


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | stat | table | text | bargauge
    targets: tuple[Target, ...] = ()
    unit: str = "short"
    width: int = 8
    height: int = 8
    description: str = ""
    text: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _row(title: str) -> Panel:
    return Panel(title=title, kind="row", width=24, height=1)


PIPELINE: tuple[Panel, ...] = (
    _row("Services"),
    Panel(
        "Targets up",
        "stat",
        (Target('up{job=~"newswatch-.*"}', "{{job}} {{instance}}", instant=True),),
        width=24,
        height=4,
        description="1 = scraped. A missing worker or poller fires NewswatchWorkerDown/PollerDown.",
        options={
            "mappings": [
                {
                    "type": "value",
                    "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
                }
            ]
        },
    ),
    _row("Ingest"),
    Panel(
        "Articles published to Kafka",
        "timeseries",
        (Target("newswatch:poller_published:rate5m", "articles/s"),),
        unit="reqps",
        description="Articles acknowledged by Kafka (news.articles.v1).",
    ),
    Panel(
        "Feed items by result",
        "timeseries",
        (Target("newswatch:poller_items:rate5m", "{{result}}"),),
        unit="reqps",
    ),
    Panel(
        "Polls by outcome",
        "timeseries",
        (Target("newswatch:poller_polls:rate5m", "{{outcome}}"),),
        unit="reqps",
    ),
    Panel(
        "Poll error ratio",
        "timeseries",
        (Target("newswatch:poller_poll_errors:ratio_rate5m", "errors / polls"),),
        unit="percentunit",
        description="Share of polls not ok/not_modified. Alert NewswatchPollErrorRateHigh above 50%.",
    ),
    Panel(
        "Poll duration p95",
        "timeseries",
        (Target("newswatch:poller_poll_duration_seconds:p95_5m", "p95"),),
        unit="s",
    ),
    Panel(
        "Feeds failing now",
        "stat",
        (Target("newswatch:poller_feeds_failing:count", "feeds", instant=True),),
        description="Feeds whose last poll failed (consecutive failures > 0).",
    ),
    _row("Feed health"),
    Panel(
        "Time since last successful poll, per feed",
        "table",
        (Target("sort_desc(newswatch:poller_feed_staleness_seconds)", "{{feed}}", instant=True),),
        unit="s",
        width=24,
        height=10,
        description="Feeds that never succeeded are not listed (see Feeds failing now). Stale > 6h alerts.",
    ),
    _row("Worker"),
    Panel(
        "Articles consumed and classified",
        "timeseries",
        (
            Target("newswatch:worker_articles_consumed:rate5m", "consumed/s"),
            Target("newswatch:worker_articles_classified:rate5m", "classified/s"),
        ),
        unit="reqps",
    ),
    Panel(
        "Consumer lag",
        "timeseries",
        (Target("newswatch:worker_consumer_lag_messages:sum", "{{topic}}"),),
        description="End offset minus position, summed over partitions. Growing lag alerts after 15 minutes.",
    ),
    Panel(
        "Ingested -> classified latency",
        "timeseries",
        (
            Target("newswatch:worker_ingested_to_classified_seconds:p50_5m", "p50"),
            Target("newswatch:worker_ingested_to_classified_seconds:p95_5m", "p95"),
        ),
        unit="s",
    ),
    Panel(
        "Inference time per batch p95",
        "timeseries",
        (Target("newswatch:worker_inference_duration_seconds:p95_5m", "p95"),),
        unit="s",
    ),
    Panel(
        "Mean batch size",
        "timeseries",
        (Target("newswatch:worker_batch_size:mean5m", "articles/batch"),),
    ),
    _row("Dead letters and errors"),
    Panel(
        "Worker dead letters by reason",
        "timeseries",
        (Target("newswatch:worker_deadletters:rate5m", "{{reason}}"),),
        unit="reqps",
        description="Records sent to news.deadletter.v1. Over 20 in 15 minutes alerts.",
    ),
    Panel(
        "Deliveries by subscription and outcome",
        "timeseries",
        (Target("newswatch:notify_deliveries:rate5m", "{{subscription}} {{outcome}}"),),
        unit="reqps",
    ),
    Panel(
        "Delivery time p95 by subscription",
        "timeseries",
        (Target("newswatch:notify_delivery_duration_seconds:p95_5m", "{{subscription}}"),),
        unit="s",
        description="Retries and back-off included.",
    ),
)

EVENTS: tuple[Panel, ...] = (
    _row("Alerts over time"),
    Panel(
        "Alerts per hour by event type",
        "timeseries",
        (Target("sum by (event_type) (newswatch:worker_alerts:increase1h)", "{{event_type}}"),),
        width=12,
    ),
    Panel(
        "Alerts per hour by severity",
        "timeseries",
        (Target("sum by (severity) (newswatch:worker_alerts:increase1h)", "{{severity}}"),),
        width=12,
    ),
    Panel(
        "New events vs updates per hour",
        "timeseries",
        (Target("sum by (status) (newswatch:worker_alerts:increase1h)", "{{status}}"),),
        width=12,
        description="status=new is one real-world event; update = more sources on an open alert.",
    ),
    Panel(
        "New events by country (24h)",
        "bargauge",
        (
            Target(
                "topk(15, newswatch:notify_alerts_by_country:increase24h > 0)", "{{country}}", instant=True
            ),
        ),
        width=12,
        description="newswatch_notify_alerts_by_country_total (ISO alpha-2); needs notify running.",
    ),
    _row("Newest alerts"),
    Panel(
        "Newest alert per type and severity",
        "table",
        (
            Target(
                "newswatch_notify_last_alert_timestamp_seconds * 1000",
                "{{event_type}} {{severity}}",
                instant=True,
            ),
        ),
        unit="dateTimeAsIso",
        width=12,
        description="Time of the newest alert (last_updated) seen by notify, per event type and severity.",
    ),
    Panel(
        "Alert delay: publication and ingestion to alert",
        "timeseries",
        (
            Target("newswatch:worker_published_to_alert_seconds:p90_1h", "published -> alert p90"),
            Target("newswatch:worker_ingested_to_alert_seconds:p95_1h", "ingested -> alert p95"),
        ),
        unit="s",
        width=12,
    ),
    Panel(
        "Alert details",
        "text",
        width=24,
        height=6,
        text=(
            "Alert headlines, evidence, links and countries are record fields, not metric labels: Prometheus "
            "only holds counts. To list the newest alerts here, add a logs datasource (e.g. Loki collecting "
            "`newswatch alerts tail --json` or the notify console subscription) or a Kafka-backed store of "
            "`news.alerts.v1`. From a shell: `newswatch alerts tail --from-beginning --min-severity urgent`. "
            "See docs/operations.md, section Dashboards."
        ),
    ),
)

DASHBOARDS: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "newswatch-pipeline": ("newswatch: Pipeline health", PIPELINE),
    "newswatch-events": ("newswatch: Events", EVENTS),
}


def _panel_json(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
    if panel.kind == "row":
        return {
            "type": "row",
            "id": pid,
            "title": panel.title,
            "collapsed": False,
            "gridPos": grid,
            "panels": [],
        }
    out: dict[str, Any] = {
        "type": panel.kind,
        "id": pid,
        "title": panel.title,
        "description": panel.description,
        "gridPos": grid,
    }
    if panel.kind == "text":
        out["options"] = {"mode": "markdown", "content": panel.text}
        return out
    out["datasource"] = DATASOURCE
    out["targets"] = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": t.expr,
            "legendFormat": t.legend,
            "instant": t.instant,
            "range": not t.instant,
        }
        for i, t in enumerate(panel.targets)
    ]
    defaults: dict[str, Any] = {"unit": panel.unit}
    if "mappings" in panel.options:
        defaults["mappings"] = panel.options["mappings"]
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    if panel.kind == "table":
        out["transformations"] = [{"id": "labelsToFields", "options": {}}]
    return out


def _layout(panels: tuple[Panel, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    x = y = row_height = 0
    for pid, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        out.append(_panel_json(panel, pid, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


def dashboard_json(uid: str) -> dict[str, Any]:
    """The Grafana dashboard model for ``uid`` (a key of :data:`DASHBOARDS`).

    >>> dashboard_json("newswatch-events")["title"]
    'newswatch: Events'
    """
    title, panels = DASHBOARDS[uid]
    return {
        "uid": uid,
        "title": title,
        "tags": ["newswatch"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
        "panels": _layout(panels),
    }


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as committed."""
    return {
        f"{uid}.json": json.dumps(dashboard_json(uid), indent=2, sort_keys=True) + "\n" for uid in DASHBOARDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON differs")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"stale dashboards: {', '.join(stale)}; run python deploy/grafana/generate.py\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
