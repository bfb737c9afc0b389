"""`newswatch notify` and `newswatch alerts tail` as real processes against the real broker, with a local
webhook receiver: filters, signatures, retries, dead letters, inert HTML, and no duplicate delivery after
the process is killed (-9) and restarted."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.notify.receiver import WebhookReceiver, make_alert

from newswatch.broker.clients import kafka_admin, kafka_producer
from newswatch.broker.reading import TopicRecord, read_to_end
from newswatch.broker.topics import TopicSpec, ensure_topics
from newswatch.contracts import Alert, DeadLetter
from newswatch.settings import KafkaSettings

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    names = {"alerts": f"test.alerts.{suffix}", "deadletter": f"test.deadletter.{suffix}"}
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="notify-test-admin")
    ensure_topics(settings, [TopicSpec(name, partitions=2, replication=1) for name in names.values()])
    try:
        yield names
    finally:
        admin = kafka_admin(settings)
        admin.delete_topics(list(names.values()))
        admin.close()


def _env(kafka_bootstrap: str, topics: dict[str, str], tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "NEWSWATCH_LOG_FORMAT": "json",
            "NEWSWATCH_STATE_DIR": str(tmp / "state"),
            "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "NEWSWATCH_KAFKA__TOPIC_ALERTS": topics["alerts"],
            "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": topics["deadletter"],
            "NEWSWATCH_NOTIFY__GROUP_ID": f"notify-test-{uuid.uuid4().hex[:8]}",
            "NEWSWATCH_NOTIFY__METRICS_PORT": str(port),
            "NEWSWATCH_NOTIFY__METRICS_HOST": "127.0.0.1",
            "NEWSWATCH_NOTIFY__WEBHOOK_SECRETS__HOOKS": "s3cret",
            "NEWSWATCH_NOTIFY__MAX_ATTEMPTS": "3",
            "NEWSWATCH_NOTIFY__BACKOFF_BASE_SECONDS": "0.05",
            "NEWSWATCH_NOTIFY__BACKOFF_MAX_SECONDS": "0.2",
            "NEWSWATCH_NOTIFY__COMMIT_INTERVAL_SECONDS": "0.2",
        }
    )
    return env


def _subscriptions(rx: WebhookReceiver, path: Path) -> Path:
    def hook(name: str) -> dict[str, Any]:
        return {"type": "webhook", "url": rx.url(f"/{name}"), "secret_ref": "hooks"}

    doc = {
        "subscriptions": [
            {
                "name": "sahel-coups",
                "event_types": ["coup"],
                "countries": ["ML", "NE"],
                "destination": hook("sahel"),
            },
            {"name": "urgent", "min_severity": "urgent", "destination": hook("urgent")},
            {"name": "broken", "event_types": ["peacekeeping_change"], "destination": hook("broken")},
        ]
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def _start(env: dict[str, str], subs: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newswatch.cli", "notify", "--subscriptions", str(subs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _produce(kafka_bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = kafka_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    for key, value in records:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush(timeout=30)
    producer.close()


def _alert_bytes(alert: Alert) -> bytes:
    return alert.model_dump_json().encode()


def _metric(port: int, name: str, labels: dict[str, str]) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith((f"{name}{{", f"{name} ")) and all(
            f'{k}="{v}"' in line for k, v in labels.items()
        ):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{wanted}}} not exposed")


def _wait(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _deadletters(kafka_bootstrap: str, topic: str, count: int) -> list[tuple[DeadLetter, dict[str, bytes]]]:
    """The first ``count`` dead letters on ``topic``, waiting up to 15 s for them to arrive."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    records: list[TopicRecord] = []
    deadline = time.monotonic() + 15
    while len(records) < count and time.monotonic() < deadline:
        records = read_to_end(settings, topic)
        time.sleep(0.2)
    return [(DeadLetter.model_validate_json(r.value or b""), dict(r.headers)) for r in records[:count]]


