"""Fan-out: one backlog and one task per subscription, so a slow or failing destination delays only itself.

The intake (``Dispatcher.submit``) filters each alert per subscription, skips versions the delivery log
has settled, and queues the rest. Each subscription's task delivers in topic order; a delivery that
exhausts its retries becomes a DeadLetter (service ``notify``, reason ``delivery_failed``). The
:class:`OffsetTracker` yields, per partition, the offset below which every delivery is settled; only
that offset is committed, so a crash re-reads at most unsettled alerts and the log drops repeats.

Intake never waits for one subscription. A subscription whose delivery failed for good in a way waiting
may cure (every attempt timed out, could not connect or got 5xx/429) is *parked*: its task holds the next
alert and tries it once every ``park_probe_seconds`` until the receiver answers, instead of spending the
whole retry policy on each alert, while its bounded backlog (``queue_size``) keeps taking alerts; when the
backlog is full its oldest alert is dead-lettered (``backlog full``) to make room.

Dead letters go through an outbox with its own task, never sent from the intake: a sink that fails for a
while is retried there (the record stays unsettled, so uncommitted), and one that refuses a record for good
(:class:`DeadLetterRefusedError`, e.g. too large for the topic) is logged, counted and settled.

    dispatcher = Dispatcher(subs, deliverers, store, metrics, sink)
    await dispatcher.start()
    await dispatcher.submit(envelope)        # never waits for a slow subscription
    consumer.commit(dispatcher.tracker.committable())
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from newswatch.contracts import Alert, DeadLetter, DeadLetterReason
from newswatch.notify.console import format_alert
from newswatch.notify.errors import DeadLetterRefusedError, DeliveryError
from newswatch.notify.metrics import NotifyMetrics
from newswatch.notify.store import DeliveryStore, SettledOutcome
from newswatch.notify.subscriptions import ConsoleDestination, Subscription, WebhookDestination
from newswatch.notify.webhook import DeliveryResult, RetryCallback, WebhookSender

__all__ = [
    "DEFAULT_MAX_ORIGINAL_BYTES",
    "ConsoleDeliverer",
    "DeadLetterSink",
    "Deliverer",
    "Dispatcher",
    "Envelope",
    "FileDeadLetterSink",
    "OffsetTracker",
    "TopicPartition",
    "WebhookDeliverer",
    "build_deadletter",
    "build_deliverers",
    "make_deadletter",
]

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

#: Original bytes kept (base64) in a dead letter, as the worker does (``NotifySettings`` overrides it).
DEFAULT_MAX_ORIGINAL_BYTES = 262_144
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Envelope:
    """An alert with where it came from (for offsets and dead letters) and its original bytes."""

    alert: Alert
    raw: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


class Deliverer(Protocol):
    """Delivers one alert; ``max_attempts`` (None: the policy's) caps the attempts, e.g. 1 for a probe."""

    async def deliver(
        self, alert: Alert, on_retry: RetryCallback | None = None, *, max_attempts: int | None = None
    ) -> DeliveryResult: ...


class DeadLetterSink(Protocol):
    """Where dead letters go; ``send`` raises :class:`DeadLetterRefusedError` when retrying cannot help."""

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None: ...


@dataclass
class WebhookDeliverer:
    """Adapts :class:`WebhookSender` to one subscription's destination."""

    sender: WebhookSender
    destination: WebhookDestination

    async def deliver(
        self, alert: Alert, on_retry: RetryCallback | None = None, *, max_attempts: int | None = None
    ) -> DeliveryResult:
        return await self.sender.deliver(self.destination, alert, on_retry, max_attempts=max_attempts)


@dataclass
class ConsoleDeliverer:
    """Writes one escaped line per alert (see :func:`format_alert`)."""

    stream: TextIO

    async def deliver(
        self, alert: Alert, on_retry: RetryCallback | None = None, *, max_attempts: int | None = None
    ) -> DeliveryResult:
        self.stream.write(format_alert(alert) + "\n")
        self.stream.flush()
        return DeliveryResult(True, 1, None, None, 0.0)


@dataclass
class FileDeadLetterSink:
    """Appends DeadLetter v1 JSON lines to ``<directory>/<subscription>.jsonl``.

    Records that belong to no subscription (undecodable alerts) go to ``invalid-records.jsonl``.
    """

    directory: Path

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = deadletter.model_dump_json() + "\n"
        with (self.directory / f"{subscription or 'invalid-records'}.jsonl").open(
            "a", encoding="utf-8"
        ) as fh:
            fh.write(line)


def build_deadletter(
    *,
    reason: DeadLetterReason,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes,
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
) -> DeadLetter:
    """A DeadLetter v1 from the notify service for the record at ``topic``/``partition``/``offset``.

    The original key and value are kept base64, cut to ``max_original_bytes`` each like the worker's, so
    the letter fits the dead-letter topic (``DEADLETTER_MAX_BYTES``) whatever the record's size;
    ``original_size_bytes`` and the error say when and how much was cut.
    """
    if len(value) > max_original_bytes:
        error += f" (original truncated to {max_original_bytes} of {len(value)} bytes)"
    return DeadLetter(
        service="notify",
        reason=reason,
        error=error[:_MAX_ERROR_CHARS],
        topic=topic,
        partition=partition,
        offset=offset,
        original_key_b64=None if key is None else base64.b64encode(key[:max_original_bytes]).decode(),
        original_value_b64=base64.b64encode(value[:max_original_bytes]).decode(),
        original_size_bytes=len(value),
        failed_at=datetime.now(UTC),
    )


def make_deadletter(
    env: Envelope,
    subscription: str,
    result: DeliveryResult,
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
) -> DeadLetter:
    """A DeadLetter v1 (service notify, reason delivery_failed) for a delivery that gave up."""
    return build_deadletter(
        reason="delivery_failed",
        error=f"subscription {subscription}: {result.error} after {result.attempts} attempt(s)",
        topic=env.topic,
        partition=env.partition,
        offset=env.offset,
        key=env.key,
        value=env.raw,
        max_original_bytes=max_original_bytes,
    )


@dataclass(frozen=True)
class _Outgoing:
    """A dead letter waiting in the outbox, and what to do once it is sent or refused (settle it)."""

    subscription: str
    deadletter: DeadLetter
    key: bytes | None
    settle: Callable[[], None]


@dataclass
class OffsetTracker:
    """Per partition, the offsets still awaiting deliveries; ``committable`` gives safe commit points.

    >>> t = OffsetTracker(); t.add(("a", 0), 5, pending=1); t.add(("a", 0), 6, pending=0)
    >>> t.committable()          # offset 5 still pending
    {}
    >>> t.done(("a", 0), 5); t.committable()
    {('a', 0): 7}
    """

    _pending: dict[TopicPartition, dict[int, int]] = field(default_factory=dict)
    _next: dict[TopicPartition, int] = field(default_factory=dict)
    _committed: dict[TopicPartition, int] = field(default_factory=dict)

    def add(self, tp: TopicPartition, offset: int, pending: int) -> None:
        self._pending.setdefault(tp, {})[offset] = pending
        self._advance(tp)

    def done(self, tp: TopicPartition, offset: int) -> None:
        offsets = self._pending.get(tp)
        if offsets is None or offset not in offsets:
            return  # partition revoked meanwhile
        offsets[offset] -= 1
        self._advance(tp)

    def _advance(self, tp: TopicPartition) -> None:
        offsets = self._pending[tp]
        for offset in sorted(offsets):
            if offsets[offset] > 0:
                break
            del offsets[offset]
            self._next[tp] = offset + 1

    def committable(self) -> dict[TopicPartition, int]:
        """Partitions whose commit point moved since the last :meth:`mark_committed`."""
        return {tp: off for tp, off in self._next.items() if self._committed.get(tp) != off}

    def mark_committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, tps: Sequence[TopicPartition]) -> None:
        """Drop revoked partitions; their unsettled alerts are re-read by the next owner."""
        for tp in tps:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)

    def pending_count(self) -> int:
        return sum(n for offsets in self._pending.values() for n in offsets.values())


