"""Test doubles for the worker's unit tests: articles, a keyword classifier, faust's producer, a stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faust.exceptions import ProducerSendError
from prometheus_client import CollectorRegistry

from newswatch.contracts import EVENT_TYPES, Article, Candidate, Classification, EventScores, EventType
from newswatch.settings import Settings
from newswatch.worker.alerts import AlertBook
from newswatch.worker.app import WorkerApp
from newswatch.worker.deadletter import SourceRecord
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.policy import FailurePolicy
from newswatch.worker.settings import AlertPolicy, WorkerSettings

T0 = datetime(2022, 8, 15, 13, 0, tzinfo=UTC)

_KEYWORDS: dict[EventType, tuple[str, ...]] = {
    "military_withdrawal": ("left", "withdraw", "leave", "pull out", "retire"),
    "coup": ("coup", "putsch", "seized power"),
    "peacekeeping_change": ("minusma", "peacekeeping", "monusco"),
}
_COUNTRIES = {
    "mali": "ML",
    "france": "FR",
    "french": "FR",
    "niger": "NE",
    "denmark": "DK",
    "russia": "RU",
    "ukrain": "UA",
}


class KeywordClassifier:
    """A stand-in for EventClassifier: keyword labels, country names, fails on 'POISON' or on purpose."""

    model_version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail_all = False

    def classify(self, articles: Sequence[Article]) -> list[Classification]:
        self.calls.append(len(articles))
        if self.fail_all or any("POISON" in a.title for a in articles):
            raise RuntimeError("tokenizer choked")
        return [self._one(a) for a in articles]

    def _one(self, article: Article) -> Classification:
        text = f"{article.title}. {article.summary}".lower()
        labels = tuple(e for e in EVENT_TYPES if any(k in text for k in _KEYWORDS[e]))
        scores = {e: (0.95 if e in labels else 0.02) for e in EVENT_TYPES}
        countries = tuple(dict.fromkeys(code for name, code in _COUNTRIES.items() if name in text))
        return Classification.from_article(
            article,
            scores=EventScores(**scores),
            labels=labels,
            evidence={e: (article.title,) for e in labels},
            countries=countries,
            model_version=self.model_version,
            classified_at=datetime.now(UTC),
        )


def make_article(article_id: str = "a1", title: str = "Barkhane has left Mali", **fields: Any) -> Article:
    data: dict[str, Any] = {
        "id": article_id,
        "url": f"https://news.example/{article_id}",
        "title": title,
        "summary": "",
        "published_at": T0,
        "language": "en",
        "feed_url": "https://news.example/feed",
        "outlet": "Example News",
        "fetched_at": T0 + timedelta(minutes=5),
    }
    data.update(fields)
    return Article.model_validate(data)


class FakeProducer:
    """faust's producer as the worker uses it: ``send`` returns a future of the ack; ``flush``.

    ``refuse[topic]`` is an exception: raised by ``send`` (wrapped in ProducerSendError, as faust does) when
    ``at_send``, else set on the ack future; ``times`` limits how often (None: always)."""

    def __init__(self) -> None:
        self.acked: list[tuple[str, bytes, bytes]] = []
        self.refuse: dict[str, tuple[Exception, bool, int | None]] = {}
        self.held: list[tuple[asyncio.Future[None], tuple[str, bytes, bytes]]] | None = None
        self.events: list[str] = []  # "send <topic>", "flush", in call order

    async def send(
        self, topic: str, key: bytes, value: bytes, partition: Any, timestamp: Any, headers: Any
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.events.append(f"send {topic}")
        if topic in self.refuse:
            error, at_send, times = self.refuse[topic]
            if times is not None:
                if times <= 1:
                    del self.refuse[topic]
                else:
                    self.refuse[topic] = (error, at_send, times - 1)
            if at_send:
                raise ProducerSendError(f"Error while sending: {error!r}") from error
            future.set_exception(error)
            return future
        if self.held is not None:  # acknowledged later, by release()
            self.held.append((future, (topic, key, value)))
            return future
        self.acked.append((topic, key, value))
        future.set_result(None)
        return future

    def hold(self) -> None:
        """From now on, acknowledge nothing until :meth:`release`."""
        self.held = []

    def release(self) -> None:
        held, self.held = self.held or [], None
        for future, record in held:
            self.acked.append(record)
            future.set_result(None)

    async def flush(self) -> None:
        self.events.append("flush")

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for t, _, v in self.acked if t == topic]


def make_worker(
    classifier: Any, tmp_path: Path, policy: FailurePolicy | None = None, **worker: Any
) -> tuple[WorkerApp, FakeProducer, dict[str, str]]:
    """A WorkerApp that is never started: a FakeProducer for faust's, a dict for the alert table."""
    settings = Settings(state_dir=tmp_path, worker=WorkerSettings(**worker))
    app = WorkerApp(settings, classifier, WorkerMetrics(registry=CollectorRegistry()), policy)
    producer = FakeProducer()
    app.app.producer = producer  # type: ignore[assignment]
    store: dict[str, str] = {}
    app._book = AlertBook(store, AlertPolicy())  # a dict instead of the table (no running app)
    return app, producer, store


def make_candidate(article_id: str = "afp-1", **fields: Any) -> Candidate:
    data: dict[str, Any] = {
        "event_type": "military_withdrawal",
        "probability": 0.95,
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "title": "France says last Barkhane soldiers have left Mali",
        "outlet": "AFP",
        "countries": ("FR", "ML"),
        "published_at": T0,
        "fetched_at": T0 + timedelta(minutes=1),
        "classified_at": T0 + timedelta(minutes=2),
        "model_version": "m1",
    }
    data.update(fields)
    return Candidate.model_validate(data)


def candidate_source(offset: int = 0, article_id: str = "afp-1", value: bytes | None = None) -> SourceRecord:
    if value is None:
        value = make_candidate(article_id).model_dump_json().encode()
    return SourceRecord("w-alert-candidates", 0, offset, b"military_withdrawal", value)


def article_source(offset: int, article: Article | None = None, value: bytes | None = None) -> SourceRecord:
    """An articles-topic record: ``article`` as JSON, or raw ``value`` bytes."""
    if article is not None:
        value = article.model_dump_json().encode()
    key = article.id.encode() if article is not None else None
    return SourceRecord("news.articles.v1", 0, offset, key, value)


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    generation_id: int | None = 1


@dataclass
class FakeEvent:
    message: FakeMessage


class FakeStream:
    """The part of a faust stream the agents use: ``ack`` records what was acked, in order."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    async def ack(self, event: FakeEvent) -> bool:
        self.acked.append(event.message.offset)
        return True


def events_of(sources: Sequence[SourceRecord]) -> list[FakeEvent]:
    return [FakeEvent(FakeMessage(s.topic, s.partition, s.offset, s.key, s.value)) for s in sources]


def values(producer: FakeProducer, topic: str) -> list[dict[str, Any]]:
    return [json.loads(v) for t, _, v in producer.acked if t == topic]
