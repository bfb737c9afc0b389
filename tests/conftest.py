"""Shared test configuration: markers by directory, paths to ../shared, and the real Kafka fixtures.

Kafka fixtures (all real brokers; no fakes here):

- ``kafka_bootstrap`` (session): ``KAFKA_BOOTSTRAP_SERVERS`` when set, else ONE local KRaft broker on free
  ports with a temporary state dir, started on first use and stopped at the end of the session.
- ``kafka_settings`` (session): ``KafkaSettings`` pointing at it.
- ``unique_topics`` (function): the four pipeline topics created under random names; ``.settings`` is a
  ``KafkaSettings`` whose ``topic_*`` fields name them.
- ``local_kafka_factory`` (function): starts SEPARATE brokers a test may stop and restart (outage tests).

Every broker a fixture starts dies with the pytest process (parent-death signal), so none survives a
crash, a Ctrl-C or a kill -9 of the test run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newswatch.broker.errors import BrokerStartError
from newswatch.broker.local import LocalKafka, LocalKafkaConfig, fetch_jars, jars_present
from newswatch.broker.topics import declared_topics, ensure_topics
from newswatch.settings import KafkaSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}; tests need it beside the repository")
    return SHARED


# --- Kafka --------------------------------------------------------------------------------------------


def _test_broker_config(state_dir: Path) -> LocalKafkaConfig:
    """A broker config for tests: the configured jars, free ports, a temp state dir, dies with pytest."""
    base = LocalKafkaConfig.from_settings(Settings(state_dir=state_dir))
    config = LocalKafkaConfig(
        state_dir=state_dir / "kafka",
        jars_dir=base.jars_dir,
        heap_mb=base.heap_mb,
        start_timeout_s=max(base.start_timeout_s, 120.0),
        die_with_parent=True,
    )
    if not jars_present(config.jars_dir):
        fetch_jars(config.jars_dir)
    return config.with_free_ports()


def _start(config: LocalKafkaConfig, attempts: int = 3) -> LocalKafka:
    """Start a broker, picking new free ports if another process grabbed ours in the meantime."""
    for attempt in range(attempts):
        kafka = LocalKafka(config)
        try:
            kafka.start()
        except BrokerStartError:
            if attempt == attempts - 1:
                raise
            config = config.with_free_ports()
            continue
        return kafka
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's broker (``KAFKA_BOOTSTRAP_SERVERS``, else a local one)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield external
        return
    kafka = _start(_test_broker_config(tmp_path_factory.mktemp("kafka-session")))
    try:
        yield kafka.bootstrap
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """``KafkaSettings`` for the session's broker (plaintext, default topic names)."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15_000)


@dataclass(frozen=True)
class UniqueTopics:
    """The four pipeline topics under random names, and settings that point at them."""

    articles: str
    classified: str
    alerts: str
    deadletter: str
    settings: KafkaSettings

    @property
    def names(self) -> tuple[str, str, str, str]:
        return (self.articles, self.classified, self.alerts, self.deadletter)


@pytest.fixture
def unique_topics(kafka_settings: KafkaSettings) -> UniqueTopics:
    """Create news.{articles,classified,alerts,deadletter}.v1.<random> with their declared specs."""
    suffix = uuid.uuid4().hex[:10]
    settings = kafka_settings.model_copy(
        update={
            "topic_articles": f"{kafka_settings.topic_articles}.{suffix}",
            "topic_classified": f"{kafka_settings.topic_classified}.{suffix}",
            "topic_alerts": f"{kafka_settings.topic_alerts}.{suffix}",
            "topic_deadletter": f"{kafka_settings.topic_deadletter}.{suffix}",
        }
    )
    ensure_topics(settings, declared_topics(settings))
    return UniqueTopics(
        articles=settings.topic_articles,
        classified=settings.topic_classified,
        alerts=settings.topic_alerts,
        deadletter=settings.topic_deadletter,
        settings=settings,
    )


@pytest.fixture
def local_kafka_factory(tmp_path: Path) -> Iterator[Callable[[], LocalKafka]]:
    """Call it to start a SEPARATE local broker (own ports and state); stop/start it freely in the test.

    kafka = local_kafka_factory()
    kafka.stop(); kafka.start()     # same ports, same data
    """
    started: list[LocalKafka] = []

    def make() -> LocalKafka:
        kafka = _start(_test_broker_config(tmp_path / f"broker-{len(started)}"))
        started.append(kafka)
        return kafka

    try:
        yield make
    finally:
        for kafka in started:
            kafka.stop()
