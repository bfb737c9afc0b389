"""The Faust app: two agents over the pure modules, and the only place the worker touches Kafka.

    worker = WorkerApp(settings, classifier, WorkerMetrics())
    worker.run()            # blocks until SIGTERM/SIGINT; returns the exit code

``classify`` agent: ``news.articles.v1`` (raw bytes) in batches of ``batch_max_size`` within
``batch_within_seconds`` -> decode (bad -> dead letter) -> classifier on a dedicated inference thread ->
one Classification per article to ``news.classified.v1`` + one Candidate per positive label to the internal
``<app_id>-alert-candidates`` topic, keyed by event type. ``alert`` agent: candidates -> AlertBook over the
``alerts`` table (changelog ``<app_id>-alerts-changelog``) -> ``news.alerts.v1``.

At-least-once with idempotent outputs: every output of a batch is acknowledged by Kafka before the
batch's offsets are acked; the table's changelog is flushed before an alert is sent, and the alert is marked
emitted in the table only after Kafka acknowledged it. An output Kafka refuses for good (faust raises
``ProducerSendError``, or the ack carries a non-retriable error) dead-letters its source record
(``delivery_failed``); an alert refused so is not marked emitted. A classifier call that runs past
``classify_timeout_seconds`` is abandoned and its articles retried one by one (one that times out alone is
dead-lettered); a record in flight when ``max_classify_attempts`` processes died is dead-lettered
(``inflight.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import faust
from faust.exceptions import ProducerSendError
from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer
from pydantic import ValidationError

from newswatch import __version__
from newswatch.broker import BrokerError, TopicSpec, ensure_topics, faust_app_config
from newswatch.contracts import Alert, Article, Classification, DeadLetter
from newswatch.settings import Settings
from newswatch.worker.alerts import AlertBook, Candidate, candidates_from, group_key
from newswatch.worker.batch import Classifier, classify_resilient, enrich
from newswatch.worker.deadletter import SourceRecord, dead_letter, decode_article
from newswatch.worker.errors import (
    AlertStateError,
    DeliveryFailedError,
    ModelFailedError,
    RecordRejectedError,
    RecordSchemaError,
    WorkerStartupError,
)
from newswatch.worker.faust_errors import KafkaError, KafkaTimeoutError
from newswatch.worker.inflight import InflightLedger
from newswatch.worker.lag import LagTracker
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.recovery import OffsetGapDetector, SeekFirstTableManager

__all__ = ["WorkerApp"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 30.0
_PIPELINE_DEPTH = 2  # batches in flight: one classified while the one before awaits its acks


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """One record to produce; ``source`` is dead-lettered if Kafka refuses the record for good.

    ``deadletter`` marks a dead letter itself: one refused for good is dropped (logged), not re-lettered.
    """

    topic: str
    key: bytes
    value: bytes
    source: SourceRecord | None = None
    deadletter: bool = False


class _IdempotentProducer(AIOKafkaFaustProducer):
    """faust's aiokafka producer with ``enable_idempotence`` on (faust has no setting for it).

    The broker then drops a batch the producer re-sends after a lost acknowledgement (e.g. across a broker
    restart), so retries cannot duplicate outputs or changelog records. Requires ``acks=all`` (ours: -1).
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _App(faust.App):
    """``faust.App`` whose producer is idempotent."""

    def _new_producer(self) -> Any:
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


class _InferenceThread:
    """A one-thread executor whose thread is a daemon: one stuck in the classifier cannot block the exit.

    (``ThreadPoolExecutor`` joins its threads at interpreter exit.) After a classifier timeout the worker
    shuts this one down, abandoning the stuck thread, and starts a fresh one.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._queue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="newswatch-inference", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Stop after the call in progress; calls still queued are cancelled."""
        self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the awaiting coroutine
                with contextlib.suppress(InvalidStateError):
                    future.set_exception(exc)
            else:
                with contextlib.suppress(InvalidStateError):
                    future.set_result(result)
        while True:  # cancel what was queued behind the stop
            try:
                rest = self._queue.get_nowait()
            except queue.Empty:
                return
            if rest is not None:
                rest[0].cancel()


