"""``newswatch notify`` and ``newswatch alerts tail``: alerts from Kafka to subscribers.

Data flow:
    news.alerts.v1 --(consumer group settings.notify.group_id, manual commits)--> decode_alert
      --> Dispatcher.submit: per subscription filter + delivery log --> one queue/task per subscription
      --> webhook (signed POST, retries) | console --> delivery log; failures --> DeadLetter v1
      --> offsets committed only below the lowest unsettled record (OffsetTracker)

The Kafka clients are kafka-python's, built by ``newswatch.broker.clients``. They block, so they stay off
the event loop: the consumer lives on one thread of its own (kafka-python's consumer is not thread-safe),
every call to it goes there, and the dead-letter producer waits for its acknowledgements on another. The
rebalance listener runs on kafka-python's network thread and reads the offset tracker on the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO, TypeVar

import httpx
from kafka import AsyncConsumerRebalanceListener, OffsetAndMetadata
from kafka import TopicPartition as KafkaTopicPartition
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from prometheus_client import CollectorRegistry, start_http_server

from newswatch.broker.clients import kafka_consumer, kafka_producer, producer_config
from newswatch.broker.errors import BrokerError, ClientConfigError
from newswatch.broker.reading import TopicReader
from newswatch.broker.topics import DEADLETTER_MAX_BYTES
from newswatch.contracts import EVENT_TYPES, DeadLetter
from newswatch.notify.console import format_alert
from newswatch.notify.dispatch import (
    DEFAULT_MAX_ORIGINAL_BYTES,
    DeadLetterSink,
    Dispatcher,
    Envelope,
    FileDeadLetterSink,
    TopicPartition,
    build_deadletter,
    build_deliverers,
)
from newswatch.notify.encoding import decode_alert, dumps_inert
from newswatch.notify.errors import AlertDecodeError, DeadLetterRefusedError, SubscriptionConfigError
from newswatch.notify.metrics import NotifyMetrics
from newswatch.notify.store import DeliveryStore
from newswatch.notify.subscriptions import Subscription, alert_matches, load_subscriptions
from newswatch.notify.webhook import RetryPolicy, WebhookSender
from newswatch.settings import KafkaSettings, Settings

__all__ = [
    "KafkaDeadLetterSink",
    "add_alerts_arguments",
    "add_notify_arguments",
    "deadletter_producer_config",
    "run_alerts",
    "run_notify",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------- Kafka wiring
#: A valid alert key is an alert id (at most 128 characters); a longer one is cut, not carried whole.
_MAX_DEADLETTER_KEY_BYTES = 1024
#: What the dead-letter topic refuses for good: the record is too large; retrying cannot change that.
_REFUSED = (MessageSizeTooLargeError, RecordListTooLargeError)
#: How long a rebalance callback waits for the event loop to read the offset tracker.
_LOOP_WAIT_SECONDS = 10.0
#: How long closing the dead-letter producer may take before pending letters are abandoned (uncommitted).
_PRODUCER_CLOSE_SECONDS = 5.0


class _Record(Protocol):
    """What intake reads of a consumed record (kafka-python's ``ConsumerRecord`` has these)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def deadletter_producer_config(kafka: KafkaSettings) -> dict[str, Any]:
    """The dead-letter producer's options: requests up to the topic's ``DEADLETTER_MAX_BYTES``, not 1 MiB."""
    return producer_config(kafka, max_request_size=DEADLETTER_MAX_BYTES)


def _ack_timeout_seconds(config: dict[str, Any]) -> float:
    """Longer than the producer's own delivery timeout: a letter reported failed has expired in the producer,
    so the outbox's retry cannot duplicate it."""
    return float(config["delivery_timeout_ms"]) / 1000 + 10.0


class KafkaDeadLetterSink:
    """DeadLetter v1 records on the dead-letter topic, keyed like the alert, subscription in a header.

    ``producer`` is a kafka-python ``KafkaProducer``; each send waits for Kafka's acknowledgement on the
    sink's own thread, so the event loop never blocks.
    """

    def __init__(self, producer: Any, topic: str, *, ack_timeout_seconds: float = 130.0) -> None:
        self._producer = producer
        self._topic = topic
        self._ack_timeout = ack_timeout_seconds
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="notify-deadletters")

    async def send(self, subscription: str, deadletter: DeadLetter, key: bytes | None) -> None:
        """Produce one letter; raise :class:`DeadLetterRefusedError` when Kafka refuses it as too large."""
        headers = [("subscription", subscription.encode())] if subscription else []
        value = deadletter.model_dump_json().encode()
        cut = None if key is None else key[:_MAX_DEADLETTER_KEY_BYTES]
        send = functools.partial(self._send_and_wait, value, cut, headers)
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, send)
        except _REFUSED as exc:
            refused = f"{self._topic} refused a dead letter of {len(value)} bytes: {exc}"
            raise DeadLetterRefusedError(refused) from exc

    def _send_and_wait(self, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        future = self._producer.send(self._topic, value=value, key=key, headers=headers)
        future.get(timeout=self._ack_timeout)

    async def close(self) -> None:
        """Close the producer (pending letters fail after a few seconds), then the sink's thread."""
        await asyncio.to_thread(self._producer.close, timeout=_PRODUCER_CLOSE_SECONDS)
        self._thread.shutdown(wait=False, cancel_futures=True)


class _ConsumerThread:
    """The one thread that calls the kafka-python consumer; ``run`` awaits a call made there."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="notify-consumer")

    async def run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], _T]) -> _T:
    """Run ``fn`` on the event loop from another thread and return its result (directly once the loop ended).

    Raises ``TimeoutError`` when the loop does not get to it within ``_LOOP_WAIT_SECONDS``.
    """
    if loop.is_closed() or not loop.is_running():
        return fn()

    async def call() -> _T:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(_LOOP_WAIT_SECONDS)


def _kafka_offsets(offsets: dict[TopicPartition, int]) -> dict[Any, Any]:
    return {KafkaTopicPartition(t, p): OffsetAndMetadata(off, "", -1) for (t, p), off in offsets.items()}


class _Rebalance(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    """Commit what is settled before partitions move; forget their unsettled offsets.

    Runs on kafka-python's network thread (an async listener, so heartbeats go on while a commit is awaited);
    the tracker belongs to the event loop and is read and changed there.
    """

    def __init__(self, dispatcher: Dispatcher, loop: asyncio.AbstractEventLoop) -> None:
        self._dispatcher = dispatcher
        self._loop = loop
        self.consumer: Any = None  # set once the consumer is built, before it subscribes

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        tracker = self._dispatcher.tracker
        try:
            offsets = _on_loop(self._loop, tracker.committable)
            if offsets and self.consumer is not None:
                await self.consumer.commit_async(_kafka_offsets(offsets))
                _on_loop(self._loop, lambda: tracker.mark_committed(offsets))
        except Exception as exc:  # the next owner re-reads from the last commit; the log drops repeats
            log.warning("commit_on_revoke_failed", extra={"error": repr(exc)})
        finally:
            await self.on_partitions_lost(revoked)

    async def on_partitions_lost(self, lost: set[Any]) -> None:
        tracker = self._dispatcher.tracker
        with contextlib.suppress(TimeoutError):
            _on_loop(self._loop, lambda: tracker.forget([(tp.topic, tp.partition) for tp in lost]))

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        log.info("partitions_assigned", extra={"partitions": sorted(tp.partition for tp in assigned)})


async def _commit(thread: _ConsumerThread, consumer: Any, dispatcher: Dispatcher, timeout_ms: int) -> None:
    offsets = dispatcher.tracker.committable()
    if not offsets:
        return
    try:
        await thread.run(consumer.commit, _kafka_offsets(offsets), timeout_ms=timeout_ms)
    except KafkaError as exc:  # a rebalance in progress, or the broker away; the next commit catches up
        log.warning("commit_failed", extra={"error": str(exc)})
        return
    dispatcher.tracker.mark_committed(offsets)


# ---------------------------------------------------------------------------------------------- notify
def add_notify_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``newswatch notify``."""
    parser.add_argument(
        "--subscriptions",
        type=Path,
        default=None,
        help="subscriptions YAML (default: NEWSWATCH_NOTIFY__SUBSCRIPTIONS_FILE)",
    )
    parser.add_argument("--check", action="store_true", help="validate the subscriptions file and exit")


def _load(settings: Settings, override: Path | None) -> tuple[Subscription, ...]:
    path = override or settings.notify.subscriptions_file
    if path is None:
        raise SubscriptionConfigError(
            "no subscriptions file: pass --subscriptions or set NEWSWATCH_NOTIFY__SUBSCRIPTIONS_FILE"
        )
    subs = load_subscriptions(path, secrets=settings.notify.webhook_secrets)
    if not subs:
        raise SubscriptionConfigError(f"{path}: no subscriptions")
    return subs


async def _intake(
    record: _Record,
    dispatcher: Dispatcher,
    metrics: NotifyMetrics,
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
) -> None:
    metrics.alerts_consumed.inc()
    raw = record.value if record.value is not None else None
    try:
        alert = decode_alert(raw)
    except AlertDecodeError as exc:
        log.error(
            "alert_invalid",
            extra={
                "partition": record.partition,
                "offset": record.offset,
                "reason": exc.reason,
                "error": str(exc),
            },
        )
        deadletter = build_deadletter(
            reason=exc.reason,
            error=str(exc),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
            max_original_bytes=max_original_bytes,
        )
        await dispatcher.reject(deadletter, record.key)
        return
    env = Envelope(alert, raw or b"", record.key, record.topic, record.partition, record.offset)
    await dispatcher.submit(env)


async def _serve(settings: Settings, subs: tuple[Subscription, ...], metrics: NotifyMetrics) -> int:
    cfg = settings.notify
    kafka = settings.kafka
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with contextlib.AsyncExitStack() as stack:  # closes, in reverse order, whatever was started
        store = DeliveryStore(cfg.store_path or settings.state_dir / "notify.sqlite3")
        stack.callback(store.close)
        pruned = store.prune(cfg.store_retention_seconds)
        sink: DeadLetterSink
        if cfg.deadletter == "topic":
            producer = await asyncio.to_thread(kafka_producer, kafka, max_request_size=DEADLETTER_MAX_BYTES)
            kafka_sink = KafkaDeadLetterSink(
                producer,
                kafka.topic_deadletter,
                ack_timeout_seconds=_ack_timeout_seconds(deadletter_producer_config(kafka)),
            )
            stack.push_async_callback(kafka_sink.close)
            sink = kafka_sink
        else:
            sink = FileDeadLetterSink(cfg.deadletter_dir or settings.state_dir / "notify-deadletters")
        client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=cfg.request_timeout_seconds, follow_redirects=False, trust_env=False)
        )
        sender = WebhookSender(
            client,
            RetryPolicy(cfg.max_attempts, cfg.backoff_base_seconds, cfg.backoff_max_seconds),
            user_agent=cfg.user_agent,
            attempt_deadline_seconds=cfg.attempt_deadline_seconds,
            max_response_bytes=cfg.max_response_bytes,
        )
        dispatcher = Dispatcher(
            subs,
            build_deliverers(subs, sender, sys.stdout),
            store,
            metrics,
            sink,
            queue_size=cfg.queue_size,
            park_probe_seconds=cfg.park_probe_seconds,
            deadletter_max_original_bytes=cfg.deadletter_max_original_bytes,
        )
        thread = _ConsumerThread()
        stack.callback(thread.shutdown)
        consumer = await thread.run(
            kafka_consumer, kafka, group_id=cfg.group_id, auto_offset_reset=cfg.start_from
        )
        stack.push_async_callback(thread.run, consumer.close)  # awaited: its revoke callback needs the loop
        listener = _Rebalance(dispatcher, loop)
        listener.consumer = consumer
        await thread.run(consumer.subscribe, [kafka.topic_alerts], listener=listener)
        await dispatcher.start()
        stack.push_async_callback(dispatcher.stop)
        log.info(
            "notify_started",
            extra={"subscriptions": [s.name for s in subs], "group_id": cfg.group_id, "pruned": pruned},
        )
        commit_ms = kafka.request_timeout_ms
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                batches = await thread.run(consumer.poll, timeout_ms=500, max_records=500)
                for records in batches.values():
                    for record in records:
                        await _intake(record, dispatcher, metrics, cfg.deadletter_max_original_bytes)
                if time.monotonic() - last_commit >= cfg.commit_interval_seconds:
                    await _commit(thread, consumer, dispatcher, commit_ms)
                    last_commit = time.monotonic()
        finally:
            drained = await dispatcher.drain(cfg.shutdown_grace_seconds)
            await _commit(thread, consumer, dispatcher, commit_ms)
            log.info("notify_stopped", extra={"drained": drained})
    return 0


