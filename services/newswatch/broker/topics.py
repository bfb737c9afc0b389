"""The project's topics, declared once, and an idempotent ``ensure_topics`` that creates the missing ones.

``ensure_topics`` is the one way topics get created: by ``newswatch topics ensure``, the demo, the tests'
fixtures and the worker (its internal topics, as ``TopicSpec``s of its own).

Why these partition counts, keys, retentions and cleanup policies: ``docs/topics.md``.

    specs = declared_topics(settings.kafka)
    report = ensure_topics(settings.kafka, specs)
    report.created, report.existing
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from newswatch.broker.clients import kafka_admin
from newswatch.broker.errors import BrokerUnreachableError, TopicAdminError
from newswatch.settings import KafkaSettings

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

__all__ = [
    "ARTICLES_PARTITIONS",
    "DEADLETTER_MAX_BYTES",
    "EnsureReport",
    "TopicSpec",
    "TopicState",
    "declared_topics",
    "describe_topics",
    "ensure_topics",
]

log = logging.getLogger(__name__)

_DAY_MS = 24 * 60 * 60 * 1000
_MIB = 1024 * 1024

#: Largest dead letter: the original record (up to 1 MiB) in base64 plus error details. Dead-letter
#: producers must raise their ``max_request_size`` to this.
DEADLETTER_MAX_BYTES = 4 * _MIB

#: Articles and classifications share a key (article id) and a partition count, so they are co-partitioned;
#: it is also the most worker instances that can classify in parallel.
ARTICLES_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, partitions, replication factor, topic-level config, and what its records are."""

    name: str
    partitions: int
    replication: int
    config: Mapping[str, str] = field(default_factory=dict)
    key: str = ""
    schema: str = ""

    def __post_init__(self) -> None:
        if self.partitions < 1 or self.replication < 1:
            raise ValueError(f"topic {self.name}: partitions and replication must be >= 1")
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))

    def with_name(self, name: str) -> TopicSpec:
        """The same topic under another name (tests use random suffixes)."""
        return TopicSpec(name, self.partitions, self.replication, dict(self.config), self.key, self.schema)


def declared_topics(settings: KafkaSettings) -> tuple[TopicSpec, ...]:
    """The four topics of the pipeline, named by ``settings`` (articles, classified, alerts, dead letters).

    [spec.name for spec in declared_topics(KafkaSettings())]
    # ['news.articles.v1', 'news.classified.v1', 'news.alerts.v1', 'news.deadletter.v1']
    """
    replication = settings.topic_replication_factor
    min_isr = str(min(2, replication))
    common = {"compression.type": "producer", "min.insync.replicas": min_isr}
    return (
        TopicSpec(
            name=settings.topic_articles,
            partitions=ARTICLES_PARTITIONS,
            replication=replication,
            config={
                **common,
                "cleanup.policy": "delete",
                "retention.ms": str(7 * _DAY_MS),
                "max.message.bytes": str(1 * _MIB),
            },
            key="article id",
            schema="schemas/article.v1.json",
        ),
        TopicSpec(
            name=settings.topic_classified,
            partitions=ARTICLES_PARTITIONS,
            replication=replication,
            config={
                **common,
                "cleanup.policy": "delete",
                "retention.ms": str(30 * _DAY_MS),
                "max.message.bytes": str(1 * _MIB),
            },
            key="article id",
            schema="schemas/classification.v1.json",
        ),
        TopicSpec(
            name=settings.topic_alerts,
            partitions=3,
            replication=replication,
            config={
                **common,
                "cleanup.policy": "compact,delete",
                "retention.ms": str(365 * _DAY_MS),
                "segment.ms": str(1 * _DAY_MS),
                "min.compaction.lag.ms": str(60 * 60 * 1000),
                "delete.retention.ms": str(1 * _DAY_MS),
                "max.message.bytes": str(1 * _MIB),
            },
            key="alert id",
            schema="schemas/alert.v1.json",
        ),
        TopicSpec(
            name=settings.topic_deadletter,
            partitions=1,
            replication=replication,
            config={
                **common,
                "cleanup.policy": "delete",
                "retention.ms": str(90 * _DAY_MS),
                "max.message.bytes": str(DEADLETTER_MAX_BYTES),
            },
            key="source topic/partition/offset, or none",
            schema="schemas/deadletter.v1.json",
        ),
    )


@dataclass(frozen=True)
class EnsureReport:
    """What ``ensure_topics`` did: the names it created and those that already existed."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


@dataclass(frozen=True)
class TopicState:
    """A declared topic as the broker sees it; ``partitions`` is None when the topic does not exist."""

    spec: TopicSpec
    partitions: int | None

    @property
    def exists(self) -> bool:
        return self.partitions is not None


@contextmanager
def _admin(settings: KafkaSettings) -> Iterator[KafkaAdminClient]:
    from kafka.errors import KafkaError

    try:
        admin = kafka_admin(settings)
    except KafkaError as exc:
        raise BrokerUnreachableError(
            f"no Kafka broker answered at {settings.bootstrap_servers} "
            f"({type(exc).__name__}); "
            "is it running? (`newswatch kafka status`)"
        ) from exc
    try:
        yield admin
    finally:
        admin.close()


def _topic_partitions(admin: KafkaAdminClient) -> dict[str, int]:
    from kafka.errors import KafkaError

    try:
        topics: list[dict[str, Any]] = admin.describe_topics()
    except KafkaError as exc:
        raise TopicAdminError(f"cannot list topics: {exc!r}") from exc
    return {
        topic["name"]: len(topic.get("partitions", [])) for topic in topics if not topic.get("error_code")
    }


def ensure_topics(settings: KafkaSettings, specs: Sequence[TopicSpec] | None = None) -> EnsureReport:
    """Create each topic of ``specs`` (default: ``declared_topics(settings)``) that does not exist yet.

    Idempotent; an existing topic is left as it is (its config is not changed). Raises
    ``BrokerUnreachableError`` when no broker answers, ``TopicAdminError`` when the broker refuses.

        report = ensure_topics(settings.kafka)
        print("created:", report.created, "existing:", report.existing)
    """
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    wanted = tuple(declared_topics(settings) if specs is None else specs)
    with _admin(settings) as admin:
        present = _topic_partitions(admin)
        missing = [spec for spec in wanted if spec.name not in present]
        created: list[str] = []
        raced: list[str] = []
        for spec in missing:
            request = {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": spec.replication,
                    "configs": dict(spec.config),
                }
            }
            try:
                admin.create_topics(request, timeout_ms=settings.request_timeout_ms, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                raced.append(spec.name)  # created by someone else since we listed
                continue
            except KafkaError as exc:
                raise TopicAdminError(f"cannot create topic {spec.name}: {exc!r}") from exc
            created.append(spec.name)
            log.info("topic_created", extra={"topic": spec.name, "partitions": spec.partitions})
    existing = tuple(spec.name for spec in wanted if spec.name in present) + tuple(raced)
    return EnsureReport(created=tuple(created), existing=existing)


def describe_topics(settings: KafkaSettings, specs: Sequence[TopicSpec] | None = None) -> list[TopicState]:
    """Each declared topic with its partition count on the broker (None when missing).

    for state in describe_topics(settings.kafka): print(state.spec.name, state.partitions)
    """
    wanted = tuple(declared_topics(settings) if specs is None else specs)
    with _admin(settings) as admin:
        present = _topic_partitions(admin)
    return [TopicState(spec=spec, partitions=present.get(spec.name)) for spec in wanted]
