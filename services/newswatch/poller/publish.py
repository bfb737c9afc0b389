"""Publish Articles to Kafka with kafka-python and report exactly which ones the broker acknowledged.

The producer (acks=all, idempotent, compressed; built from the broker package's config in ``main.py``) is
blocking, so :meth:`Publisher.publish` sends from a worker thread and awaits the acknowledgements on the
event loop. The wait is longer than the producer's own delivery timeout, so a record we report as failed has
expired in the producer and will not be delivered later behind our back (no silent duplicate when we retry
it on the next poll).

    publisher = Publisher(lambda: KafkaProducer(**config), topic="news.articles.v1", timeout_seconds=30)
    outcome = await publisher.publish(articles)
    store.mark_seen([(article_id, feed) for article_id in outcome.acked])
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from newswatch.contracts import Article

__all__ = ["ProducerLike", "PublishOutcome", "Publisher", "encode_article"]

log = logging.getLogger(__name__)


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


_Sent = tuple[list[tuple[str, _FutureLike]], str | None]


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """Ids the broker acknowledged, and a description of what failed (None when everything was acked)."""

    acked: tuple[str, ...]
    failed: int = 0
    error: str | None = None


def encode_article(article: Article) -> tuple[bytes, bytes]:
    """``(key, value)`` of the Kafka record for ``article``: its id, and compact UTF-8 JSON.

    key, value = encode_article(article)
    """
    value = json.dumps(article.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    return article.id.encode("utf-8"), value.encode("utf-8")


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
    """Owns one lazily created producer; :meth:`publish` may run for many feeds at once.

    Sending happens in a worker thread (``send`` can block while metadata is fetched); acknowledgements are
    awaited on the event loop through the futures' callbacks, so no thread waits for the broker.
    """

    def __init__(
        self, producer_factory: Callable[[], ProducerLike], *, topic: str, timeout_seconds: float
    ) -> None:
        self._factory = producer_factory
        self._topic = topic
        self._timeout = timeout_seconds
        self._producer: ProducerLike | None = None
        self._lock = threading.Lock()

    def _get_producer(self) -> ProducerLike:
        with self._lock:
            if self._producer is None:
                self._producer = self._factory()
            return self._producer

    def _send_all(self, articles: Sequence[Article]) -> _Sent:
        try:
            producer = self._get_producer()
        except Exception as exc:  # kafka-python raises many types (NoBrokersAvailable, KafkaError, OSError)
            return [], f"cannot create producer: {type(exc).__name__}: {exc}"
        sent: list[tuple[str, _FutureLike]] = []
        for article in articles:
            key, value = encode_article(article)
            try:
                sent.append((article.id, producer.send(self._topic, value=value, key=key)))
            except Exception as exc:  # e.g. KafkaTimeoutError when metadata is unavailable (max_block_ms)
                return sent, f"send failed: {type(exc).__name__}: {exc}"
        return sent, None

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
        """Send ``articles`` and wait (delivery timeout plus a margin) for their acknowledgements."""
        if not articles:
            return PublishOutcome(acked=())
        loop = asyncio.get_running_loop()
        sent, error = await asyncio.to_thread(self._send_all, articles)
        waiters = [_watch(loop, future) for _, future in sent]
        if waiters:
            await asyncio.wait(waiters, timeout=self._timeout + max(1.0, 0.2 * self._timeout))
        acked = tuple(
            article_id
            for (article_id, _), waiter in zip(sent, waiters, strict=True)
            if waiter.done() and waiter.result() is None
        )
        pending = sum(1 for waiter in waiters if not waiter.done())
        if pending:
            log.warning("publish_unresolved", extra={"pending": pending, "topic": self._topic})
        failed = len(articles) - len(acked)
        if failed and error is None:
            causes = (waiter.result() for waiter in waiters if waiter.done())
            cause = next((exc for exc in causes if exc is not None), None)
            error = f"delivery failed: {type(cause).__name__}: {cause}" if cause else "not acked in time"
        for waiter in waiters:
            waiter.cancel()
        return PublishOutcome(acked, failed, error)

    def close(self, timeout_seconds: float | None = None) -> None:
        """Flush and close the producer (if one was created)."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.flush(timeout=timeout_seconds)
        except Exception as exc:
            log.warning("producer_flush_failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        try:
            producer.close(timeout=timeout_seconds)
        except Exception as exc:
            log.warning("producer_close_failed", extra={"error": f"{type(exc).__name__}: {exc}"})
