"""The client factory: every Kafka client of the project is built here, from ``KafkaSettings``.

Two client libraries: faust-streaming (over its own aiokafka) for the stream processors, kafka-python for
everything else (admin, the poller's producer, notify, command-line readers). One place maps PLAINTEXT, SSL,
SASL_PLAINTEXT and SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) onto both, with one TLS context
(:func:`ssl_context`), so no service spells a connection option itself.

    producer = kafka_producer(settings.kafka, max_request_size=DEADLETTER_MAX_BYTES)
    consumer = kafka_consumer(settings.kafka, group_id="newswatch-notify", auto_offset_reset="latest")
    admin = kafka_admin(settings.kafka)
    app = faust.App("newswatch-worker", **faust_app_config(settings.kafka))

The ``*_config`` functions return the same options as plain dicts (keyword arguments that override them go
last); the factories build the client from them, so kafka-python is imported only where a client is built.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from newswatch.broker.errors import ClientConfigError
from newswatch.settings import KafkaSettings

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

__all__ = [
    "ADMIN_BOOTSTRAP_TIMEOUT_MS",
    "COMPRESSION_TYPE",
    "admin_config",
    "bootstrap_list",
    "consumer_config",
    "faust_app_config",
    "faust_broker_urls",
    "kafka_admin",
    "kafka_consumer",
    "kafka_producer",
    "kafka_python_config",
    "producer_config",
    "ssl_context",
]

#: gzip is built into kafka-python and faust's aiokafka (zlib); lz4/snappy/zstd would need extra packages.
COMPRESSION_TYPE = "gzip"
#: How long an admin client (``topics ensure``) waits for a first broker before giving up.
ADMIN_BOOTSTRAP_TIMEOUT_MS = 10_000
_SSL_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
_SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def bootstrap_list(settings: KafkaSettings) -> list[str]:
    """``"a:9092, b:9092"`` -> ``["a:9092", "b:9092"]``; raises ``ClientConfigError`` when empty."""
    servers = [part.strip() for part in settings.bootstrap_servers.split(",") if part.strip()]
    if not servers:
        raise ClientConfigError("NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS is empty")
    return servers


def _sasl(settings: KafkaSettings) -> dict[str, Any]:
    if settings.security_protocol not in _SASL_PROTOCOLS:
        return {}
    if settings.sasl_mechanism is None:
        raise ClientConfigError(f"security_protocol {settings.security_protocol} needs sasl_mechanism")
    if not settings.sasl_username or settings.sasl_password is None:
        raise ClientConfigError(
            f"SASL {settings.sasl_mechanism} needs sasl_username and sasl_password "
            "(NEWSWATCH_KAFKA__SASL_USERNAME, NEWSWATCH_KAFKA__SASL_PASSWORD)"
        )
    return {
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": settings.sasl_password.get_secret_value(),
    }


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None otherwise): CA file or system CAs, optional client cert.

    ctx = ssl_context(KafkaSettings(security_protocol="SSL", ssl_cafile=Path("ca.pem")))
    """
    if settings.security_protocol not in _SSL_PROTOCOLS:
        return None
    if settings.ssl_keyfile is not None and settings.ssl_certfile is None:
        raise ClientConfigError("ssl_keyfile is set without ssl_certfile")
    try:
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH,
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
        )
        if settings.ssl_certfile is not None:
            password = settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else None
            context.load_cert_chain(
                certfile=str(settings.ssl_certfile),
                keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
                password=password,
            )
    except (OSError, ssl.SSLError) as exc:
        raise ClientConfigError(f"cannot load the Kafka TLS files: {exc}") from exc
    context.check_hostname = settings.ssl_check_hostname
    return context


