"""The Faust app: two agents over the pure modules, and the only place the worker touches Kafka.

    worker = WorkerApp(settings, classifier, WorkerMetrics(), FailurePolicy.from_settings(settings.worker))
    worker.run()            # blocks until SIGTERM/SIGINT; returns the exit code

``classify`` agent, per batch (``batch_max_size`` records of ``news.articles.v1`` within
``batch_within_seconds``): consume -> decode (Article v1) -> classify (on the inference thread) -> publish
(one Classification per article to ``news.classified.v1``, one Candidate per positive label to the internal
``<app_id>-alert-candidates`` topic, keyed by event type) -> acknowledge. ``alert`` agent, per candidate:
consume -> decode -> AlertBook over the ``alerts`` table (changelog ``<app_id>-alerts-changelog``) -> publish
to ``news.alerts.v1`` -> mark emitted.

Every failure goes to the :class:`FailurePolicy` (``policy.py``: dead letter, split, retry, drop or raise);
this module carries out its answer. At-least-once with idempotent outputs: every output of a batch is
acknowledged by Kafka before the batch's offsets are acked; the table's changelog is flushed before an alert
is sent, and the alert is marked emitted in the table only after Kafka acknowledged it. Kafka's errors are
translated here, at the edge: not acknowledged yet (``DeliveryRetriableError``, retried) or refused for good
(faust's ``ProducerSendError`` or a non-retriable ack: ``DeliveryFailedError``, its source dead-lettered; an
alert refused so is not marked emitted). A classifier call that runs past ``classify_timeout_seconds`` is
abandoned; a record in flight when worker processes died is classified alone (``inflight.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import faust
from faust.exceptions import ProducerSendError
from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer

from newswatch import __version__
from newswatch.broker import BrokerError, TopicSpec, ensure_topics, faust_app_config
from newswatch.contracts import Alert, Article, Candidate, Classification, DeadLetter
from newswatch.settings import Settings
from newswatch.worker.alerts import AlertBook, candidates_from, group_key
from newswatch.worker.batch import Classifier, classify_resilient, split
from newswatch.worker.deadletter import SourceRecord, dead_letter, decode_article, decode_candidate
from newswatch.worker.errors import (
    ClassifyTimeoutError,
    DeliveryFailedError,
    DeliveryRetriableError,
    InFlightAtDeathError,
    ModelFailedError,
    WorkerError,
    WorkerStartupError,
)
from newswatch.worker.faust_errors import KafkaError, KafkaTimeoutError
from newswatch.worker.inference import InferenceThread
from newswatch.worker.inflight import InflightLedger
from newswatch.worker.lag import LagTracker
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.policy import Action, Decision, FailurePolicy, Stage
from newswatch.worker.recovery import OffsetGapDetector, SeekFirstTableManager

__all__ = ["WorkerApp"]

log = logging.getLogger(__name__)

_PIPELINE_DEPTH = 2  # batches in flight: one classified while the one before awaits its acks
_REFUSED_BYTES = 65_536  # original bytes kept in the dead letter of a source whose output Kafka refused

_Decoded = tuple[SourceRecord, Article]


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


def _delivery_error(topic: str, error: BaseException) -> DeliveryRetriableError | DeliveryFailedError:
    """Kafka's answer to an output, as the worker error the failure policy reads."""
    translated: DeliveryRetriableError | DeliveryFailedError
    if _transient(error):
        translated = DeliveryRetriableError(f"{topic} did not acknowledge it: {error!r}")
    else:
        translated = DeliveryFailedError(f"{topic} refused it: {error!r}")
    translated.__cause__ = error
    return translated


