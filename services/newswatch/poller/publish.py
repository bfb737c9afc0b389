"""Publish Articles to Kafka with kafka-python and report exactly which ones the broker acknowledged.

The producer (acks=all, idempotent, compressed; built from the broker package's config in ``main.py``) is
blocking, so :meth:`Publisher.publish` runs it in a worker thread. The wait for acknowledgements is longer
than the producer's own delivery timeout, so a record we report as failed has expired in the producer and
will not be delivered later behind our back (no silent duplicate when we retry it on the next poll).

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

_FLUSH_MARGIN_SECONDS = 5.0


class _FutureLike(Protocol):
    is_done: bool

    def succeeded(self) -> bool: ...


class ProducerLike(Protocol):
    """The part of ``kafka.KafkaProducer`` the publisher uses (unit tests pass a fake)."""

    def send(self, topic: str, value: bytes | None = ..., key: bytes | None = ...) -> Any: ...

    def flush(self, timeout: float | None = ...) -> None: ...

    def close(self, timeout: float | None = ...) -> None: ...


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


class Publisher:
    """Owns one lazily created producer; safe to call from several threads at once."""

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

    async def publish(self, articles: Sequence[Article]) -> PublishOutcome:
        """Send ``articles`` and wait for their acknowledgements, off the event loop."""
        if not articles:
            return PublishOutcome(acked=())
        return await asyncio.to_thread(self.publish_blocking, articles)

    def publish_blocking(self, articles: Sequence[Article]) -> PublishOutcome:
        """Blocking form of :meth:`publish`; never raises, failures are in the outcome."""
        try:
            producer = self._get_producer()
        except Exception as exc:  # kafka-python raises many types (NoBrokersAvailable, KafkaError, OSError)
            return PublishOutcome((), len(articles), f"cannot create producer: {type(exc).__name__}: {exc}")
        sent: list[tuple[str, _FutureLike]] = []
        error: str | None = None
        for article in articles:
            key, value = encode_article(article)
            try:
                sent.append((article.id, producer.send(self._topic, value=value, key=key)))
            except Exception as exc:  # e.g. KafkaTimeoutError when metadata is unavailable (max_block_ms)
                error = f"send failed: {type(exc).__name__}: {exc}"
                break
        try:
            producer.flush(timeout=self._timeout + _FLUSH_MARGIN_SECONDS)
        except Exception as exc:
            error = error or f"flush failed: {type(exc).__name__}: {exc}"
        acked = tuple(article_id for article_id, future in sent if future.is_done and future.succeeded())
        pending = sum(1 for _, future in sent if not future.is_done)
        if pending:
            log.warning("publish_unresolved", extra={"pending": pending, "topic": self._topic})
        failed = len(articles) - len(acked)
        if failed and error is None:
            causes = (getattr(future, "exception", None) for _, future in sent)
            cause = next((exc for exc in causes if exc is not None), None)
            error = (
                f"delivery failed: {type(cause).__name__}: {cause}" if cause else "not acknowledged in time"
            )
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
