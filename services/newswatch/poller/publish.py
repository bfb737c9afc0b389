"""Publish Articles to Kafka with kafka-python and report exactly which ones the broker acknowledged.

The producer (acks=all, idempotent, compressed; built from the broker package's config in ``main.py``) is
blocking, so :meth:`Publisher.publish` sends from a worker thread and awaits the acknowledgements on the event
loop. That wait is longer than the producer's own delivery timeout, so a record we report as failed has
expired in the producer and will not be delivered later behind our back (no silent duplicate when we retry it
on the next poll).

The worker threads are the publisher's own, never the loop's default executor (which DNS look-ups use): a
broker that is down must not stall fetching. The producer is built (bootstrap) in the background, from
:meth:`Publisher.start`; a publish waits for it at most ``start_timeout_seconds``, then fails fast (retried on
the next poll) while the build goes on.

    publisher = Publisher(lambda: kafka_producer(settings.kafka), topic=topic, timeout_seconds=30)
    outcome = await publisher.publish(articles)
    store.mark_seen([(article_id, feed) for article_id in outcome.acked])
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from newswatch.contracts import Article

__all__ = ["ProducerLike", "PublishOutcome", "Publisher", "encode_article", "encode_value"]

log = logging.getLogger(__name__)

_THREADS = 4
"""The publisher's own threads: one build at a time, sends of several feeds beside it."""


class _FutureLike(Protocol):
    """The part of kafka-python's ``FutureRecordMetadata`` we use; callbacks run on the producer's thread
    (or at once when the future is already done)."""

    def add_callback(self, fn: Callable[[Any], None]) -> Any: ...

    def add_errback(self, fn: Callable[[BaseException], None]) -> Any: ...


class ProducerLike(Protocol):
    """The part of ``kafka.KafkaProducer`` the publisher uses (unit tests pass a fake)."""

    def send(self, topic: str, value: bytes | None = ..., key: bytes | None = ...) -> _FutureLike: ...

    def flush(self, timeout: float | None = ...) -> None: ...

    def close(self, timeout: float | None = ...) -> None: ...


_Sent = tuple[list[tuple[str, _FutureLike]], list[str], str | None]
"""What a send pass did: (id, future) of every record handed over, ids refused for their size, and why the
pass stopped early (None when every article was handed over or refused)."""


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """Ids the broker acknowledged, ids refused for good (the record is too large: retrying cannot help),
    and a description of what failed otherwise (None when everything else was acked)."""

    acked: tuple[str, ...]
    failed: int = 0
    error: str | None = None
    rejected: tuple[str, ...] = ()


