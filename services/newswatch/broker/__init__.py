"""newswatch.broker: the local single-node Kafka broker, topic declarations and Kafka client factories.

from newswatch.broker import LocalKafka, LocalKafkaConfig, ensure_topics, kafka_producer, read_all
"""

from newswatch.broker.clients import (
    admin_config,
    consumer_config,
    faust_app_config,
    kafka_admin,
    kafka_consumer,
    kafka_producer,
    kafka_python_config,
    producer_config,
    ssl_context,
)
from newswatch.broker.errors import (
    BrokerError,
    BrokerStartError,
    BrokerStopError,
    BrokerUnreachableError,
    ClientConfigError,
    KafkaJarsError,
    TopicAdminError,
)
from newswatch.broker.local import LocalKafka, LocalKafkaConfig, fetch_jars, probe_broker
from newswatch.broker.reading import (
    TopicReader,
    TopicReadTimeoutError,
    TopicRecord,
    read_all,
    read_to_end,
)
from newswatch.broker.topics import (
    EnsureReport,
    TopicSpec,
    declared_topics,
    describe_topics,
    ensure_topics,
)

__all__ = [
    "BrokerError",
    "BrokerStartError",
    "BrokerStopError",
    "BrokerUnreachableError",
    "ClientConfigError",
    "EnsureReport",
    "KafkaJarsError",
    "LocalKafka",
    "LocalKafkaConfig",
    "TopicAdminError",
    "TopicReadTimeoutError",
    "TopicReader",
    "TopicRecord",
    "TopicSpec",
    "admin_config",
    "consumer_config",
    "declared_topics",
    "describe_topics",
    "ensure_topics",
    "faust_app_config",
    "fetch_jars",
    "kafka_admin",
    "kafka_consumer",
    "kafka_producer",
    "kafka_python_config",
    "probe_broker",
    "producer_config",
    "read_all",
    "read_to_end",
    "ssl_context",
]
