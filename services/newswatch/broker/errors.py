"""Errors of the broker package: the local Kafka broker, its jars, and topic administration.

    BrokerError
     ├── KafkaJarsError            the Kafka jars are missing or Maven could not resolve them
     ├── BrokerStartError          the local broker did not start (no java, port taken, crashed, too slow)
     ├── BrokerStopError           the local broker would not die, even after SIGKILL
     ├── BrokerUnreachableError    no broker answered at the bootstrap servers
     ├── ClientConfigError         KafkaSettings are inconsistent (SASL without a mechanism, unreadable cert)
     └── TopicAdminError           the broker answered but refused to create or describe a topic

Catch ``BrokerError`` for all of them; each carries a message meant for the person at the terminal.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "BrokerStartError",
    "BrokerStopError",
    "BrokerUnreachableError",
    "ClientConfigError",
    "KafkaJarsError",
    "TopicAdminError",
]


class BrokerError(Exception):
    """Root of every error raised by ``newswatch.broker``."""


class KafkaJarsError(BrokerError):
    """The Kafka jars are missing (run ``newswatch kafka fetch``) or Maven failed to resolve them."""


class BrokerStartError(BrokerError):
    """The local broker could not be started or did not answer before the timeout."""


class BrokerStopError(BrokerError):
    """The local broker process survived SIGTERM and SIGKILL."""


class BrokerUnreachableError(BrokerError):
    """No Kafka broker answered at the configured bootstrap servers."""


class ClientConfigError(BrokerError):
    """The Kafka client settings cannot work (missing SASL credentials, unreadable TLS files)."""


class TopicAdminError(BrokerError):
    """The broker refused a topic operation (create, describe)."""
