"""The worker's failure policy: what each failure at each stage leads to (a table, no I/O)."""

from __future__ import annotations

import pytest

from newswatch.worker.errors import (
    AlertStateError,
    ClassifyTimeoutError,
    DeliveryFailedError,
    DeliveryRetriableError,
    InFlightAtDeathError,
    ModelFailedError,
    RecordDecodeError,
    RecordSchemaError,
    RecordTooLargeError,
)
from newswatch.worker.policy import Action, Decision, FailurePolicy, Stage
from newswatch.worker.settings import WorkerSettings

POLICY = FailurePolicy(max_classify_attempts=3)


@pytest.mark.parametrize(
    ("stage", "error", "context", "expected"),
    [
        (Stage.DECODE, RecordDecodeError("not JSON"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.DECODE, RecordSchemaError("title: missing"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.DECODE, RecordTooLargeError("2 MB"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.DECODE, KeyError("a bug"), {}, Decision(Action.RAISE)),
        (Stage.CLASSIFY, InFlightAtDeathError(1), {"attempt": 1}, Decision(Action.SPLIT, parts=1)),
        (Stage.CLASSIFY, InFlightAtDeathError(2), {"attempt": 2}, Decision(Action.SPLIT, parts=1)),
        (Stage.CLASSIFY, InFlightAtDeathError(3), {"attempt": 3}, Decision(Action.DEAD_LETTER)),
        (Stage.CLASSIFY, ModelFailedError("panic"), {"records": 32}, Decision(Action.SPLIT, parts=2)),
        (Stage.CLASSIFY, ModelFailedError("panic"), {"records": 2}, Decision(Action.SPLIT, parts=2)),
        (Stage.CLASSIFY, ModelFailedError("panic"), {"records": 1}, Decision(Action.DEAD_LETTER)),
        (Stage.CLASSIFY, ClassifyTimeoutError("120 s"), {"records": 5}, Decision(Action.SPLIT, parts=5)),
        (Stage.CLASSIFY, ClassifyTimeoutError("120 s"), {"records": 1}, Decision(Action.DEAD_LETTER)),
        (Stage.CLASSIFY, RuntimeError("a bug"), {"records": 4}, Decision(Action.RAISE)),
        (Stage.ALERT, RecordSchemaError("candidate invalid"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.ALERT, AlertStateError("g|coup unreadable"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.ALERT, TypeError("a bug"), {}, Decision(Action.RAISE)),
        (Stage.PUBLISH, DeliveryRetriableError("timeout"), {"attempt": 1}, Decision(Action.RETRY, delay=0.5)),
        (Stage.PUBLISH, DeliveryRetriableError("timeout"), {"attempt": 3}, Decision(Action.RETRY, delay=2.0)),
        (Stage.PUBLISH, DeliveryRetriableError("down"), {"attempt": 40}, Decision(Action.RETRY, delay=30.0)),
        (Stage.PUBLISH, DeliveryFailedError("too large"), {}, Decision(Action.DEAD_LETTER)),
        (Stage.PUBLISH, DeliveryFailedError("too large"), {"deadletter": True}, Decision(Action.DROP)),
        (Stage.PUBLISH, RuntimeError("a bug"), {}, Decision(Action.RAISE)),
    ],
    ids=lambda v: v.name if isinstance(v, Stage) else type(v).__name__ if isinstance(v, Exception) else None,
)
def test_each_failure_has_one_action(
    stage: Stage, error: Exception, context: dict[str, int], expected: Decision
) -> None:
    assert POLICY.decide(stage, error, **context) == expected


def test_transient_delivery_failures_are_retried_for_ever_with_a_capped_backoff() -> None:
    delays = [
        POLICY.decide(Stage.PUBLISH, DeliveryRetriableError("x"), attempt=n).delay for n in range(1, 12)
    ]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0, 30.0]
    assert POLICY.decide(Stage.PUBLISH, DeliveryRetriableError("x"), attempt=10_000).action is Action.RETRY


def test_the_policy_takes_the_death_limit_from_the_settings() -> None:
    policy = FailurePolicy.from_settings(WorkerSettings(max_classify_attempts=1))
    assert policy.decide(Stage.CLASSIFY, InFlightAtDeathError(1), attempt=1).action is Action.DEAD_LETTER
    assert FailurePolicy.from_settings(WorkerSettings()) == FailurePolicy(
        max_classify_attempts=WorkerSettings().max_classify_attempts
    )
