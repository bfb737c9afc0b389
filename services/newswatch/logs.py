"""Structured logging: one JSON object per line on stderr or in a file, with the ``extra`` keys of each call.

log = logging.getLogger(__name__)
log.info("feed_polled", extra={"feed_url": url, "status": 200})

configure_logging("INFO", "json")                                  # stderr
configure_logging("INFO", "text", path=state_dir / "demo.log")     # a file (appended), e.g. for the demo
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["ClientShutdownNoise", "JsonFormatter", "TextFormatter", "configure_logging"]

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()} {extras}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class ClientShutdownNoise(logging.Filter):
    """Demotes to DEBUG what kafka-python logs as errors when *we* close one of its clients mid-request.

    Closing a kafka-python 3 client closes its connections, and a connection closed cleanly fails the
    requests still in flight with ``kafka.errors.Cancelled``. The periodic metadata refresh (any client,
    any time: every ``metadata_max_age_ms`` and whenever a topic is added or an assignment changes) logs that
    as ``kafka.cluster: Metadata refresh: failed Cancelled`` at ERROR, although nothing failed (the library's
    own fetcher logs the same cancellation at INFO); and a read callback that races the close logs an
    AttributeError traceback for the socket it has just dropped. Only these two exact records are demoted:
    a refresh that fails for any other reason, e.g. a broker that is down, is still an error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _is_close_noise(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _is_close_noise(record: logging.LogRecord) -> bool:
    if record.levelno < logging.ERROR or not record.args or not isinstance(record.args, tuple):
        return False
    if record.name == "kafka.cluster" and record.msg == "Metadata refresh: failed %s":
        # by class name: importing kafka here would load it into every command
        cause = type(record.args[0])
        return cause.__name__ == "Cancelled" and cause.__module__ == "kafka.errors"
    if record.name == "kafka.net.transport" and str(record.msg).startswith(
        "%s: Error receiving network data"
    ):
        error = record.exc_info[1] if record.exc_info else None
        return isinstance(error, AttributeError) and "(closed)" in str(record.args[0])
    return False


def configure_logging(level: str = "INFO", fmt: str = "json", *, path: Path | None = None) -> None:
    """Send all logs to stderr, or append them to ``path``, one line per record, in ``fmt`` (``json`` or
    ``text``)."""
    handler: logging.Handler
    if path is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ClientShutdownNoise())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "aiokafka", "faust", "mode", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
