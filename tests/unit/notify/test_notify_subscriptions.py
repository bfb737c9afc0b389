"""The subscriptions file: validation with clear errors, secret resolution, and per-alert filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.unit.notify.receiver import make_alert

from newswatch.notify.errors import SecretNotFoundError, SubscriptionConfigError
from newswatch.notify.subscriptions import (
    ConsoleDestination,
    WebhookDestination,
    load_subscriptions,
    parse_subscriptions,
)

SECRETS = {"ops_team": SecretStr("s3cret")}


def _one(**entry: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "ops-team", "destination": {"type": "console"}}
    base.update(entry)
    return {"subscriptions": [base]}


def test_example_file_loads_with_secret_from_settings_and_file(tmp_path: Path) -> None:
    (tmp_path / "hook.secret").write_text("from-file\n")
    path = tmp_path / "subs.yaml"
    path.write_text(
        """
subscriptions:
  - name: ops-team
    event_types: [coup]
    countries: [ml, NE]
    min_severity: urgent
    destination: {type: webhook, url: "https://hooks.example.org/x", secret_ref: Ops-Team}
  - name: partner
    destination: {type: webhook, url: "http://127.0.0.1:9/x", secret_file: hook.secret}
  - name: tty
    destination: {type: console}
"""
    )
    ops, partner, tty = load_subscriptions(path, secrets=SECRETS)
    assert ops.event_types == ("coup",) and ops.countries == ("ML", "NE") and ops.min_severity == "urgent"
    assert isinstance(ops.destination, WebhookDestination)
    assert ops.destination.secret is not None and ops.destination.secret.get_secret_value() == "s3cret"
    assert isinstance(partner.destination, WebhookDestination)
    assert partner.destination.secret is not None
    assert partner.destination.secret.get_secret_value() == "from-file"
    assert isinstance(tty.destination, ConsoleDestination)
    assert tty.event_types == ("military_withdrawal", "coup", "peacekeeping_change")
    assert "s3cret" not in repr(ops) and "from-file" not in repr(partner)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_one(name="Bad Name"), "name"),
        (_one(name="invalid-records"), "reserved"),
        (_one(event_types=["riot"]), "event_types"),
        (_one(event_types=[]), "must not be empty"),
        (_one(countries=["XX"]), "ISO 3166-1"),
        (_one(min_severity="critical"), "min_severity"),
        (_one(destination={"type": "email"}), "destination"),
        (_one(destination={"type": "webhook", "url": "ftp://x", "secret_ref": "ops_team"}), "url"),
        (_one(destination={"type": "webhook", "url": "https://x"}), "exactly one"),
        (_one(destination={"type": "webhook", "url": "https://x", "secret": "inline"}), "never in the file"),
        (_one(surprise=1), "surprise"),
        ({"subscriptions": [{"name": "a", "destination": {"type": "console"}}] * 2}, "duplicate"),
        ("just a string", "expected a mapping"),
    ],
)
def test_invalid_files_name_the_problem(data: object, fragment: str) -> None:
    with pytest.raises(SubscriptionConfigError, match=fragment):
        parse_subscriptions(data, secrets=SECRETS)


def test_missing_secrets_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFoundError, match="nobody"):
        parse_subscriptions(
            _one(destination={"type": "webhook", "url": "https://x", "secret_ref": "nobody"}), secrets=SECRETS
        )
    with pytest.raises(SecretNotFoundError, match="cannot read"):
        parse_subscriptions(
            _one(destination={"type": "webhook", "url": "https://x", "secret_file": str(tmp_path / "none")})
        )


def test_unreadable_or_broken_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SubscriptionConfigError, match="cannot read"):
        load_subscriptions(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscriptions: [\n")
    with pytest.raises(SubscriptionConfigError, match="not valid YAML"):
        load_subscriptions(bad)


@pytest.mark.parametrize(
    ("entry", "alert_fields", "wanted"),
    [
        ({}, {}, True),
        ({"event_types": ["coup"]}, {"event_type": "military_withdrawal"}, False),
        ({"event_types": ["coup", "military_withdrawal"]}, {}, True),
        ({"countries": ["NE"]}, {"countries": ["FR", "ML"]}, False),
        ({"countries": ["ML"]}, {"countries": ["FR", "ML"]}, True),
        ({"countries": ["ML"]}, {"countries": []}, False),
        ({"min_severity": "flash"}, {"severity": "urgent"}, False),
        ({"min_severity": "urgent"}, {"severity": "urgent"}, True),
        ({"min_severity": "urgent"}, {"severity": "flash"}, True),
        ({"min_severity": "urgent"}, {"severity": "routine"}, False),
    ],
)
def test_filters(entry: dict[str, object], alert_fields: dict[str, object], wanted: bool) -> None:
    (sub,) = parse_subscriptions(_one(**entry))
    assert sub.matches(make_alert(**alert_fields)) is wanted


def test_webhook_format_defaults_to_json_and_takes_the_chat_formats() -> None:
    def hook(**extra: object) -> dict[str, object]:
        return {
            "type": "webhook",
            "url": "https://hooks.slack.com/services/T/B/x",
            "secret_ref": "ops_team",
            **extra,
        }

    (sub,) = parse_subscriptions(_one(destination=hook()), secrets=SECRETS)
    assert isinstance(sub.destination, WebhookDestination) and sub.destination.format == "json"
    for fmt in ("json", "slack", "teams", "adaptive_card"):
        (sub,) = parse_subscriptions(_one(destination=hook(format=fmt)), secrets=SECRETS)
        assert isinstance(sub.destination, WebhookDestination) and sub.destination.format == fmt


@pytest.mark.parametrize("fmt", ["discord", "Slack", "", None, 3])
def test_unknown_webhook_format_is_a_config_error_naming_the_choices(fmt: object) -> None:
    data = _one(
        destination={"type": "webhook", "url": "https://x.example/h", "secret_ref": "ops_team", "format": fmt}
    )
    with pytest.raises(SubscriptionConfigError) as info:
        parse_subscriptions(data, secrets=SECRETS, source="subs.yaml")
    message = str(info.value)
    assert message.startswith("subs.yaml: subscriptions.0.destination.webhook.format: ")
    assert f"unknown format {fmt!r}" in message and "json, slack, teams, adaptive_card" in message


def test_console_destination_takes_no_format() -> None:
    with pytest.raises(SubscriptionConfigError, match="format"):
        parse_subscriptions(_one(destination={"type": "console", "format": "slack"}))
