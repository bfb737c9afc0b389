"""promtool on the Prometheus config and rules: syntax, and unit tests for every alerting rule.

CI installs Debian's ``prometheus`` package (.ci/run); a missing promtool fails these tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
OPERATIONS = ROOT / "docs" / "operations.md"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: apt-get install prometheus (see .ci/run)")
    return subprocess.run([exe, *args], cwd=PROM, capture_output=True, text=True, timeout=120, check=False)


def _alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROM / "rules" / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_config_is_valid() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid() -> None:
    result = _promtool("check", "rules", "rules/recording.yml", "rules/alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "tests/alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alerts_read_raw_series_not_recording_rules() -> None:
    # Prometheus (and promtool's unit tests) evaluate rule groups independently: an alert over another group's
    # recorded series sees this tick's value or the previous one, whichever group ran first. Reading the raw
    # series keeps every alert, and every expected $value in alerts_test.yml, independent of that order.
    for rule in _alert_rules():
        assert not re.search(r"\bnewswatch:[a-z_]+:", rule["expr"]), f"{rule['alert']} reads a recording rule"


def test_every_alert_has_firing_and_quiet_cases() -> None:
    doc = yaml.safe_load((PROM / "tests" / "alerts_test.yml").read_text())
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in _alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_section() -> None:
    anchors = {_slug(h) for h in re.findall(r"^#{2,4} (.+)$", OPERATIONS.read_text(), flags=re.M)}
    for rule in _alert_rules():
        runbook = rule["annotations"].get("runbook", "")
        assert runbook.startswith("https://github.com/newswatch/newswatch/blob/main/docs/operations.md#")
        assert runbook.split("#", 1)[1] in anchors, f"{rule['alert']}: no section {runbook} in operations.md"
        assert rule["annotations"].get("summary") and rule["labels"].get("severity") in (
            "critical",
            "warning",
        )
