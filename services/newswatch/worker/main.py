"""``newswatch worker``: the streaming worker.

news.articles.v1 -> decode -> classify (batched, inference thread) -> news.classified.v1
                              \\-> dead letters -> news.deadletter.v1
positives -> <app_id>-alert-candidates (key: event type) -> alert table -> news.alerts.v1
metrics: http://<metrics_host>:<metrics_port>/metrics (prometheus-client, not Faust's sensor): the worker's
         ``newswatch_worker_*`` and the classifier's ``newswatch_classifier_*``, one registry

NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092 newswatch worker
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from prometheus_client import start_http_server

from newswatch.classifier.metrics import ClassifierMetrics
from newswatch.settings import Settings
from newswatch.worker.errors import WorkerStartupError
from newswatch.worker.metrics import WorkerMetrics

__all__ = ["add_worker_arguments", "run_worker"]

log = logging.getLogger(__name__)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker takes its configuration from ``NEWSWATCH_*`` settings only (see docs/worker.md)."""
    parser.epilog = "configure with NEWSWATCH_WORKER__* and NEWSWATCH_KAFKA__* environment variables"


def _load_classifier(settings: Settings, metrics: ClassifierMetrics) -> Any:
    from newswatch.classifier import ClassifierError, load_classifier

    try:
        return load_classifier(settings.classifier, metrics)
    except ClassifierError as exc:
        log.error("classifier_unavailable", extra={"error": str(exc)})
        return None


def run_worker(args: argparse.Namespace) -> int:
    """Load the classifier, serve metrics, run the Faust worker until stopped; 0 on a clean stop."""
    settings: Settings = args.settings
    metrics = WorkerMetrics()
    classifier = _load_classifier(settings, ClassifierMetrics(registry=metrics.registry))
    if classifier is None:
        return 1
    asyncio.set_event_loop(asyncio.new_event_loop())
    from newswatch.worker.app import WorkerApp  # imports faust; only when the worker really runs
    from newswatch.worker.policy import FailurePolicy

    server = None
    if settings.worker.metrics_port:
        server, _thread = start_http_server(
            settings.worker.metrics_port, addr=settings.worker.metrics_host, registry=metrics.registry
        )
        log.info("metrics_serving", extra={"port": settings.worker.metrics_port})
    try:
        policy = FailurePolicy.from_settings(settings.worker)
        return WorkerApp(settings, classifier, metrics, policy).run()
    except WorkerStartupError as exc:  # e.g. no broker answered: a message, not a traceback
        log.error("worker_start_failed", extra={"error": str(exc)})
        print(f"newswatch worker: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.shutdown()
