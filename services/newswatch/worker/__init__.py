"""newswatch.worker: the Faust streaming worker (``newswatch worker``).

    news.articles.v1 --take(n, within=t)--> decode --bad--> news.deadletter.v1
        --classifier (inference thread)--> news.classified.v1
        --positives, keyed by event type--> <app_id>-alert-candidates --AlertBook over a Faust table-->
        news.alerts.v1

Pure modules: ``policy`` (what each failure leads to), ``alerts`` (matching, merging), ``severity``,
``deadletter`` (decoding, dead letters), ``batch`` (resilient classification), ``lag``; ``app`` wires them
into Faust; ``main`` is the CLI.
"""

from newswatch.contracts import Candidate
from newswatch.worker.alerts import AlertBook, AlertDecision
from newswatch.worker.errors import WorkerError
from newswatch.worker.metrics import WorkerMetrics
from newswatch.worker.policy import Action, FailurePolicy, Stage
from newswatch.worker.settings import AlertPolicy, WorkerSettings

__all__ = [
    "Action",
    "AlertBook",
    "AlertDecision",
    "AlertPolicy",
    "Candidate",
    "FailurePolicy",
    "Stage",
    "WorkerError",
    "WorkerMetrics",
    "WorkerSettings",
]