def encode_value(record: Mapping[str, Any]) -> bytes:
    """The Kafka value of an Article record (``model_dump(mode="json")``): compact UTF-8 JSON."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_article(article: Article) -> tuple[bytes, bytes]:
    """``(key, value)`` of the Kafka record for ``article``: its id, and compact UTF-8 JSON.

    key, value = encode_article(article)
    """
    return article.id.encode("utf-8"), encode_value(article.model_dump(mode="json"))


def _record_too_large(exc: BaseException | None) -> bool:
    """Whether kafka-python refused one record for its size (at ``send`` or from the broker): permanent."""
    if exc is None:
        return False
    from kafka.errors import MessageSizeTooLargeError  # imported here: kafka-python is slow to import

    return isinstance(exc, MessageSizeTooLargeError)


def _settle(waiter: asyncio.Future[BaseException | None], outcome: BaseException | None) -> None:
    if not waiter.done():
        waiter.set_result(outcome)


def _watch(loop: asyncio.AbstractEventLoop, future: _FutureLike) -> asyncio.Future[BaseException | None]:
    """An asyncio future that resolves to None when ``future`` is acknowledged, or to its exception."""
    waiter: asyncio.Future[BaseException | None] = loop.create_future()

    def resolve(outcome: BaseException | None) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, waiter, outcome)

    future.add_callback(lambda _metadata: resolve(None))
    future.add_errback(resolve)
    return waiter


class Publisher:
    """Owns one producer, built in the background; :meth:`publish` may run for many feeds at once.

    Building and sending happen in the publisher's own threads (``send`` can block while metadata is
    fetched); acknowledgements are awaited on the event loop through the futures' callbacks, so no thread
    waits for the broker. One build runs at a time; a failed build is retried by the next publish.
    """

    def __init__(
        self,
        producer_factory: Callable[[], ProducerLike],
        *,
        topic: str,
        timeout_seconds: float,
        start_timeout_seconds: float = 5.0,
    ) -> None:
        self._factory = producer_factory
        self._topic = topic
        self._timeout = timeout_seconds
        self._start_timeout = start_timeout_seconds
        self._producer: ProducerLike | None = None
        self._building: Future[ProducerLike] | None = None
        self._closed = False
        self._lock = threading.Lock()  # guards the three fields above; never held while building
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="newswatch-publish")

    def start(self) -> None:
        """Begin building the producer in the background (no-op when built, being built, or closed)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> Future[ProducerLike] | None:
        if self._building is not None and self._building.done():
            self._building = None  # cancelled before it ran, or settled but not yet cleared by _build
        if self._producer is None and self._building is None and not self._closed:
            self._building = self._threads.submit(self._build)
        return self._building

    def _build(self) -> ProducerLike:
        try:
            producer = self._factory()
        except Exception as exc:  # kafka-python raises many types (NoBrokersAvailable, KafkaError, OSError)
            log.warning("producer_start_failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            with self._lock:
                self._building = None
            raise
        with self._lock:
            self._building = None
            closed = self._closed
            if not closed:
                self._producer = producer
        if closed:  # close() ran while we were connecting: this producer has no owner
            _close_producer(producer, 0)
            raise RuntimeError("publisher closed")
        return producer

    async def _ready_producer(self) -> tuple[ProducerLike | None, str | None]:
        """The producer, or None and why not, after waiting at most ``start_timeout_seconds``."""
        with self._lock:
            producer = self._producer
            building = None if producer is not None else self._start_locked()
        if producer is not None:
            return producer, None
        if building is None:
            return None, "publisher closed"
        try:  # shielded: a publish giving up must not cancel the build the next one will use
            ready = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(building)), self._start_timeout)
        except TimeoutError:
            return None, f"Kafka producer not ready after {self._start_timeout:g} s (still connecting)"
        except Exception as exc:
            return None, f"cannot create producer: {type(exc).__name__}: {exc}"
        return ready, None

    def _send_all(self, producer: ProducerLike, articles: Sequence[Article]) -> _Sent:
        sent: list[tuple[str, _FutureLike]] = []
        too_large: list[str] = []
        for article in articles:
            key, value = encode_article(article)
            try:
                sent.append((article.id, producer.send(self._topic, value=value, key=key)))
            except Exception as exc:  # e.g. KafkaTimeoutError when metadata is unavailable (max_block_ms)
                if _record_too_large(exc):  # this record can never be sent; the next ones can
                    log.warning("record_too_large", extra={"id": article.id, "bytes": len(key) + len(value)})
                    too_large.append(article.id)
                    continue
                return sent, too_large, f"send failed: {type(exc).__name__}: {exc}"
        return sent, too_large, None

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
        """Send ``articles`` and wait (delivery timeout plus a margin) for their acknowledgements.

        A record refused for its size (by the producer or the broker) is reported in ``rejected``, not as a
        failure: it would fail again on every retry, and it must not hold back the others.
        """
        if not articles:
            return PublishOutcome(acked=())
        producer, unavailable = await self._ready_producer()
        if producer is None:
            return PublishOutcome((), len(articles), unavailable)
        loop = asyncio.get_running_loop()
        sent, too_large, error = await loop.run_in_executor(self._threads, self._send_all, producer, articles)
        waiters = [_watch(loop, future) for _, future in sent]
        if waiters:
            await asyncio.wait(waiters, timeout=self._timeout + max(1.0, 0.2 * self._timeout))
        results = [
            (article_id, waiter.result())
            for (article_id, _), waiter in zip(sent, waiters, strict=True)
            if waiter.done()
        ]
        acked = tuple(article_id for article_id, cause in results if cause is None)
        too_large += [article_id for article_id, cause in results if _record_too_large(cause)]
        pending = sum(1 for waiter in waiters if not waiter.done())
        if pending:
            log.warning("publish_unresolved", extra={"pending": pending, "topic": self._topic})
        failed = len(articles) - len(acked) - len(too_large)
        if failed and error is None:
            causes = (cause for _, cause in results if cause is not None and not _record_too_large(cause))
            cause = next(causes, None)
            error = f"delivery failed: {type(cause).__name__}: {cause}" if cause else "not acked in time"
        for waiter in waiters:
            waiter.cancel()
        return PublishOutcome(acked, failed, error, tuple(too_large))

    def close(self, timeout_seconds: float | None = None) -> None:
        """Flush and close the producer (if one was built) and stop the publisher's threads."""
        with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        self._threads.shutdown(wait=False, cancel_futures=True)
        if producer is not None:
            _close_producer(producer, timeout_seconds)


def _close_producer(producer: ProducerLike, timeout_seconds: float | None) -> None:
    try:
        producer.flush(timeout=timeout_seconds)
    except Exception as exc:
        log.warning("producer_flush_failed", extra={"error": f"{type(exc).__name__}: {exc}"})
    try:
        producer.close(timeout=timeout_seconds)
    except Exception as exc:
        log.warning("producer_close_failed", extra={"error": f"{type(exc).__name__}: {exc}"})
