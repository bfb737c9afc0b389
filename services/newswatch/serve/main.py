"""``newswatch serve``: the alerts topic as a web page, an Atom feed, a JSON API and CAP 1.2.

Data flow:
    news.alerts.v1 --(ReadModel thread: kafka-python, no group, every partition)--> AlertStore (SQLite,
      offsets stored with the data) <-- Starlette app (uvicorn) <-- browsers, feed readers, API clients

    newswatch serve                  # http://127.0.0.1:9104/ until Ctrl-C or SIGTERM
    newswatch serve --port 8080 --host 0.0.0.0
"""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector

from newswatch.serve.app import ROUTES, create_app
from newswatch.serve.metrics import ServeMetrics
from newswatch.serve.readmodel import ReadModel
from newswatch.serve.store import AlertStore
from newswatch.settings import Settings

__all__ = ["add_serve_arguments", "run_serve", "serve_forever"]

log = logging.getLogger(__name__)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``newswatch serve`` (defaults: NEWSWATCH_SERVE__HOST / NEWSWATCH_SERVE__PORT)."""
    parser.add_argument("--host", default=None, help="listen address (default: NEWSWATCH_SERVE__HOST)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default: NEWSWATCH_SERVE__PORT)")


def _stopped(signum: int, frame: Any) -> None:
    log.info("serve_signal", extra={"signal": signal.Signals(signum).name})


def serve_forever(settings: Settings) -> int:
    """Fill the read model and answer HTTP until SIGINT/SIGTERM (uvicorn handles both); returns 0."""
    import uvicorn

    cfg = settings.serve
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    metrics = ServeMetrics(ROUTES, registry=registry)
    store = AlertStore(cfg.store_path or settings.state_dir / "serve.sqlite3")
    model = ReadModel(settings, store, metrics)
    try:
        model.start()
        app = create_app(store, model, cfg, metrics, registry)
        config = uvicorn.Config(
            app,
            host=cfg.host,
            port=cfg.port,
            log_config=None,  # our own logging (newswatch.logs) is already configured
            access_log=False,
            server_header=False,
            proxy_headers=False,
        )
        log.info(
            "serve_started",
            extra={"url": f"http://{cfg.host}:{cfg.port}/", "topic": settings.kafka.topic_alerts},
        )
        # uvicorn stops on SIGINT/SIGTERM, then re-raises the signal to the handler it found: make that one
        # a no-op so the read model and the store are closed and the command exits 0
        previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            uvicorn.Server(config).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        model.stop()
        store.close()
        log.info("serve_stopped")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"serve": settings.serve.model_copy(update=overrides)})
    return serve_forever(settings)
