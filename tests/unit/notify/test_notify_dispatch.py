"""Fan-out against a real local webhook receiver: filters, retries, dead letters, no duplicates after a
restart, and a slow subscription that does not hold back another."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from tests.unit.notify.receiver import WebhookReceiver, make_alert

from newswatch.contracts import Alert, DeadLetter
from newswatch.notify.dispatch import (
    Dispatcher,
    Envelope,
    FileDeadLetterSink,
    OffsetTracker,
    build_deadletter,
    build_deliverers,
)
from newswatch.notify.encoding import encode_alert
from newswatch.notify.errors import DeadLetterRefusedError
from newswatch.notify.metrics import NotifyMetrics
from newswatch.notify.store import DeliveryStore
from newswatch.notify.subscriptions import Subscription, parse_subscriptions
from newswatch.notify.webhook import RetryPolicy, WebhookSender

TOPIC = "news.alerts.v1"


def _subs(rx: WebhookReceiver, entries: list[dict[str, object]]) -> tuple[Subscription, ...]:
    for entry in entries:
        entry["destination"] = {
            "type": "webhook",
            "url": rx.url(f"/{entry['name']}"),
            "secret_ref": "hooks",
        }
    return parse_subscriptions({"subscriptions": entries}, secrets={"hooks": SecretStr("s3cret")})


class ListSink:
    def __init__(self) -> None:
        self.items: list[tuple[str, DeadLetter]] = []

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None:
        self.items.append((subscription, deadletter))


@asynccontextmanager
async def running(
    subs: tuple[Subscription, ...], store: DeliveryStore, sink: object | None = None, **options: Any
) -> AsyncIterator[tuple[Dispatcher, NotifyMetrics]]:
    metrics = NotifyMetrics([s.name for s in subs], registry=CollectorRegistry())
    async with httpx.AsyncClient(timeout=30) as client:
        sender = WebhookSender(client, RetryPolicy(3, 0.01, 0.05))
        dispatcher = Dispatcher(
            subs,
            build_deliverers(subs, sender, sys.stdout),
            store,
            metrics,
            sink or ListSink(),  # type: ignore[arg-type]
            **options,
        )
        await dispatcher.start()
        try:
            yield dispatcher, metrics
        finally:
            await dispatcher.stop()


def _env(alert: Alert, offset: int, partition: int = 0) -> Envelope:
    return Envelope(alert, encode_alert(alert), alert.alert_id.encode(), TOPIC, partition, offset)


def _count(metrics: NotifyMetrics, sub: str, outcome: str) -> float:
    value = metrics.deliveries.labels(subscription=sub, outcome=outcome)._value.get()
    return float(value)


def _value(metric: Any, sub: str) -> float:
    return float(metric.labels(subscription=sub)._value.get())


async def _until(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_filters_are_honoured_and_bodies_verifiable(tmp_path: Path) -> None:
    alerts = [
        make_alert(alert_id="a", event_type="coup", countries=["ML"], severity="flash"),
        make_alert(alert_id="b", event_type="coup", countries=["NE"], severity="routine"),
        make_alert(alert_id="c", event_type="military_withdrawal", countries=["ML"], severity="urgent"),
        make_alert(alert_id="d", event_type="peacekeeping_change", countries=["CD"], severity="flash"),
    ]
    with WebhookReceiver() as rx:
        subs = _subs(
            rx,
            [
                {"name": "coups", "event_types": ["coup"]},
                {"name": "mali", "countries": ["ML"]},
                {"name": "urgent", "min_severity": "urgent"},
            ],
        )
        async with running(subs, DeliveryStore(tmp_path / "s.db")) as (dispatcher, metrics):
            for i, alert in enumerate(alerts):
                await dispatcher.submit(_env(alert, i))
            assert await dispatcher.drain(30)
        got = {
            name: sorted(json.loads(r.body)["alert_id"] for r in rx.requests(f"/{name}"))
            for name in ("coups", "mali", "urgent")
        }
        assert got == {"coups": ["a", "b"], "mali": ["a", "c"], "urgent": ["a", "c", "d"]}
        assert _count(metrics, "coups", "filtered") == 2 and _count(metrics, "urgent", "sent") == 3
        assert all(request.verified("s3cret") for request in rx.requests())
        assert dispatcher.tracker.committable() == {(TOPIC, 0): 4}


async def test_retries_after_500s_then_delivered_once(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        rx.script("/flaky", [500, 500])
        subs = _subs(rx, [{"name": "flaky"}])
        async with running(subs, DeliveryStore(tmp_path / "s.db")) as (dispatcher, metrics):
            await dispatcher.submit(_env(make_alert(), 0))
            assert await dispatcher.drain(30)
        assert [r.status for r in rx.requests("/flaky")] == [500, 500, 200]
        assert _count(metrics, "flaky", "retry") == 2 and _count(metrics, "flaky", "sent") == 1


async def test_exhausted_retries_become_a_deadletter_and_are_not_redelivered(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path / "s.db")
    sink = FileDeadLetterSink(tmp_path / "dl")
    with WebhookReceiver() as rx:
        rx.script("/down", [503] * 10)
        subs = _subs(rx, [{"name": "down"}, {"name": "up"}])
        async with running(subs, store, sink) as (dispatcher, metrics):
            await dispatcher.submit(_env(make_alert(), 7))
            assert await dispatcher.drain(30)
        assert len(rx.requests("/down")) == 3 and len(rx.requests("/up")) == 1
        assert _count(metrics, "down", "failed") == 1
        (line,) = (tmp_path / "dl" / "down.jsonl").read_text().splitlines()
        dead = DeadLetter.model_validate_json(line)
        assert (dead.service, dead.reason, dead.offset, dead.topic) == ("notify", "delivery_failed", 7, TOPIC)
        assert "down" in dead.error and "HTTP 503" in dead.error
        assert store.outcome("down", "mw-ml-1", 1) == "dead_lettered"
        assert dispatcher.tracker.committable() == {(TOPIC, 0): 8}


async def test_no_duplicate_delivery_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    v1, v2 = make_alert(version=1), make_alert(version=2, status="update", source_count=2)
    with WebhookReceiver() as rx:
        subs = _subs(rx, [{"name": "hook"}])
        store = DeliveryStore(path)
        async with running(subs, store) as (dispatcher, _):
            await dispatcher.submit(_env(v1, 0))
            await dispatcher.submit(_env(v1, 1))  # the worker re-sent the same version
            assert await dispatcher.drain(30)
        store.close()
        store = DeliveryStore(path)  # a restart re-reads the topic from an older offset
        async with running(subs, store) as (dispatcher, metrics):
            for offset, alert in enumerate([v1, v1, v2]):
                await dispatcher.submit(_env(alert, offset))
            assert await dispatcher.drain(30)
        versions = [json.loads(r.body)["version"] for r in rx.requests("/hook")]
        assert versions == [1, 2]
        assert _count(metrics, "hook", "duplicate") == 2


async def test_slow_webhook_does_not_delay_another(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        gate = rx.hold("/slow")
        subs = _subs(rx, [{"name": "slow"}, {"name": "fast"}])
        async with running(subs, DeliveryStore(tmp_path / "s.db")) as (dispatcher, _):
            for i in range(20):
                await dispatcher.submit(_env(make_alert(alert_id=f"a{i}"), i))
            # every fast delivery completes while the slow endpoint still holds its first request
            await asyncio.to_thread(rx.wait_for, "/fast", 20)
            assert rx.requests("/slow") == []
            assert dispatcher.tracker.committable() == {}  # offset 0 still unsettled for "slow"
            gate.set()
            assert await dispatcher.drain(60)
        assert len(rx.requests("/slow")) == 20
        assert dispatcher.tracker.committable() == {(TOPIC, 0): 20}


def test_offset_tracker_commits_only_below_the_first_unsettled_record() -> None:
    t = OffsetTracker()
    tp = (TOPIC, 0)
    t.add(tp, 10, pending=2)
    t.add(tp, 11, pending=0)
    t.add(tp, 12, pending=1)
    assert t.committable() == {}
    t.done(tp, 12)
    t.done(tp, 10)
    assert t.committable() == {}
    t.done(tp, 10)
    assert t.committable() == {tp: 13}
    t.mark_committed({tp: 13})
    assert t.committable() == {}
    t.add((TOPIC, 1), 0, pending=0)
    assert t.committable() == {(TOPIC, 1): 1}
    t.forget([(TOPIC, 1)])
    t.done((TOPIC, 1), 0)  # a late completion for a revoked partition is ignored
    assert t.committable() == {} and t.pending_count() == 0


class FlakySink(ListSink):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        await super().send(subscription, deadletter, key)


def _console_dispatcher(
    tmp_path: Path, sink: object, metrics: NotifyMetrics | None = None
) -> tuple[Dispatcher, NotifyMetrics]:
    subs = parse_subscriptions({"subscriptions": [{"name": "tty", "destination": {"type": "console"}}]})
    metrics = metrics or NotifyMetrics(["tty"], registry=CollectorRegistry())
    dispatcher = Dispatcher(
        subs,
        build_deliverers(subs, None, sys.stdout),  # type: ignore[arg-type]
        DeliveryStore(tmp_path / "s.db"),
        metrics,
        sink,  # type: ignore[arg-type]
        deadletter_retry_seconds=0.01,
    )
    return dispatcher, metrics


def _undecodable(offset: int, value: bytes = b"{") -> DeadLetter:
    return build_deadletter(
        reason="decode_error",
        error="not JSON",
        topic=TOPIC,
        partition=1,
        offset=offset,
        key=None,
        value=value,
    )


async def test_rejected_records_are_dead_lettered_even_when_the_sink_fails_at_first(tmp_path: Path) -> None:
    sink = FlakySink(failures=2)
    dispatcher, metrics = _console_dispatcher(tmp_path, sink)
    await dispatcher.start()
    try:
        await asyncio.wait_for(dispatcher.reject(_undecodable(4), None), 1)  # queued, not sent in the intake
        assert dispatcher.tracker.committable() == {}  # not settled while the sink fails
        assert await dispatcher.drain(5)
    finally:
        await dispatcher.stop()
    assert [d.reason for _, d in sink.items] == ["decode_error"]
    assert dispatcher.tracker.committable() == {(TOPIC, 1): 5}
    assert metrics.deadletters.labels(reason="decode_error")._value.get() == 1


class RefusingSink(ListSink):
    """Refuses letters whose original is larger than ``limit`` bytes, like a topic's max.message.bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.refused = 0

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None:
        if deadletter.original_size_bytes > self.limit:
            self.refused += 1
            raise DeadLetterRefusedError("too large")
        await super().send(subscription, deadletter, key)