def test_notify_delivers_filtered_signed_inert_once_across_kill_9(
    kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path
) -> None:
    coup_ml = make_alert(
        alert_id="coup-ml", event_type="coup", countries=["ML"], severity="flash", headline=HOSTILE
    )
    coup_td = make_alert(alert_id="coup-td", event_type="coup", countries=["TD"], severity="routine")
    mw_urgent = make_alert(alert_id="mw-1", severity="urgent")
    pk = make_alert(alert_id="pk-1", event_type="peacekeeping_change", countries=["CD"], severity="routine")
    port = _free_port()
    with WebhookReceiver() as rx:
        rx.script("/broken", [500] * 50)
        env = _env(kafka_bootstrap, topics, tmp_path, port)
        subs = _subscriptions(rx, tmp_path / "subs.yaml")
        log = tmp_path / "notify.log"
        _produce(
            kafka_bootstrap,
            topics["alerts"],
            [(a.alert_id, _alert_bytes(a)) for a in (coup_ml, coup_td, mw_urgent, pk)]
            + [("junk", b"{not json"), ("bad", b'{"alert_id": "x"}')],
        )
        proc = _start(env, subs, log)
        try:
            rx.wait_for("/sahel", 1, timeout=90)
            rx.wait_for("/urgent", 2, timeout=60)
            rx.wait_for("/broken", 3, timeout=60)
            dead = _deadletters(kafka_bootstrap, topics["deadletter"], 3)
            _wait(
                lambda: (
                    _metric(
                        port,
                        "newswatch_notify_deliveries_total",
                        {"subscription": "broken", "outcome": "failed"},
                    )
                    == 1
                ),
                "failed metric",
            )
            assert (
                _metric(
                    port, "newswatch_notify_deliveries_total", {"subscription": "urgent", "outcome": "sent"}
                )
                == 2
            )
            assert (
                _metric(
                    port, "newswatch_notify_deliveries_total", {"subscription": "broken", "outcome": "retry"}
                )
                == 2
            )
            assert _metric(port, "newswatch_notify_deadletters_total", {"reason": "delivery_failed"}) == 1
            time.sleep(1.0)  # let a commit happen, so the restart exercises both offsets and the delivery log
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

        # filters: sahel-coups got only the Malian coup; urgent got flash + urgent, not routine
        (sahel,) = rx.requests("/sahel")
        assert json.loads(sahel.body)["alert_id"] == "coup-ml"
        assert sorted(json.loads(r.body)["alert_id"] for r in rx.requests("/urgent")) == ["coup-ml", "mw-1"]
        # signatures verify; HTML is inert on the wire and intact once decoded
        assert sahel.verified("s3cret")
        assert b"<script" not in sahel.body and b"<img" not in sahel.body
        assert json.loads(sahel.body)["headline"] == HOSTILE
        # dead letters: two undecodable records, one failed delivery
        reasons = sorted(d.reason for d, _ in dead)
        assert reasons == ["decode_error", "delivery_failed", "schema_invalid"]
        (failed, headers) = next((d, h) for d, h in dead if d.reason == "delivery_failed")
        assert failed.service == "notify" and headers.get("subscription") == b"broken"
        assert Alert.model_validate_json(base64.b64decode(failed.original_value_b64)).alert_id == "pk-1"

        # after kill -9: the same versions re-sent, plus one real update; only the update is delivered
        mw_v2 = make_alert(alert_id="mw-1", severity="urgent", version=2, status="update", source_count=2)
        _produce(
            kafka_bootstrap,
            topics["alerts"],
            [(a.alert_id, _alert_bytes(a)) for a in (coup_ml, mw_urgent, mw_v2)],
        )
        proc = _start(env, subs, log)
        try:
            rx.wait_for("/urgent", 3, timeout=90)
            _wait(lambda: _metric(port, "newswatch_notify_alerts_consumed_total", {}) >= 3, "consumption")
            _wait(
                lambda: (
                    _metric(
                        port,
                        "newswatch_notify_deliveries_total",
                        {"subscription": "urgent", "outcome": "duplicate"},
                    )
                    >= 2
                ),
                "duplicates skipped",
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    delivered = [
        (json.loads(r.body)["alert_id"], json.loads(r.body)["version"]) for r in rx.requests("/urgent")
    ]
    assert sorted(delivered) == [("coup-ml", 1), ("mw-1", 1), ("mw-1", 2)]
    assert len(rx.requests("/sahel")) == 1
    assert len(rx.requests("/broken")) == 3  # dead-lettered once, never retried after the restart


def test_bad_subscriptions_file_exits_2_with_a_message(kafka_bootstrap: str, tmp_path: Path) -> None:
    bad = tmp_path / "subs.yaml"
    bad.write_text(
        "subscriptions:\n  - name: x\n    destination: {type: webhook, url: 'https://x', secret_ref: nope}\n"
    )
    env = _env(kafka_bootstrap, {"alerts": "a", "deadletter": "d"}, tmp_path, 0)
    result = subprocess.run(
        [sys.executable, "-m", "newswatch.cli", "notify", "--subscriptions", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "nope" in result.stderr


def test_alerts_tail_filters_and_escapes(
    kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path
) -> None:
    alerts = [
        make_alert(
            alert_id="t1", event_type="coup", countries=["ML"], severity="flash", headline=HOSTILE + "\x1b[2J"
        ),
        make_alert(alert_id="t2", event_type="coup", countries=["FR"], severity="flash"),
        make_alert(alert_id="t3", event_type="military_withdrawal", countries=["ML"], severity="flash"),
        make_alert(alert_id="t4", event_type="coup", countries=["ML"], severity="routine"),
    ]
    _produce(
        kafka_bootstrap, topics["alerts"], [(a.alert_id, _alert_bytes(a)) for a in alerts] + [("x", b"junk")]
    )
    env = _env(kafka_bootstrap, topics, tmp_path, 0)
    base = [
        sys.executable,
        "-m",
        "newswatch.cli",
        "alerts",
        "tail",
        "--from-beginning",
        "--idle-timeout",
        "5",
    ]
    filters = ["--event-type", "coup", "--country", "ml", "--min-severity", "urgent"]
    text = subprocess.run(
        base + filters, env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lines = text.splitlines()
    assert len(lines) == 1 and "coup" in lines[0] and "ML" in lines[0]
    assert "<script>" not in lines[0] and "\x1b" not in lines[0] and "&lt;script&gt;" in lines[0]
    as_json = subprocess.run(
        [*base, "--json", "--max-alerts", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    ids = [json.loads(line)["alert_id"] for line in as_json]
    assert len(ids) == 3 and set(ids) <= {"t1", "t2", "t3", "t4"}
    assert all("<" not in line for line in as_json)


def test_chat_formats_are_delivered_signed_in_their_targets_shape(
    kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path
) -> None:
    from tests.unit.notify.chat_shapes import assert_slack_message, assert_teams_message

    hostile = make_alert(
        alert_id="coup-ml-chat",
        event_type="coup",
        countries=["ML"],
        headline="<!channel> *urgent* <http://evil.example|click> " + HOSTILE,
    )
    port = _free_port()
    with WebhookReceiver() as rx:
        doc = {
            "subscriptions": [
                {
                    "name": f"chat-{fmt}",
                    "destination": {
                        "type": "webhook",
                        "url": rx.url(f"/{fmt}"),
                        "secret_ref": "hooks",
                        "format": fmt,
                    },
                }
                for fmt in ("slack", "teams", "json")
            ]
        }
        subs = tmp_path / "subs.yaml"
        subs.write_text(json.dumps(doc))
        _produce(kafka_bootstrap, topics["alerts"], [(hostile.alert_id, _alert_bytes(hostile))])
        proc = _start(_env(kafka_bootstrap, topics, tmp_path, port), subs, tmp_path / "notify.log")
        try:
            (slack,) = rx.wait_for("/slack", 1, timeout=90)
            (teams,) = rx.wait_for("/teams", 1, timeout=30)
            (plain,) = rx.wait_for("/json", 1, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    for request in (slack, teams, plain):
        assert request.verified("s3cret")  # every format signed the same way
        assert request.headers["X-Newswatch-Delivery"] == "coup-ml-chat:1"
        assert b"<" not in request.body and b">" not in request.body  # HTML-inert on the wire
    payload = json.loads(slack.body)
    assert_slack_message(payload)
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text" and header["text"].startswith("<!channel> *urgent*")  # literal
    assert "&lt;!channel&gt;" in payload["text"] and "<!channel>" not in payload["text"]
    assert_teams_message(json.loads(teams.body))
    assert json.loads(plain.body)["headline"] == hostile.headline  # json: the Alert v1 record, as before


def test_unknown_payload_format_stops_notify_at_start_up(kafka_bootstrap: str, tmp_path: Path) -> None:
    bad = tmp_path / "subs.yaml"
    bad.write_text(
        "subscriptions:\n  - name: x\n    destination: {type: webhook, url: 'https://x.example/h',"
        " secret_ref: hooks, format: discord}\n"
    )
    env = _env(kafka_bootstrap, {"alerts": "a", "deadletter": "d"}, tmp_path, 0)
    result = subprocess.run(
        [sys.executable, "-m", "newswatch.cli", "notify", "--subscriptions", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown format 'discord'; one of json, slack, teams, adaptive_card" in result.stderr
