"""newswatch.worker: the Faust streaming worker (``newswatch worker``).

    news.articles.v1 --take(n, within=t)--> decode --bad--> news.deadletter.v1
        --classifier (inference thread)--> news.classified.v1
        --positives, keyed by event type--> <app_id>-alert-candidates --AlertBook over a Faust table-->
        news.alerts.v1

Pure modules: ``policy`` (what each failure leads to), ``alerts`` (matching, merging), ``severity``,
``deadletter`` (decoding, dead letters), ``batch`` (resilient classification), ``lag``; ``app`` wires them
into Faust; ``main`` is the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newswatch.lazy import lazy_attributes

if TYPE_CHECKING:
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

# Each name loads its module on first use, so importing the settings never loads the rest of the package.
_LAZY = {
    "AlertBook": "newswatch.worker.alerts",
    "AlertDecision": "newswatch.worker.alerts",
    "Candidate": "newswatch.contracts",
    "Action": "newswatch.worker.policy",
    "FailurePolicy": "newswatch.worker.policy",
    "Stage": "newswatch.worker.policy",
    "WorkerError": "newswatch.worker.errors",
    "WorkerMetrics": "newswatch.worker.metrics",
    "AlertPolicy": "newswatch.worker.settings",
    "WorkerSettings": "newswatch.worker.settings",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