async def test_a_refused_deadletter_is_counted_and_intake_goes_on(tmp_path: Path) -> None:
    sink = RefusingSink(limit=100)
    dispatcher, metrics = _console_dispatcher(tmp_path, sink)
    await dispatcher.start()
    try:
        # before: the refused letter was retried every 5 s for ever, inside reject(), so intake stopped
        await asyncio.wait_for(dispatcher.reject(_undecodable(0, b"{" * 1000), None), 1)
        await asyncio.wait_for(dispatcher.reject(_undecodable(1), None), 1)
        await asyncio.wait_for(dispatcher.submit(_env(make_alert(), 2, partition=1)), 1)
        assert await dispatcher.drain(5)
    finally:
        await dispatcher.stop()
    assert sink.refused == 1 and [d.offset for _, d in sink.items] == [1]
    assert metrics.deadletters_refused.labels(reason="decode_error")._value.get() == 1
    assert metrics.deadletters.labels(reason="decode_error")._value.get() == 1
    assert _count(metrics, "tty", "sent") == 1
    assert dispatcher.tracker.committable() == {(TOPIC, 1): 3}  # the refused record is settled


async def test_a_sink_that_stays_away_does_not_stop_intake(tmp_path: Path) -> None:
    sink = FlakySink(failures=10**9)
    dispatcher, metrics = _console_dispatcher(tmp_path, sink)
    await dispatcher.start()
    try:
        await asyncio.wait_for(dispatcher.reject(_undecodable(0), None), 1)
        for offset in range(1, 4):
            await asyncio.wait_for(dispatcher.submit(_env(make_alert(alert_id=f"a{offset}"), offset, 1)), 1)
        assert not await dispatcher.drain(0.2)  # the letter is still pending: retried, not dropped
        assert _count(metrics, "tty", "sent") == 3
        assert dispatcher.tracker.committable() == {}  # offset 0 unsettled, so nothing is committed
        sink.failures = 0
        assert await dispatcher.drain(5)
    finally:
        await dispatcher.stop()
    assert [d.offset for _, d in sink.items] == [0]
    assert dispatcher.tracker.committable() == {(TOPIC, 1): 4}


