"""Exceptions of the notify service, one root so callers can catch the whole family.

NotifyError
├── SubscriptionConfigError     the subscriptions file is missing, unreadable or invalid
├── SecretNotFoundError         a webhook's secret reference names no configured secret
├── DeliveryError               one delivery attempt failed (``retryable`` says whether to try again)
├── DeadLetterRefusedError      the dead-letter sink refused a record for good (e.g. too large)
└── AlertDecodeError            a record on the alerts topic is not a valid Alert v1
"""

from __future__ import annotations

from newswatch.contracts import DeadLetterReason

__all__ = [
    "AlertDecodeError",
    "DeadLetterRefusedError",
    "DeliveryError",
    "NotifyError",
    "SecretNotFoundError",
    "SubscriptionConfigError",
]


class NotifyError(Exception):
    """Root of every error the notify service raises."""


class SubscriptionConfigError(NotifyError):
    """The subscriptions file cannot be used; the message names the file and the failing field."""


class SecretNotFoundError(SubscriptionConfigError):
    """A webhook names a secret that is neither in the settings nor in a readable file."""


class DeliveryError(NotifyError):
    """One delivery attempt failed.

    ``retryable`` is False for answers that another attempt cannot fix (e.g. HTTP 400, 404, 410);
    ``retry_after`` is the receiver's ``Retry-After`` hint in seconds and ``status`` the HTTP status, if any.
    """

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class DeadLetterRefusedError(NotifyError):
    """The dead-letter sink refused this record and would refuse it again (sending it again cannot help)."""


class AlertDecodeError(NotifyError):
    """A record on the alerts topic could not be decoded or validated; ``reason`` is a DeadLetter reason."""

    def __init__(self, message: str, *, reason: DeadLetterReason) -> None:
        super().__init__(message)
        self.reason = reason