def run_notify(args: argparse.Namespace) -> int:
    """Deliver alerts until SIGTERM; exit 2 on a bad subscriptions file."""
    settings: Settings = args.settings
    try:
        subs = _load(settings, args.subscriptions)
    except SubscriptionConfigError as exc:
        log.error("subscriptions_invalid", extra={"error": str(exc)})
        print(f"newswatch notify: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for sub in subs:
            print(
                f"{sub.name}: {sub.destination.type} {list(sub.event_types)} "
                f"countries={list(sub.countries) or 'any'} min_severity={sub.min_severity}"
            )
        return 0
    registry = CollectorRegistry()
    metrics = NotifyMetrics([s.name for s in subs], registry=registry)
    if settings.notify.metrics_port:
        start_http_server(settings.notify.metrics_port, settings.notify.metrics_host, registry=registry)
    return _run_kafka("notify", _serve(settings, subs, metrics))


def _run_kafka(command: str, main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``; Kafka configuration and connection failures exit with a message, not a traceback."""
    try:
        return asyncio.run(main)
    except ClientConfigError as exc:
        print(f"newswatch {command}: {exc}", file=sys.stderr)
        return 2
    except (KafkaError, BrokerError) as exc:
        log.error("kafka_unavailable", extra={"error": str(exc)})
        print(f"newswatch {command}: Kafka unavailable: {exc}", file=sys.stderr)
        return 1


# ---------------------------------------------------------------------------------------------- alerts tail
def add_alerts_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``newswatch alerts tail``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    tail = sub.add_parser("tail", help="print alerts as they arrive, filtered")
    tail.add_argument("--event-type", action="append", choices=EVENT_TYPES, help="repeatable; default all")
    tail.add_argument(
        "--country", action="append", type=str.upper, help="ISO alpha-2, repeatable; default any"
    )
    tail.add_argument("--min-severity", choices=("routine", "urgent", "flash"), default="routine")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest retained alert")
    tail.add_argument("--json", action="store_true", help="print Alert v1 JSON lines (HTML-inert escaping)")
    tail.add_argument("--max-alerts", type=int, default=None, help="exit after printing this many")
    tail.add_argument("--idle-timeout", type=float, default=None, help="exit after this many idle seconds")


async def _tail(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    start: Literal["beginning", "end"] = "beginning" if args.from_beginning else "end"
    reader = await asyncio.to_thread(TopicReader, settings.kafka, [settings.kafka.topic_alerts], start=start)
    event_types = tuple(args.event_type or EVENT_TYPES)
    countries = tuple(args.country or ())
    printed = 0
    try:
        idle_since = time.monotonic()
        while not stop.is_set():
            for record in await asyncio.to_thread(reader.poll, 250):
                idle_since = time.monotonic()
                try:
                    alert = decode_alert(record.value)
                except AlertDecodeError as exc:
                    log.warning("alert_invalid", extra={"offset": record.offset, "error": str(exc)})
                    continue
                if not alert_matches(
                    alert, event_types=event_types, countries=countries, min_severity=args.min_severity
                ):
                    continue
                line = dumps_inert(alert.model_dump(mode="json")) if args.json else format_alert(alert)
                out.write(line + "\n")
                out.flush()
                printed += 1
                if args.max_alerts is not None and printed >= args.max_alerts:
                    return 0
            if args.idle_timeout is not None and time.monotonic() - idle_since >= args.idle_timeout:
                return 0
    finally:
        await asyncio.to_thread(reader.close)
    return 0


def run_alerts(args: argparse.Namespace) -> int:
    """``newswatch alerts tail``: print matching alerts until interrupted (or --max-alerts/--idle-timeout)."""
    with contextlib.suppress(BrokenPipeError):
        return _run_kafka("alerts tail", _tail(args.settings, args, sys.stdout))
    return 0
