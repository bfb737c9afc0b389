"""Exceptions of the worker service, rooted in :class:`WorkerError`.

    WorkerError
     ├── RecordRejectedError           a record cannot be processed: it goes to the dead letter topic
     │    ├── RecordDecodeError        not UTF-8 JSON (reason ``decode_error``)
     │    ├── RecordSchemaError        not an Article v1 (reason ``schema_invalid``)
     │    ├── RecordTooLargeError      over ``max_record_bytes`` (reason ``payload_too_large``)
     │    ├── ModelFailedError         the classifier failed, hung or died on it (``model_error``)
     │    │    ├── ClassifyTimeoutError     a classifier call ran past ``classify_timeout_seconds``
     │    │    └── InFlightAtDeathError     it was being classified when worker processes died
     │    ├── DeliveryFailedError      Kafka refused an output of it for good (reason ``delivery_failed``)
     │    └── AlertStateError          the alert table holds a value this version cannot read (``other``)
     ├── DeliveryRetriableError        Kafka did not acknowledge an output yet (retriable error, timeout)
     └── WorkerStartupError            the worker cannot start (classifier or broker unavailable)

A :class:`RecordRejectedError` carries the dead-letter ``reason``. What happens to a failure is decided by
:class:`newswatch.worker.policy.FailurePolicy`; ``app.py`` carries it out (dead letter, retry, split, raise).
"""

from __future__ import annotations

from typing import ClassVar

from newswatch.contracts import DeadLetterReason

__all__ = [
    "AlertStateError",
    "ClassifyTimeoutError",
    "DeliveryFailedError",
    "DeliveryRetriableError",
    "InFlightAtDeathError",
    "ModelFailedError",
    "RecordDecodeError",
    "RecordRejectedError",
    "RecordSchemaError",
    "RecordTooLargeError",
    "WorkerError",
    "WorkerStartupError",
]


class WorkerError(Exception):
    """Root of every error the worker raises on purpose."""


class RecordRejectedError(WorkerError):
    """A record that cannot be processed; ``reason`` is its DeadLetter v1 reason."""

    reason: ClassVar[DeadLetterReason] = "other"


class RecordDecodeError(RecordRejectedError):
    reason: ClassVar[DeadLetterReason] = "decode_error"


class RecordSchemaError(RecordRejectedError):
    reason: ClassVar[DeadLetterReason] = "schema_invalid"


class RecordTooLargeError(RecordRejectedError):
    reason: ClassVar[DeadLetterReason] = "payload_too_large"


class ModelFailedError(RecordRejectedError):
    reason: ClassVar[DeadLetterReason] = "model_error"


class ClassifyTimeoutError(ModelFailedError):
    """A classifier call ran past ``classify_timeout_seconds`` (its thread was abandoned)."""


class InFlightAtDeathError(ModelFailedError):
    """The record was being classified when worker processes died (``deaths`` times, from the ledger)."""

    def __init__(self, deaths: int) -> None:
        super().__init__(f"in flight at {deaths} worker deaths")
        self.deaths = deaths


class DeliveryFailedError(RecordRejectedError):
    reason: ClassVar[DeadLetterReason] = "delivery_failed"


class DeliveryRetriableError(WorkerError):
    """Kafka did not acknowledge an output, for a reason worth retrying (a retriable error, a timeout)."""


class AlertStateError(RecordRejectedError):
    """A value in the alert table cannot be read (corrupt, or written by an incompatible version)."""


class WorkerStartupError(WorkerError):
    """The worker cannot start: the classifier does not load or Kafka is not reachable."""
