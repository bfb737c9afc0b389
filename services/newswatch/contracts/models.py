"""Typed models of the JSON Schema files in ``schemas/``; ``tests/unit/contracts`` keeps the two in step.

Every model is frozen and forbids unknown fields, like the schemas (``additionalProperties: false``).
Datetimes must carry a time zone and are normalised to UTC; ``model_dump(mode="json")`` writes RFC 3339.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "EVENT_TYPES",
    "Alert",
    "AlertEvidence",
    "AlertStatus",
    "Article",
    "Candidate",
    "Classification",
    "DeadLetter",
    "DeadLetterReason",
    "EventScores",
    "EventType",
    "Severity",
]

EventType = Literal["military_withdrawal", "coup", "peacekeeping_change"]
EVENT_TYPES: tuple[EventType, ...] = ("military_withdrawal", "coup", "peacekeeping_change")
Severity = Literal["flash", "urgent", "routine"]
AlertStatus = Literal["new", "update"]
DeadLetterReason = Literal[
    "decode_error", "schema_invalid", "payload_too_large", "model_error", "delivery_failed", "other"
]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _now_utc() -> datetime:
    return datetime.now(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
LanguageTag = Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Article(_Record):
    """One news item, as the poller publishes it on ``news.articles.v1``.

    ``fetched_at`` is optional for other producers: a record without it gets the time it is read (decoded).
    """

    id: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=1, max_length=4096)
    title: str = Field(max_length=2000)
    summary: str = Field(max_length=20000)
    content: str | None = Field(default=None, max_length=200000)
    published_at: UtcDatetime | None
    language: LanguageTag | None
    feed_url: str = Field(min_length=1, max_length=4096)
    outlet: str | None = Field(default=None, max_length=200)
    authors: tuple[Annotated[str, Field(max_length=500)], ...] = Field(default=(), max_length=50)
    fetched_at: UtcDatetime = Field(default_factory=_now_utc)


class EventScores(_Record):
    military_withdrawal: Probability
    coup: Probability
    peacekeeping_change: Probability

    def get(self, event_type: EventType) -> float:
        return float(getattr(self, event_type))


class Classification(_Record):
    """The classifier's verdict on one article (``news.classified.v1``, ``newswatch classify``)."""

    article_id: str = Field(min_length=1, max_length=128)
    scores: EventScores
    labels: tuple[EventType, ...]
    evidence: dict[EventType, tuple[str, ...]]
    countries: tuple[CountryCode, ...]
    model_version: str = Field(min_length=1)
    language: str | None = None
    url: str | None = None
    title: str | None = None
    outlet: str | None = None
    published_at: UtcDatetime | None = None
    fetched_at: UtcDatetime | None = None
    classified_at: UtcDatetime | None = None

    @classmethod
    def from_article(
        cls,
        article: Article,
        *,
        scores: EventScores,
        labels: Sequence[EventType],
        evidence: Mapping[EventType, Sequence[str]],
        countries: Sequence[str],
        model_version: str,
        classified_at: datetime,
        language: str | None = None,
    ) -> Classification:
        """The classification of ``article``: the model's verdict plus the article fields consumers read.

        The one place those fields are copied (url, title, outlet, published_at, fetched_at and language,
        the classifier's own language else the article's); every Classification is built here.

            Classification.from_article(article, scores=scores, labels=("coup",), evidence={"coup": (s,)},
                                        countries=("NE",), model_version="m1", classified_at=now)
        """
        return cls(
            article_id=article.id,
            scores=scores,
            labels=tuple(labels),
            evidence={label: tuple(sentences) for label, sentences in evidence.items()},
            countries=tuple(countries),
            model_version=model_version,
            language=language or article.language,
            url=article.url,
            title=article.title,
            outlet=article.outlet,
            published_at=article.published_at,
            fetched_at=article.fetched_at,
            classified_at=classified_at,
        )


class Candidate(_Record):
    """One positive label of one classified article, on the worker's internal ``<app_id>-alert-candidates``
    topic (key: its event type); the alert stage reads nothing else."""

    event_type: EventType
    probability: Probability
    article_id: str = Field(min_length=1)
    url: str = Field(min_length=1)
    title: str
    outlet: str | None = None
    countries: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    published_at: UtcDatetime | None = None
    fetched_at: UtcDatetime
    classified_at: UtcDatetime
    model_version: str = Field(min_length=1)

    @property
    def event_time(self) -> datetime:
        """When the event was reported: the publication time, else the fetch time."""
        return self.published_at or self.fetched_at

    @property
    def outlet_name(self) -> str:
        """The outlet, or the URL's host when the feed named none."""
        if self.outlet:
            return self.outlet
        host = urlsplit(self.url).hostname or "unknown"
        return host.removeprefix("www.")


class AlertEvidence(_Record):
    sentence: str
    article_id: str
    url: str
    outlet: str | None = None


class Alert(_Record):
    """One real-world event (``news.alerts.v1``); updates re-send the whole alert with ``version + 1``."""

    alert_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    status: AlertStatus
    event_type: EventType
    probability: Probability
    severity: Severity
    headline: str | None = None
    evidence: tuple[AlertEvidence, ...] = Field(min_length=1)
    countries: tuple[CountryCode, ...]
    links: tuple[str, ...] = Field(min_length=1)
    outlets: tuple[str, ...]
    article_ids: tuple[str, ...] = ()
    source_count: int = Field(ge=1)
    first_seen: UtcDatetime
    last_updated: UtcDatetime
    published_at: UtcDatetime | None = None
    freshness_minutes: float | None = Field(default=None, ge=0)
    model_version: str = Field(min_length=1)


class DeadLetter(_Record):
    """A record that a service could not process (``news.deadletter.v1``)."""

    service: Literal["poller", "worker", "notify", "classify"]
    reason: DeadLetterReason
    error: str = Field(max_length=4000)
    topic: str | None = None
    partition: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    original_key_b64: str | None = None
    original_value_b64: str
    original_size_bytes: int | None = Field(default=None, ge=0)
    failed_at: UtcDatetime