def _kafka_error(exc: Exception) -> Exception:
    """The aiokafka error under faust's ``ProducerSendError`` (its retriable flag decides a retry)."""
    cause = exc.__cause__
    return cause if isinstance(exc, ProducerSendError) and isinstance(cause, KafkaError) else exc


def _transient(error: BaseException) -> bool:
    """Worth retrying: aiokafka's retriable errors, its timeouts (a broker down longer than the request
    timeout; aiokafka does not flag them retriable) and anything that is not a Kafka error."""
    if not isinstance(error, KafkaError):
        return True
    return bool(error.retriable) or isinstance(error, KafkaTimeoutError)


def _source_of(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(message.topic, message.partition, message.offset, message.key, message.value)


class WorkerApp:
    """Owns the Faust app, the inference thread, the alert book and the metrics of one worker process."""

    def __init__(self, settings: Settings, classifier: Classifier, metrics: WorkerMetrics) -> None:
        ws, kafka = settings.worker, settings.kafka
        self._settings = settings
        self._classifier = classifier
        self.metrics = metrics
        self._lag = LagTracker()
        self._reported: set[tuple[str, int]] = set()
        self._gaps = OffsetGapDetector()
        self._executor = _InferenceThread()
        self._inference_lock = asyncio.Lock()  # one classifier call at a time: its timeout starts as it runs
        self._ledger = InflightLedger(None)  # the real one is opened by run(), in the state directory
        self.app = _App(
            ws.app_id,
            **faust_app_config(kafka),
            store="memory://",
            TableManager=SeekFirstTableManager,  # no records lost when a restart restores the table
            autodiscover=False,
            web_enabled=ws.web_enabled,
            web_bind=ws.web_host,
            web_host=ws.web_host,
            web_port=ws.web_port,
            topic_partitions=ws.alert_partitions,
            topic_replication_factor=ws.replication_factor,
            topic_disable_leader=True,
            processing_guarantee="at_least_once",
            broker_commit_interval=ws.commit_interval_seconds,
            broker_session_timeout=ws.session_timeout_seconds,
            broker_heartbeat_interval=min(3.0, ws.session_timeout_seconds / 3),
            consumer_auto_offset_reset="earliest",
            # Small fetches: a 1 MB fetch per articles partition (faust's default) queues thousands of backlog
            # articles ahead of the candidates fetched after them; the alert agent got nothing until the
            # backlog was nearly read (docs/worker.md, "Alerts under a backlog").
            consumer_max_fetch_size=ws.fetch_partition_bytes,
            table_standby_replicas=ws.table_standby_replicas,
            datadir=str(settings.state_dir / "worker" / ws.app_id),
            key_serializer="raw",
            value_serializer="raw",
        )
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw"}
        raw["value_serializer"] = "raw"
        self.articles_topic = self.app.topic(kafka.topic_articles, **raw)
        self.classified_topic = self.app.topic(kafka.topic_classified, **raw)
        self.alerts_topic = self.app.topic(kafka.topic_alerts, **raw)
        self.deadletter_topic = self.app.topic(kafka.topic_deadletter, **raw)
        self.candidates_topic = self.app.topic(
            f"{ws.app_id}-alert-candidates", internal=True, partitions=ws.alert_partitions, **raw
        )
        self._names = {
            "classified_topic": kafka.topic_classified,
            "alerts_topic": kafka.topic_alerts,
            "deadletter_topic": kafka.topic_deadletter,
            "candidates_topic": self.candidates_topic.get_topic_name(),
        }
        self.table = self.app.Table(
            "alerts",
            default=None,
            partitions=ws.alert_partitions,
            key_type=str,
            value_type=str,  # JSON text: Faust's json codec round-trips a str exactly through the changelog
            help="Open alerts, their index per event type and the articles already counted.",
        )
        self._book = AlertBook(self.table, ws.alerts)
        self.app.agent(self.articles_topic, name="classify")(self._classify_agent)
        self.app.agent(self.candidates_topic, name="alert")(self._alert_agent)
        self.app.timer(ws.lag_interval_seconds, name="measure_lag")(self._measure_lag)

    # -- running ------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM/SIGINT (Faust drains the current batch first); return the exit code."""
        self.metrics.set_info(model_version=self._classifier.model_version, app_version=__version__)
        Path(self.app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
        worker = faust.Worker(
            self.app, quiet=True, override_logging=False, redirect_stdouts=False, loop=self.app.loop
        )
        worker.spinner = None  # no terminal progress spinner in our logs
        self._ledger = InflightLedger.open(Path(self.app.conf.datadir))
        self.app.loop.run_until_complete(self._ensure_internal_topics())
        log.info(
            "worker_starting",
            extra={"app_id": self._settings.worker.app_id, "model_version": self._classifier.model_version},
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            code = int(exc.code or 0)
            log.info("worker_stopped", extra={"exit_code": code})
            return code
        finally:
            self._executor.shutdown()
            self._ledger.close()
        return 0  # pragma: no cover - execute_from_commandline always raises SystemExit

    async def _ensure_internal_topics(self) -> None:
        """Create the candidate topic and the table changelog before Faust's first rebalance.

        Faust declares them itself at start, but its first partition assignment can run before a new topic's
        metadata is visible, and then ignores the topic until the next rebalance.
        """
        ws = self._settings.worker
        specs = [
            TopicSpec(self.candidates_topic.get_topic_name(), ws.alert_partitions, ws.replication_factor),
            TopicSpec(
                self.table.changelog_topic.get_topic_name(),
                ws.alert_partitions,
                ws.replication_factor,
                {"cleanup.policy": "compact"},
            ),
        ]
        try:  # kafka-python's admin client blocks: off the event loop
            report = await asyncio.to_thread(ensure_topics, self._settings.kafka, specs)
        except BrokerError as exc:
            raise WorkerStartupError(f"cannot create the internal topics: {exc}") from exc
        if report.created:
            log.info("internal_topics_created", extra={"topics": list(report.created)})

    # -- classify agent -----------------------------------------------------------------------------------
    async def _classify_agent(self, stream: Any) -> None:
        """Pipeline batches: batch N's outputs are produced and awaited while batch N+1 is classified.

        Events are acked by hand (``noack_take``), batch after batch in order, each only after Kafka
        acknowledged all of its outputs; at most ``_PIPELINE_DEPTH`` batches are in flight.
        """
        ws = self._settings.worker
        inflight: deque[asyncio.Task[None]] = deque()
        previous: asyncio.Task[None] | None = None
        try:
            async for events in stream.noack_take(ws.batch_max_size, within=ws.batch_within_seconds):
                self._check_continuity(events)
                while len(inflight) >= _PIPELINE_DEPTH:
                    await inflight.popleft()
                previous = asyncio.ensure_future(self._pipelined(stream, events, previous))
                inflight.append(previous)
                while inflight and inflight[0].done():
                    await inflight.popleft()  # re-raises a failed batch's error: the agent crashes
            while inflight:
                await inflight.popleft()
        finally:
            for task in inflight:
                task.cancel()
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)

    async def _pipelined(
        self, stream: Any, events: Sequence[Any], previous: asyncio.Task[None] | None
    ) -> None:
        sources = [_source_of(e) for e in events]
        outgoing = await self.prepare_batch(sources)
        if previous is not None:
            await previous  # outputs leave, and offsets are acked, in batch order
        await self._publish(outgoing)
        for event, source in zip(events, sources, strict=True):
            self._lag.processed(source.topic, source.partition, offset=source.offset)
            await stream.ack(event)

    async def prepare_batch(self, sources: Sequence[SourceRecord]) -> list[_Outgoing]:
        """Decode and classify one batch (inference on the inference thread); return its outputs in order."""
        ws = self._settings.worker
        self.metrics.articles_consumed.inc(len(sources))
        outgoing: list[_Outgoing] = []
        decoded: list[tuple[SourceRecord, Article]] = []
        suspects: list[tuple[SourceRecord, Article]] = []
        for source in sources:
            try:
                article = decode_article(source.value, max_bytes=ws.max_record_bytes)
            except RecordRejectedError as exc:
                outgoing.append(self._dead_letter(source, exc))
                continue
            attempts = self._ledger.attempts(source)
            if attempts >= ws.max_classify_attempts:
                error = ModelFailedError(f"in flight at {attempts} worker deaths: not classified again")
                outgoing.append(self._dead_letter(source, error))
            elif attempts:
                suspects.append((source, article))  # classified alone, so its batch's others are cleared
            else:
                decoded.append((source, article))
        if decoded:
            outgoing.extend(await self._classify(decoded))
        for suspect in suspects:
            outgoing.extend(await self._classify([suspect]))
        return outgoing

    async def _classify(self, decoded: list[tuple[SourceRecord, Article]]) -> list[_Outgoing]:
        articles = [article for _, article in decoded]
        started = perf_counter()
        results = await self._infer([source for source, _ in decoded], articles)
        self.metrics.inference_duration.observe(perf_counter() - started)
        self.metrics.batch_size.observe(len(articles))
        classified_at = _utcnow()
        outgoing: list[_Outgoing] = []
        for (source, article), result in zip(decoded, results, strict=True):
            if isinstance(result, ModelFailedError):
                outgoing.append(self._dead_letter(source, result))
                continue
            try:
                record = enrich(article, result, classified_at=classified_at)
                payload = record.model_dump_json().encode()
                candidates = [
                    _Outgoing(
                        self._names["candidates_topic"],
                        group_key(c.event_type).encode(),
                        c.model_dump_json().encode(),
                        source,
                    )
                    for c in candidates_from(article, record)
                ]
            except Exception as exc:  # e.g. lone surrogates the model let through: this record alone fails
                outgoing.append(self._dead_letter(source, ModelFailedError(f"unserialisable result: {exc}")))
                continue
            outgoing.append(_Outgoing(self._names["classified_topic"], article.id.encode(), payload, source))
            outgoing.extend(candidates)
            self.metrics.articles_classified.inc()
            self.metrics.ingested_to_classified.observe(
                max(0.0, (classified_at - article.fetched_at).total_seconds())
            )
        return outgoing

    async def _infer(
        self, sources: Sequence[SourceRecord], articles: Sequence[Article]
    ) -> list[Classification | ModelFailedError]:
        """``classify_resilient`` on the inference thread, within ``classify_timeout_seconds``.

        A call that times out leaves its thread stuck in the classifier: the executor is replaced (the stuck
        thread is abandoned) and the articles are classified one by one; one that times out alone fails.
        """
        timeout = self._settings.worker.classify_timeout_seconds
        async with self._inference_lock:
            self._ledger.begin(sources)
            future = self._executor.submit(classify_resilient, self._classifier, articles)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
            except TimeoutError:
                log.error(
                    "classify_timed_out",
                    extra={"articles": len(articles), "timeout_seconds": timeout},
                )
                self._executor.shutdown()
                self._executor = _InferenceThread()
                if len(articles) == 1:
                    return [ModelFailedError(f"classification timed out after {timeout} s")]
            finally:
                self._ledger.end(sources)
        results: list[Classification | ModelFailedError] = []
        for source, article in zip(sources, articles, strict=True):
            results.extend(await self._infer([source], [article]))
        return results

    # -- alert agent --------------------------------------------------------------------------------------
    async def _alert_agent(self, stream: Any) -> None:
        async for event in stream.events():
            self._check_continuity([event])
            await self.process_candidate(_source_of(event))

    def _check_continuity(self, events: Sequence[Any]) -> None:
        """Log input records that were skipped before they reached us (they would be lost)."""
        for event in events:
            message = event.message
            generation = message.generation_id if message.generation_id is not None else -1
            skipped = self._gaps.seen(message.topic, message.partition, message.offset, generation=generation)
            if skipped is not None:
                log.error(
                    "input_records_skipped",
                    extra={
                        "topic": message.topic,
                        "partition": message.partition,
                        "first_offset": skipped[0],
                        "last_offset": skipped[1],
                        "count": skipped[1] - skipped[0] + 1,
                    },
                )

    async def process_candidate(self, source: SourceRecord) -> None:
        """Apply one candidate to the alert table and send the alert it yields (table first, then Kafka)."""
        try:
            candidate = Candidate.model_validate_json(source.value or b"")
        except ValidationError as exc:
            await self._publish([self._dead_letter(source, RecordSchemaError(f"candidate invalid: {exc}"))])
            return
        try:
            decision = self._book.apply(candidate, now=_utcnow())
        except AlertStateError as exc:
            log.error("alert_state_unreadable", extra={"error": str(exc), "offset": source.offset})
            await self._publish([self._dead_letter(source, exc)])
            return
        alert = decision.alert
        if alert is None:
            log.info(
                "alert_duplicate_source",
                extra={"alert_id": decision.alert_id, "article_id": candidate.article_id},
            )
        else:
            await self.app.producer.flush()  # the table's changelog reaches Kafka before the alert does
            refused = await self._publish(
                [
                    _Outgoing(
                        self._names["alerts_topic"],
                        alert.alert_id.encode(),
                        alert.model_dump_json().encode(),
                        source,
                    )
                ]
            )
            if refused:  # the candidate was dead-lettered instead; a later version (or a replay) re-sends it
                log.error(
                    "alert_not_emitted",
                    extra={"alert_id": alert.alert_id, "version": alert.version, "offset": source.offset},
                )
            else:
                self._book.mark_emitted(alert)
                self._observe_alert(alert, candidate, resent=decision.outcome == "resend")
        self._lag.processed(source.topic, source.partition, offset=source.offset)

    def _observe_alert(self, alert: Alert, candidate: Candidate, *, resent: bool) -> None:
        log.info(
            "alert_emitted",
            extra={
                "alert_id": alert.alert_id,
                "version": alert.version,
                "status": alert.status,
                "event_type": alert.event_type,
                "severity": alert.severity,
                "source_count": alert.source_count,
                "resent": resent,
            },
        )
        if resent:
            return
        now = _utcnow()
        self.metrics.alerts.labels(
            event_type=alert.event_type, severity=alert.severity, status=alert.status
        ).inc()
        ingested = max(0.0, (now - candidate.fetched_at).total_seconds())
        self.metrics.ingested_to_alert.labels(event_type=alert.event_type).observe(ingested)
        if candidate.published_at is not None:
            published = max(0.0, (now - candidate.published_at).total_seconds())
            self.metrics.published_to_alert.labels(event_type=alert.event_type).observe(published)

    # -- output -------------------------------------------------------------------------------------------
    def _dead_letter(self, source: SourceRecord, error: Exception) -> _Outgoing:
        letter: DeadLetter = dead_letter(
            source,
            error,
            failed_at=_utcnow(),
            max_original_bytes=self._settings.worker.deadletter_max_original_bytes,
        )
        self.metrics.deadletters.labels(reason=letter.reason).inc()
        log.warning(
            "record_dead_lettered",
            extra={
                "reason": letter.reason,
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
                "error": letter.error[:300],
            },
        )
        key = f"{source.topic}/{source.partition}/{source.offset}".encode()
        value = letter.model_dump_json().encode()
        return _Outgoing(self._names["deadletter_topic"], key, value, deadletter=True)

    async def _publish(self, messages: Sequence[_Outgoing]) -> list[_Outgoing]:
        """Produce ``messages`` in order and wait for Kafka's acknowledgements, retrying transient failures.

        A record Kafka refuses for good (e.g. too large) is replaced by a dead letter of its source record
        (``delivery_failed``; a source already dead-lettered for this batch is not dead-lettered twice).
        Returns the messages Kafka refused for good: the caller must not take them as delivered.
        """
        remaining = list(messages)
        refused: list[_Outgoing] = []
        lettered: set[SourceRecord] = set()
        delay = 0.5
        while remaining:
            futures: list[Awaitable[Any]] = []
            for message in remaining:
                try:  # faust's producer directly: our values are bytes already, no codec or schema needed
                    futures.append(
                        await self.app.producer.send(
                            message.topic, message.key, message.value, None, None, None
                        )
                    )
                except (KafkaError, ProducerSendError) as exc:  # faust wraps aiokafka's errors
                    failed = self.app.loop.create_future()
                    failed.set_exception(_kafka_error(exc))
                    futures.append(failed)
            results = await asyncio.gather(*futures, return_exceptions=True)
            retry: list[_Outgoing] = []
            for message, result in zip(remaining, results, strict=True):
                if not isinstance(result, BaseException):
                    continue
                if _transient(result):
                    retry.append(message)
                    continue
                refused.append(message)
                if message.source is not None and not message.deadletter:
                    log.error(
                        "record_refused",
                        extra={"topic": message.topic, "error": repr(result)},
                    )
                    if message.source in lettered:
                        continue
                    lettered.add(message.source)
                    self.metrics.deadletters.labels(reason="delivery_failed").inc()
                    error = DeliveryFailedError(f"{message.topic} refused it: {result!r}")
                    letter = dead_letter(message.source, error, failed_at=_utcnow(), max_original_bytes=65536)
                    key = f"{message.source.topic}/{message.source.partition}/{message.source.offset}"
                    retry.append(
                        _Outgoing(
                            self._names["deadletter_topic"],
                            key.encode(),
                            letter.model_dump_json().encode(),
                            deadletter=True,
                        )
                    )
                else:
                    log.error(
                        "record_dropped",
                        extra={"topic": message.topic, "error": repr(result)},
                    )
            if retry:
                log.warning("publish_retry", extra={"records": len(retry), "delay_seconds": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_SECONDS)
            remaining = retry
        return refused

    # -- lag ----------------------------------------------------------------------------------------------
    async def _measure_lag(self) -> None:
        consumer = self.app.consumer
        topics = {self.articles_topic.get_topic_name(), self.candidates_topic.get_topic_name()}
        try:
            assigned = [tp for tp in consumer.assignment() if tp.topic in topics]
            ends = await consumer.highwaters(*assigned) if assigned else {}
            fallback: dict[tuple[str, int], int] = {}
            for tp in assigned:
                if self._lag.position((tp.topic, tp.partition)) is not None:
                    continue
                position = await consumer.position(tp)
                if position is not None:
                    fallback[(tp.topic, tp.partition)] = position
        except (KafkaError, RuntimeError, AssertionError) as exc:
            log.debug("lag_unavailable", extra={"error": repr(exc)})
            return
        current = {(tp.topic, tp.partition) for tp in assigned}
        lag = self._lag.lag({(tp.topic, tp.partition): end for tp, end in ends.items()}, fallback=fallback)
        for (topic, partition), value in lag.items():
            self.metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(value)
        stale = [key for key in self._reported if key not in current]
        for topic, partition in stale:
            self.metrics.consumer_lag.remove(topic, str(partition))
        self._lag.forget(stale)
        self._reported = current