async def test_a_full_backlog_drops_its_oldest_alert_and_intake_goes_on(tmp_path: Path) -> None:
    sink = ListSink()
    with WebhookReceiver() as rx:
        gate = rx.hold("/slow")
        subs = _subs(rx, [{"name": "slow"}, {"name": "fast"}])
        async with running(subs, DeliveryStore(tmp_path / "s.db"), sink, queue_size=2) as (dispatcher, m):
            await dispatcher.submit(_env(make_alert(alert_id="a0"), 0))
            await _until(lambda: _value(m.queued, "slow") == 0, "slow to take a0")  # held by the receiver
            for i in range(1, 6):
                # before: the sixth submit waited for "slow" to make room, so intake stopped for "fast" too
                await asyncio.wait_for(dispatcher.submit(_env(make_alert(alert_id=f"a{i}"), i)), 2)
                await _until(lambda: _value(m.queued, "fast") == 0, "fast to keep up")
            await asyncio.to_thread(rx.wait_for, "/fast", 6, 10)
            assert _value(m.queued, "slow") == 2 and _value(m.backlog_dropped, "slow") == 3
            gate.set()
            assert await dispatcher.drain(30)
        slow = [json.loads(r.body)["alert_id"] for r in rx.requests("/slow")]
        assert slow == ["a0", "a4", "a5"]  # the newest two were kept, in order
    dropped = [(name, d.offset, d.reason) for name, d in sink.items]
    assert dropped == [
        ("slow", 1, "delivery_failed"),
        ("slow", 2, "delivery_failed"),
        ("slow", 3, "delivery_failed"),
    ]
    assert all(
        d.error == "subscription slow: backlog full (2 alerts, subscription behind); not sent"
        for _, d in sink.items
    )
    assert _value(m.backlog_dropped, "fast") == 0 and _count(m, "fast", "sent") == 6
    assert dispatcher.tracker.committable() == {(TOPIC, 0): 6}  # dropped alerts are settled


