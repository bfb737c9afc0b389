"""Grafana dashboards as code: the committed JSON is what generate.py writes, and every panel is usable."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
RECORDING = ROOT / "deploy" / "prometheus" / "rules" / "recording.yml"
# raw metrics a panel may read directly (everything else through a recording rule)
RAW_ALLOWED = {"up", "newswatch_notify_last_alert_timestamp_seconds"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newswatch_grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]


def test_committed_json_is_not_stale() -> None:
    rendered = _generator().render_all()
    committed = {p.name: p.read_text() for p in (GRAFANA / "dashboards").glob("*.json")}
    assert committed == rendered, "run: python deploy/grafana/generate.py"


def test_two_dashboards_with_the_expected_titles() -> None:
    assert {d["title"] for d in _dashboards()} == {"newswatch: Pipeline health", "newswatch: Events"}


@pytest.mark.parametrize("dashboard", _dashboards(), ids=lambda d: d["uid"])
def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    recorded = {r["record"] for g in yaml.safe_load(RECORDING.read_text())["groups"] for r in g["rules"]}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"]["uid"] == "newswatch-prometheus"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", re.sub(r"\"[^\"]*\"", "", target["expr"])))
            used = {n for n in names if n in recorded or n in RAW_ALLOWED}
            assert used, f"{panel['title']}: {target['expr']} reads no recording rule"
            unknown = {n for n in names if n.startswith("newswatch") and n not in recorded | RAW_ALLOWED}
            assert not unknown, f"{panel['title']}: raw metrics {unknown}; add a recording rule"


def test_pipeline_dashboard_covers_the_health_signals() -> None:
    exprs = " ".join(
        t["expr"]
        for d in _dashboards()
        if d["uid"] == "newswatch-pipeline"
        for p in d["panels"]
        for t in p.get("targets", [])
    )
    for needle in ("published", "lag", "ingested_to_classified", "staleness", "deadletters", "poll_errors"):
        assert needle in exprs


def test_provisioning_points_at_the_dashboards_and_datasource() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "newswatch.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert source["datasources"][0]["uid"] == "newswatch-prometheus"


def test_check_mode_detects_staleness(tmp_path: Path) -> None:
    generator = _generator()
    assert generator.main(["--out", str(tmp_path)]) == 0
    assert generator.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "newswatch-events.json").write_text("{}")
    assert generator.main(["--check", "--out", str(tmp_path)]) == 1