def _source_of(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(message.topic, message.partition, message.offset, message.key, message.value)


class WorkerApp:
    """Owns the Faust app, the inference thread, the alert book and the metrics of one worker process."""

    def __init__(
        self,
        settings: Settings,
        classifier: Classifier,
        metrics: WorkerMetrics,
        policy: FailurePolicy | None = None,
    ) -> None:
        ws, kafka = settings.worker, settings.kafka
        self._settings = settings
        self._classifier = classifier
        self.metrics = metrics
        self._policy = policy or FailurePolicy.from_settings(ws)  # what every failure leads to
        self._lag = LagTracker()
        self._reported: set[tuple[str, int]] = set()
        self._gaps = OffsetGapDetector()
        self._executor = InferenceThread()
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
            # articles ahead of the candidates fetched after them, and the alert agent would get nothing
            # until the backlog is nearly read (docs/worker.md, "Alerts under a backlog").
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

    # -- classify agent: consume -> decode -> classify -> publish -> acknowledge ----------------------------
    async def _classify_agent(self, stream: Any) -> None:
        """Consume batches; batch N's outputs are published and awaited while batch N+1 is classified.

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
                previous = asyncio.ensure_future(self._handle_batch(stream, events, previous))
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

    async def _handle_batch(
        self, stream: Any, events: Sequence[Any], previous: asyncio.Task[None] | None
    ) -> None:
        """One batch: decode and classify it, publish its outputs, then acknowledge its events."""
        sources = [_source_of(e) for e in events]
        outgoing = await self.prepare_batch(sources)  # decode, classify
        if previous is not None:
            await previous  # outputs leave, and offsets are acked, in batch order
        await self._publish(outgoing)  # returns once Kafka acknowledged every output (or its dead letter)
        for event, source in zip(events, sources, strict=True):  # acknowledge
            self._lag.processed(source.topic, source.partition, offset=source.offset)
            await stream.ack(event)

    async def prepare_batch(self, sources: Sequence[SourceRecord]) -> list[_Outgoing]:
        """Decode and classify one batch; return its outputs in order (records and dead letters)."""
        self.metrics.articles_consumed.inc(len(sources))
        outgoing: list[_Outgoing] = []
        batch: list[_Decoded] = []
        alone: list[_Decoded] = []  # in flight at a worker death: classified alone, so the others are cleared
        for source in sources:
            try:
                article = decode_article(source.value, max_bytes=self._settings.worker.max_record_bytes)
            except Exception as exc:
                outgoing.extend(self._on_failure(Stage.DECODE, source, exc))
                continue
            deaths = self._ledger.attempts(source)
            if not deaths:
                batch.append((source, article))
                continue
            died = InFlightAtDeathError(deaths)
            decision = self._policy.decide(Stage.CLASSIFY, died, attempt=deaths)
            if decision.action is Action.SPLIT:
                alone.append((source, article))
            else:
                outgoing.extend(self._carry_out(decision, source, died))
        if batch:
            outgoing.extend(await self._classify(batch))
        for suspect in alone:
            outgoing.extend(await self._classify([suspect]))
        return outgoing

    async def _classify(self, decoded: Sequence[_Decoded]) -> list[_Outgoing]:
        """Classify decoded articles on the inference thread; return their records, or dead letters."""
        sources = [source for source, _ in decoded]
        started = perf_counter()
        results = await self._infer(sources, [article for _, article in decoded])
        self.metrics.inference_duration.observe(perf_counter() - started)
        self.metrics.batch_size.observe(len(decoded))
        outgoing: list[_Outgoing] = []
        for source, result in zip(sources, results, strict=True):
            if isinstance(result, ModelFailedError):
                outgoing.extend(self._on_failure(Stage.CLASSIFY, source, result))
                continue
            try:
                records = self._records(source, result)
            except Exception as exc:  # e.g. lone surrogates the model let through: this record alone fails
                error = ModelFailedError(f"unusable result: {exc}")
                outgoing.extend(self._on_failure(Stage.CLASSIFY, source, error))
                continue
            outgoing.extend(records)
            self.metrics.articles_classified.inc()
            if result.fetched_at is not None and result.classified_at is not None:
                latency = (result.classified_at - result.fetched_at).total_seconds()
                self.metrics.ingested_to_classified.observe(max(0.0, latency))
        return outgoing

    def _records(self, source: SourceRecord, classification: Classification) -> list[_Outgoing]:
        """The Classification record of an article, then one Candidate record per positive label."""
        topic = self._names["candidates_topic"]
        records = [
            _Outgoing(
                self._names["classified_topic"],
                classification.article_id.encode(),
                classification.model_dump_json().encode(),
                source,
            )
        ]
        for candidate in candidates_from(classification):
            key = group_key(candidate.event_type).encode()
            records.append(_Outgoing(topic, key, candidate.model_dump_json().encode(), source))
        return records

    async def _infer(
        self, sources: Sequence[SourceRecord], articles: Sequence[Article]
    ) -> list[Classification | ModelFailedError]:
        """``classify_resilient`` on the inference thread, within ``classify_timeout_seconds``.

        A call that times out leaves its thread stuck in the classifier: the executor is replaced (the stuck
        thread is abandoned) and the articles are split as the policy says (one by one).
        """
        timeout = self._settings.worker.classify_timeout_seconds
        async with self._inference_lock:
            self._ledger.begin(sources)
            future = self._executor.submit(classify_resilient, self._classifier, articles, self._policy)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
            except TimeoutError:
                log.error(
                    "classify_timed_out",
                    extra={"articles": len(articles), "timeout_seconds": timeout},
                )
                self._executor.shutdown()
                self._executor = InferenceThread()
            finally:
                self._ledger.end(sources)
        failure = ClassifyTimeoutError(f"classification timed out after {timeout} s")
        decision = self._policy.decide(Stage.CLASSIFY, failure, records=len(articles))
        if decision.action is not Action.SPLIT or decision.parts <= 1:
            return [failure] * len(articles)
        results: list[Classification | ModelFailedError] = []
        for part in split(list(zip(sources, articles, strict=True)), decision.parts):
            results.extend(await self._infer([s for s, _ in part], [a for _, a in part]))
        return results

    # -- alert agent: consume -> decode -> apply to the table -> publish -> acknowledge -------------------
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
            candidate = decode_candidate(source.value)
            decision = self._book.apply(candidate, now=_utcnow())
        except Exception as exc:  # an invalid candidate, an unreadable alert state
            await self._publish(self._on_failure(Stage.ALERT, source, exc))
            return
        alert = decision.alert
        if decision.outcome == "held":
            log.info(
                "alert_held_placeless",
                extra={"article_id": candidate.article_id, "event_type": candidate.event_type},
            )
            self.metrics.candidates_held.labels(event_type=candidate.event_type, reason="no_country").inc()
        elif alert is None:
            log.info(
                "alert_duplicate_source",
                extra={"alert_id": decision.alert_id, "article_id": candidate.article_id},
            )
        else:
            await self.app.producer.flush()  # the table's changelog reaches Kafka before the alert does
            message = _Outgoing(
                self._names["alerts_topic"], alert.alert_id.encode(), alert.model_dump_json().encode(), source
            )
            if await self._publish([message]):  # refused: the candidate was dead-lettered instead; a later
                log.error(  # version, or a replay of the candidate, re-sends it
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

    # -- failures: the policy decides, these carry it out ------------------------------------------------
    def _on_failure(
        self, stage: Stage, source: SourceRecord, error: Exception, *, attempt: int = 1
    ) -> list[_Outgoing]:
        """What the policy makes of ``error`` on ``source``: its dead letter, nothing, or the error raised."""
        return self._carry_out(self._policy.decide(stage, error, attempt=attempt), source, error)

    def _carry_out(self, decision: Decision, source: SourceRecord, error: Exception) -> list[_Outgoing]:
        if decision.action is Action.DEAD_LETTER:
            return [self._dead_letter(source, error)]
        if decision.action is Action.DROP:
            log.error(
                "record_dropped",
                extra={"topic": source.topic, "partition": source.partition, "offset": source.offset},
            )
            return []
        raise error  # RAISE, or an action this step cannot take: the agent crashes, nothing is acked

    def _dead_letter(
        self, source: SourceRecord, error: Exception, *, max_original_bytes: int | None = None
    ) -> _Outgoing:
        kept = max_original_bytes or self._settings.worker.deadletter_max_original_bytes
        letter: DeadLetter = dead_letter(source, error, failed_at=_utcnow(), max_original_bytes=kept)
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

    # -- output -------------------------------------------------------------------------------------------
    async def _publish(self, messages: Sequence[_Outgoing]) -> list[_Outgoing]:
        """Produce ``messages`` in order and wait for Kafka's acknowledgements; the policy handles failures.

        Not acknowledged (retriable): sent again after the policy's back-off, until Kafka takes it. Refused
        for good: the source record is dead-lettered instead (``delivery_failed``, once per source); a dead
        letter refused for good is dropped. Returns the messages refused for good: the caller must not take
        them as delivered.
        """
        remaining = list(messages)
        refused: list[_Outgoing] = []
        lettered: set[SourceRecord] = set()
        attempt = 0
        while remaining:
            attempt += 1
            retry: list[_Outgoing] = []
            delay = 0.0
            for message, error in zip(remaining, await self._produce(remaining), strict=True):
                if error is None:
                    continue
                unsourced = message.deadletter or message.source is None
                decision = self._policy.decide(Stage.PUBLISH, error, attempt=attempt, deadletter=unsourced)
                if decision.action is Action.RETRY:
                    retry.append(message)
                    delay = max(delay, decision.delay)
                    continue
                if decision.action is Action.RAISE:
                    raise error
                refused.append(message)
                if decision.action is Action.DEAD_LETTER and message.source is not None:
                    log.error("record_refused", extra={"topic": message.topic, "error": str(error)})
                    if message.source not in lettered:  # one dead letter per source, however many refusals
                        lettered.add(message.source)
                        letter = self._dead_letter(message.source, error, max_original_bytes=_REFUSED_BYTES)
                        retry.append(letter)
                else:  # DROP: a dead letter itself, with nowhere left to write it
                    log.error("record_dropped", extra={"topic": message.topic, "error": str(error)})
            if retry:
                log.warning("publish_retry", extra={"records": len(retry), "delay_seconds": delay})
                await asyncio.sleep(delay)
            remaining = retry
        return refused

    async def _produce(self, messages: Sequence[_Outgoing]) -> list[WorkerError | None]:
        """Send ``messages`` in order and await their acks: None for each acknowledged, else why not."""
        futures: list[Awaitable[Any]] = []
        for message in messages:
            try:  # faust's producer directly: our values are bytes already, no codec or schema needed
                futures.append(
                    await self.app.producer.send(message.topic, message.key, message.value, None, None, None)
                )
            except (KafkaError, ProducerSendError) as exc:  # faust wraps aiokafka's errors
                failed = self.app.loop.create_future()
                failed.set_exception(_kafka_error(exc))
                futures.append(failed)
        results = await asyncio.gather(*futures, return_exceptions=True)
        return [
            _delivery_error(message.topic, result) if isinstance(result, BaseException) else None
            for message, result in zip(messages, results, strict=True)
        ]

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