async def test_a_failing_subscription_is_parked_probed_and_resumed(tmp_path: Path) -> None:
    sink = ListSink()
    with WebhookReceiver() as rx:
        rx.script("/down", [503] * 9)  # down for 9 requests, then 200
        subs = _subs(rx, [{"name": "down"}, {"name": "up"}])
        store = DeliveryStore(tmp_path / "s.db")
        async with running(subs, store, sink, park_probe_seconds=0.05) as (dispatcher, m):
            await dispatcher.submit(_env(make_alert(alert_id="a0"), 0))
            await _until(lambda: _value(m.parked, "down") == 1, "down to be parked")
            assert len(rx.requests("/down")) == 3  # the whole retry policy, once
            for i in range(1, 4):
                await dispatcher.submit(_env(make_alert(alert_id=f"a{i}"), i))
            await asyncio.to_thread(rx.wait_for, "/up", 4)  # "up" is not held back meanwhile
            await _until(lambda: _value(m.parked, "down") == 0, "down to resume")
            assert await dispatcher.drain(30)
        statuses = [(json.loads(r.body)["alert_id"], r.status) for r in rx.requests("/down")]
    # before: a1 and a2 also spent three attempts each and were dead-lettered while the receiver was down
    assert statuses == [("a0", 503)] * 3 + [("a1", 503)] * 6 + [("a1", 200), ("a2", 200), ("a3", 200)]
    assert [(name, d.offset) for name, d in sink.items] == [("down", 0)]
    assert _count(m, "down", "failed") == 1 and _count(m, "down", "sent") == 3
    assert _count(m, "down", "retry") == 2 + 6  # two within a0's policy, six failed probes
    assert store.outcome("down", "a1", 1) == "sent"
    assert dispatcher.tracker.committable() == {(TOPIC, 0): 4}


async def test_a_permanent_refusal_does_not_park(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        rx.script("/gone", [410])
        subs = _subs(rx, [{"name": "gone"}])
        async with running(subs, DeliveryStore(tmp_path / "s.db"), park_probe_seconds=60) as (dispatcher, m):
            await dispatcher.submit(_env(make_alert(alert_id="a0"), 0))
            await dispatcher.submit(_env(make_alert(alert_id="a1"), 1))
            assert await dispatcher.drain(10)  # a park would wait 60 s before trying a1
        assert _value(m.parked, "gone") == 0 and _count(m, "gone", "failed") == 1
        assert [r.status for r in rx.requests("/gone")] == [410, 200]


class CrashingDeliverer:
    async def deliver(
        self, alert: Alert, on_retry: object = None, *, max_attempts: int | None = None
    ) -> None:
        raise RuntimeError("bug")


async def test_a_crashing_deliverer_settles_the_alert_as_failed(tmp_path: Path) -> None:
    sink = ListSink()
    dispatcher, metrics = _console_dispatcher(tmp_path, sink)
    dispatcher._deliverers["tty"] = CrashingDeliverer()  # type: ignore[assignment]
    await dispatcher.start()
    try:
        await dispatcher.submit(_env(make_alert(), 0, partition=1))
        assert await dispatcher.drain(5)
    finally:
        await dispatcher.stop()
    # before: logged as delivery_crashed and left in flight, so its offset held every later commit
    assert dispatcher.tracker.committable() == {(TOPIC, 1): 1}
    ((_, dead),) = sink.items
    assert dead.error.startswith("subscription tty: crashed: RuntimeError: bug")
    assert _count(metrics, "tty", "failed") == 1