def kafka_python_config(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options shared by kafka-python's producer, consumer and admin client.

    TLS goes in as the :func:`ssl_context` faust gets too (kafka-python then ignores its other ``ssl_*``).
    """
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(settings),
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    config.update(_sasl(settings))
    return config


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """kafka-python ``KafkaProducer`` options for durable publishing; ``overrides`` replace any of them.

    acks=all with idempotence (kafka-python 3 supports it: no duplicates or reordering on retry), gzip,
    unlimited retries bounded by ``delivery_timeout_ms`` (2 min), 5 ms linger to batch a feed's articles.
    Dead-letter producers pass ``max_request_size=DEADLETTER_MAX_BYTES`` (``topics.py``).
    """
    return {
        **kafka_python_config(settings),
        "max_request_size": 1024 * 1024,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": COMPRESSION_TYPE,
        "retries": 2_147_483_647,
        "delivery_timeout_ms": 120_000,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 5,
        **overrides,
    }


def consumer_config(settings: KafkaSettings, group_id: str | None, **overrides: Any) -> dict[str, Any]:
    """kafka-python ``KafkaConsumer`` options: manual commits, start from the earliest offset.

    ``group_id=None`` is a group-less consumer that assigns its partitions itself (readers, ``reading.py``).
    """
    return {
        **kafka_python_config(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        **overrides,
    }


def admin_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """kafka-python ``KafkaAdminClient`` options; bootstrap gives up after 10 s (or request_timeout_ms)."""
    bootstrap_timeout_ms = min(settings.request_timeout_ms, ADMIN_BOOTSTRAP_TIMEOUT_MS)
    return {**kafka_python_config(settings), "bootstrap_timeout_ms": bootstrap_timeout_ms, **overrides}


# Building a kafka-python client bootstraps it (it blocks until a broker answers, or raises ``KafkaError``):
# call these off the event loop in async code.
def kafka_producer(settings: KafkaSettings, **overrides: Any) -> KafkaProducer:
    """A kafka-python ``KafkaProducer`` with :func:`producer_config` (``overrides`` replace options)."""
    from kafka import KafkaProducer  # imported here: kafka-python is slow to import

    return KafkaProducer(**producer_config(settings, **overrides))


def kafka_consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None, **overrides: Any
) -> KafkaConsumer:
    """A kafka-python ``KafkaConsumer`` with :func:`consumer_config`, subscribed to ``topics`` if any."""
    from kafka import KafkaConsumer  # imported here: kafka-python is slow to import

    return KafkaConsumer(*topics, **consumer_config(settings, group_id, **overrides))


def kafka_admin(settings: KafkaSettings, **overrides: Any) -> KafkaAdminClient:
    """A kafka-python ``KafkaAdminClient`` with :func:`admin_config` (``overrides`` replace options)."""
    from kafka import KafkaAdminClient  # imported here: kafka-python is slow to import

    return KafkaAdminClient(**admin_config(settings, **overrides))


def faust_broker_urls(settings: KafkaSettings) -> list[str]:
    """``["kafka://host:9092", ...]``: the ``broker`` setting of a faust App."""
    return [f"kafka://{server}" for server in bootstrap_list(settings)]


def faust_app_config(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App``: broker URLs, credentials (TLS/SASL), client id, acks, gzip.

    Timeouts stay faust's own (its request timeout must exceed its 60 s session timeout).

    app = faust.App("newswatch-worker", **faust_app_config(settings.kafka), store="memory://")
    """
    import faust  # imported here: faust is slow to import and only the worker needs it

    context = ssl_context(settings)
    credentials: Any = None
    if settings.security_protocol in _SASL_PROTOCOLS:
        sasl = _sasl(settings)
        credentials = faust.SASLCredentials(
            username=sasl["sasl_plain_username"],
            password=sasl["sasl_plain_password"],
            mechanism=sasl["sasl_mechanism"],
            ssl_context=context,
        )
    elif context is not None:
        credentials = faust.SSLCredentials(context)
    return {
        "broker": faust_broker_urls(settings),
        "broker_credentials": credentials,
        "broker_client_id": settings.client_id,
        "producer_acks": -1,
        "producer_compression_type": COMPRESSION_TYPE,
    }