class Dispatcher:
    """Owns the per-subscription queues and tasks; see the module docstring."""

    def __init__(
        self,
        subscriptions: Sequence[Subscription],
        deliverers: Mapping[str, Deliverer],
        store: DeliveryStore,
        metrics: NotifyMetrics,
        deadletters: DeadLetterSink,
        *,
        queue_size: int = 10_000,
        park_probe_seconds: float = 60.0,
        deadletter_retry_seconds: float = 5.0,
        deadletter_queue_size: int = 1_000,
        deadletter_max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
    ) -> None:
        self._subs = tuple(subscriptions)
        self._deliverers = dict(deliverers)
        self._store = store
        self._metrics = metrics
        self._deadletters = deadletters
        self._dl_retry = deadletter_retry_seconds
        self._dl_max_original = deadletter_max_original_bytes
        self._queues: dict[str, asyncio.Queue[Envelope]] = {
            s.name: asyncio.Queue(queue_size) for s in self._subs
        }
        self._parked: dict[str, bool] = {s.name: False for s in self._subs}
        self._park_probe_seconds = park_probe_seconds
        # bounded: while the sink is away, intake waits once this many letters are pending, not before
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue(deadletter_queue_size)
        self._in_flight: dict[str, set[tuple[str, int]]] = {s.name: set() for s in self._subs}
        self._tasks: list[asyncio.Task[None]] = []
        self.tracker = OffsetTracker()

    async def start(self) -> None:
        """Start one delivery task per subscription, and the dead-letter outbox's task."""
        self._tasks = [asyncio.create_task(self._run(s), name=f"notify:{s.name}") for s in self._subs]
        self._tasks.append(asyncio.create_task(self._run_outbox(), name="notify:deadletters"))

    async def submit(self, env: Envelope) -> None:
        """Queue ``env`` for every subscription that wants it and has not settled this version yet.

        Never waits for a subscription: a full backlog drops (dead-letters) its oldest alert instead. It
        waits only while the dead-letter outbox is full (the sink itself is failing).
        """
        alert = env.alert
        ident = (alert.alert_id, alert.version)
        self._metrics.observe_alert(alert)
        wanted: list[Subscription] = []
        for sub in self._subs:
            if not sub.matches(alert):
                self._metrics.deliveries.labels(subscription=sub.name, outcome="filtered").inc()
            elif ident in self._in_flight[sub.name] or self._store.seen(sub.name, *ident):
                self._metrics.deliveries.labels(subscription=sub.name, outcome="duplicate").inc()
            else:
                wanted.append(sub)
        self.tracker.add(env.tp, env.offset, len(wanted))
        for sub in wanted:
            self._in_flight[sub.name].add(ident)
            await self._enqueue(sub.name, env)

    async def _enqueue(self, name: str, env: Envelope) -> None:
        queue = self._queues[name]
        if queue.full():  # the backlog of a parked or slow subscription: the oldest alert makes room
            dropped = queue.get_nowait()
            queue.task_done()
            await self._drop(name, dropped, queue.maxsize)
        queue.put_nowait(env)
        self._metrics.queued.labels(subscription=name).set(queue.qsize())

    async def _drop(self, name: str, env: Envelope, backlog: int) -> None:
        """Dead-letter ``env`` for ``name`` undelivered: it fell off the subscription's full backlog."""
        self._metrics.backlog_dropped.labels(subscription=name).inc()
        state = "parked" if self._parked[name] else "behind"
        log.warning(
            "alert_dropped",
            extra={"subscription": name, "alert_id": env.alert.alert_id, "state": state, "backlog": backlog},
        )
        deadletter = build_deadletter(
            reason="delivery_failed",
            error=f"subscription {name}: backlog full ({backlog} alerts, subscription {state}); not sent",
            topic=env.topic,
            partition=env.partition,
            offset=env.offset,
            key=env.key,
            value=env.raw,
            max_original_bytes=self._dl_max_original,
        )
        await self._queue_letter(name, env, deadletter)

    async def _run(self, sub: Subscription) -> None:
        queue = self._queues[sub.name]
        deliverer = self._deliverers[sub.name]
        while True:
            env = await queue.get()
            self._metrics.queued.labels(subscription=sub.name).set(queue.qsize())
            try:
                if self._parked[sub.name]:
                    await self._probe(sub.name, deliverer, env)
                else:
                    await self._deliver_one(sub.name, deliverer, env)
            except Exception:
                log.exception(
                    "delivery_crashed", extra={"subscription": sub.name, "alert_id": env.alert.alert_id}
                )
            finally:
                queue.task_done()

    async def _attempt(
        self, name: str, deliverer: Deliverer, env: Envelope, max_attempts: int | None = None
    ) -> DeliveryResult:
        """Deliver ``env`` (all the policy's attempts, or ``max_attempts``); a crash is a failed delivery."""
        alert = env.alert

        def on_retry(attempt: int, exc: DeliveryError) -> None:
            self._metrics.deliveries.labels(subscription=name, outcome="retry").inc()
            log.warning(
                "delivery_retry",
                extra={
                    "subscription": name,
                    "alert_id": alert.alert_id,
                    "attempt": attempt,
                    "error": str(exc),
                },
            )

        try:
            result = await deliverer.deliver(alert, on_retry, max_attempts=max_attempts)
        except Exception as exc:  # a bug, not the receiver: settle it as failed so its offset moves on
            log.exception("deliverer_crashed", extra={"subscription": name, "alert_id": alert.alert_id})
            return DeliveryResult(False, 1, None, f"crashed: {type(exc).__name__}: {exc}", 0.0)
        self._metrics.delivery_duration.labels(subscription=name).observe(result.duration_seconds)
        return result

    async def _deliver_one(self, name: str, deliverer: Deliverer, env: Envelope) -> None:
        result = await self._attempt(name, deliverer, env)
        if result.ok:
            self._sent(name, env, result)
            return
        self._metrics.deliveries.labels(subscription=name, outcome="failed").inc()
        await self._dead_letter(name, env, result)
        if result.retryable:  # every attempt failed in a way that waiting may cure: the receiver is down
            self._park(name, result)

    async def _probe(self, name: str, deliverer: Deliverer, env: Envelope) -> None:
        """While ``name`` is parked: one attempt every ``park_probe_seconds`` until its receiver answers.

        ``env`` is held meanwhile (neither dropped nor dead-lettered for the outage) and the backlog
        waits behind it; a success or a non-retryable answer unparks the subscription.
        """
        while True:
            await asyncio.sleep(self._park_probe_seconds)
            result = await self._attempt(name, deliverer, env, max_attempts=1)
            if result.ok:
                self._unpark(name)
                self._sent(name, env, result)
                return
            if not result.retryable:  # the receiver answered, just not for this alert
                self._unpark(name)
                self._metrics.deliveries.labels(subscription=name, outcome="failed").inc()
                await self._dead_letter(name, env, result)
                return
            self._metrics.deliveries.labels(subscription=name, outcome="retry").inc()

    def _park(self, name: str, result: DeliveryResult) -> None:
        self._parked[name] = True
        self._metrics.parked.labels(subscription=name).set(1)
        log.warning(
            "subscription_parked",
            extra={
                "subscription": name,
                "error": result.error,
                "probe_seconds": self._park_probe_seconds,
                "backlog": self._queues[name].qsize(),
            },
        )

    def _unpark(self, name: str) -> None:
        self._parked[name] = False
        self._metrics.parked.labels(subscription=name).set(0)
        log.info("subscription_resumed", extra={"subscription": name, "backlog": self._queues[name].qsize()})

    def _sent(self, name: str, env: Envelope, result: DeliveryResult) -> None:
        self._metrics.deliveries.labels(subscription=name, outcome="sent").inc()
        self._metrics.last_delivery.labels(subscription=name).set_to_current_time()
        log.info(
            "alert_delivered",
            extra={
                "subscription": name,
                "alert_id": env.alert.alert_id,
                "version": env.alert.version,
                "attempts": result.attempts,
            },
        )
        self._settle(name, env, "sent")

    def _settle(self, name: str, env: Envelope, outcome: SettledOutcome) -> None:
        """Record ``env``'s delivery to ``name`` as settled: delivery log, in-flight set, offsets."""
        alert = env.alert
        self._store.record(name, alert.alert_id, alert.version, outcome)
        self._in_flight[name].discard((alert.alert_id, alert.version))
        self.tracker.done(env.tp, env.offset)

    async def _dead_letter(self, name: str, env: Envelope, result: DeliveryResult) -> None:
        """Queue the dead letter of a delivery that gave up; it is settled once the sink took it."""
        deadletter = make_deadletter(env, name, result, self._dl_max_original)
        log.error(
            "delivery_failed",
            extra={
                "subscription": name,
                "alert_id": env.alert.alert_id,
                "version": env.alert.version,
                "attempts": result.attempts,
                "error": result.error,
            },
        )
        await self._queue_letter(name, env, deadletter)

    async def _queue_letter(self, name: str, env: Envelope, deadletter: DeadLetter) -> None:
        """Hand ``deadletter`` to the outbox; ``env`` is settled for ``name`` once the sink took it."""
        await self._outbox.put(
            _Outgoing(name, deadletter, env.key, lambda: self._settle(name, env, "dead_lettered"))
        )

    async def reject(self, deadletter: DeadLetter, key: bytes | None) -> None:
        """Dead-letter a record that is no alert (``deadletter`` names its offset) and account for it.

        Returns once the letter is queued in the outbox (it waits only while the outbox is full); the
        record's offset stays unsettled until the sink took the letter or refused it for good.
        """
        assert (
            deadletter.topic is not None
            and deadletter.partition is not None
            and deadletter.offset is not None
        )
        tp, offset = (deadletter.topic, deadletter.partition), deadletter.offset
        self.tracker.add(tp, offset, 1)
        await self._outbox.put(_Outgoing("", deadletter, key, lambda: self.tracker.done(tp, offset)))

    async def _run_outbox(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                await self._send_deadletter(item)
                item.settle()
            except Exception:
                log.exception("deadletter_crashed", extra={"subscription": item.subscription})
            finally:
                self._outbox.task_done()

    async def _send_deadletter(self, item: _Outgoing) -> None:
        """Send ``item`` until the sink takes it; give up only when the sink refuses it for good."""
        reason = item.deadletter.reason
        while True:
            try:
                await self._deadletters.send(item.subscription, item.deadletter, item.key)
            except DeadLetterRefusedError as exc:
                # retrying cannot help; the record is still on its topic at the offset logged here
                self._metrics.deadletters_refused.labels(reason=reason).inc()
                log.error(
                    "deadletter_refused",
                    extra={
                        "subscription": item.subscription,
                        "reason": reason,
                        "topic": item.deadletter.topic,
                        "partition": item.deadletter.partition,
                        "offset": item.deadletter.offset,
                        "error": str(exc),
                    },
                )
                return
            except Exception:
                log.exception("deadletter_send_failed", extra={"subscription": item.subscription})
                await asyncio.sleep(self._dl_retry)
                continue
            self._metrics.deadletters.labels(reason=reason).inc()
            return

    async def drain(self, timeout: float) -> bool:
        """Wait, at most ``timeout`` s, until the queues and the outbox are empty and idle; True if so."""
        try:
            await asyncio.wait_for(self._joined(), timeout)
        except TimeoutError:
            return False
        return True

    async def _joined(self) -> None:
        await asyncio.gather(*(q.join() for q in self._queues.values()))
        await self._outbox.join()  # after the queues: their last failures land in the outbox

    async def stop(self) -> None:
        """Cancel the delivery tasks (call :meth:`drain` first for a clean stop)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def build_deliverers(
    subscriptions: Sequence[Subscription], sender: WebhookSender, stream: TextIO
) -> dict[str, Deliverer]:
    """One deliverer per subscription, by destination type."""
    out: dict[str, Deliverer] = {}
    for sub in subscriptions:
        dest = sub.destination
        if isinstance(dest, ConsoleDestination):
            out[sub.name] = ConsoleDeliverer(stream)
        else:
            out[sub.name] = WebhookDeliverer(sender, dest)
    return out
