"""What the worker does when a step fails: one policy object, passed into the pipeline (pure, no I/O).

    policy = FailurePolicy.from_settings(settings.worker)
    decision = policy.decide(Stage.PUBLISH, error, attempt=3)   # Decision(Action.RETRY, delay=2.0)

The pipeline reports every failure here, as a worker error (``app.py`` translates Kafka's errors at the
edge: ``DeliveryRetriableError`` or ``DeliveryFailedError``), and carries out the answer:

    stage      failure                                          action
    decode     not UTF-8 JSON, not an Article, too large        DEAD_LETTER (the record's reason)
    classify   in flight at ``max_classify_attempts`` deaths    DEAD_LETTER (model_error)
               in flight at fewer deaths                        SPLIT: classified alone
               the classifier raised on several articles        SPLIT in halves (k bad articles cost
                                                                O(k log n) calls, the rest is classified)
               timed out on several articles                    SPLIT one by one (one timeout, not log n)
               raised, timed out or gave an unusable answer     DEAD_LETTER (model_error)
               on one article
    alert      candidate invalid, alert state unreadable        DEAD_LETTER
    publish    not acknowledged yet (a retriable Kafka error,   RETRY with exponential back-off, forever:
               a timeout, any non-Kafka error)                  an outage delays records, never drops them
               refused for good, the output of a source         DEAD_LETTER the source (delivery_failed)
               refused for good, a dead letter itself           DROP (logged)
    any        anything else (a bug)                            RAISE: the agent crashes, offsets not acked

Like Quix Streams' error callbacks, a different policy can be passed to :class:`WorkerApp`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from newswatch.retry import backoff_delay
from newswatch.worker.errors import (
    ClassifyTimeoutError,
    DeliveryFailedError,
    DeliveryRetriableError,
    InFlightAtDeathError,
    RecordRejectedError,
)
from newswatch.worker.settings import WorkerSettings

__all__ = ["Action", "Decision", "FailurePolicy", "Stage"]


class Stage(enum.Enum):
    """Where a failure happened."""

    DECODE = "decode"  # an article record read from Kafka
    CLASSIFY = "classify"  # the classifier on one or more decoded articles
    ALERT = "alert"  # a candidate applied to the alert table
    PUBLISH = "publish"  # an output record produced to Kafka


class Action(enum.Enum):
    """What the pipeline does with a failure."""

    RETRY = "retry"  # try the same step again after ``delay`` seconds; nothing is acked meanwhile
    SPLIT = "split"  # retry the records in ``parts`` groups, so a bad one fails alone
    DEAD_LETTER = "dead_letter"  # write a DeadLetter v1 of the source record, go on with the others
    DROP = "drop"  # log it and go on (nothing left to write it to)
    RAISE = "raise"  # re-raise: the agent crashes and the batch is not acked


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: an action and, for some, how."""

    action: Action
    delay: float = 0.0  # RETRY: seconds to wait first
    parts: int = 0  # SPLIT: how many groups


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """The worker's failure policy (table in the module docstring)."""

    max_classify_attempts: int = 3
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> FailurePolicy:
        return cls(max_classify_attempts=settings.max_classify_attempts)

    def decide(
        self,
        stage: Stage,
        error: BaseException,
        *,
        records: int = 1,
        attempt: int = 1,
        deadletter: bool = False,
    ) -> Decision:
        """What to do about ``error`` at ``stage``.

        ``records``: how many records the failing step covered; ``attempt``: 1 for its first failure (for an
        article in flight at worker deaths: the number of deaths); ``deadletter``: the failing output is a
        dead letter itself, or has no source record to dead-letter.
        """
        if stage is Stage.PUBLISH:
            return self._publish(error, attempt=attempt, deadletter=deadletter)
        if stage is Stage.CLASSIFY:
            return self._classify(error, records=records, attempt=attempt)
        if isinstance(error, RecordRejectedError):  # decode, alert: the record cannot be processed
            return Decision(Action.DEAD_LETTER)
        return Decision(Action.RAISE)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (1, 2, ...): doubling from the initial delay, capped."""
        return backoff_delay(attempt, base=self.backoff_initial_seconds, cap=self.backoff_max_seconds)

    def _publish(self, error: BaseException, *, attempt: int, deadletter: bool) -> Decision:
        if isinstance(error, DeliveryRetriableError):
            return Decision(Action.RETRY, delay=self.backoff(attempt))
        if isinstance(error, DeliveryFailedError):
            return Decision(Action.DROP if deadletter else Action.DEAD_LETTER)
        return Decision(Action.RAISE)

    def _classify(self, error: BaseException, *, records: int, attempt: int) -> Decision:
        if isinstance(error, InFlightAtDeathError):
            if attempt >= self.max_classify_attempts:
                return Decision(Action.DEAD_LETTER)
            return Decision(Action.SPLIT, parts=records)  # the suspect alone, so the others are cleared
        if not isinstance(error, RecordRejectedError):
            return Decision(Action.RAISE)
        if records <= 1:
            return Decision(Action.DEAD_LETTER)
        if isinstance(error, ClassifyTimeoutError):
            return Decision(Action.SPLIT, parts=records)
        return Decision(Action.SPLIT, parts=2)
