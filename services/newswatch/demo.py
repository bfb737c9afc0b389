"""``newswatch demo``: the whole pipeline offline, on the bundled demo feeds, in one bounded run.

Steps, each a function over one :class:`DemoRun` (a later stage is one more function in ``STEPS``):

1. ``start_broker``    the local single-node Kafka (or the cluster in NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS)
2. ``ensure_topics``   the project's topics, created idempotently
3. ``serve_feeds``     ``newswatch/demo_feeds/`` over HTTP on 127.0.0.1 (a random free port)
4. ``poll_feeds``      the real poller, once, allowed to fetch 127.0.0.1 only
5. ``read_back``       what is on the articles topic now, summarised for a human
6. ``run_worker_stage`` the streaming worker (subprocess) on what is not classified yet; alerts printed as
   they arrive, earlier alerts listed first (newswatch.demo_stage)
7. ``browse_hint``     where to read the alerts: the exact ``newswatch serve`` command and its URL

Stdout is the story of the run, for a person: what each step did, the alerts, and how to stop what it
left running. The logs go to ``<state_dir>/demo/demo.log`` (the worker's to ``demo/worker.log``) unless
``--log-to-stderr`` is given.

    newswatch demo                 # prints the story, exits 0
    newswatch demo --timeout 300   # the bound on the whole run, in seconds
    newswatch demo --log-to-stderr # the logs on stderr too, as every other command writes them
    newswatch demo --serve         # then keeps `newswatch serve` on 127.0.0.1 running until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from newswatch.broker.errors import BrokerError
from newswatch.demo_stage import run_worker_stage
from newswatch.logs import configure_logging
from newswatch.poller.errors import PollerError
from newswatch.poller.feeds import FeedConfig, parse_feeds
from newswatch.poller.main import open_poller, summarise
from newswatch.poller.metrics import PollerMetrics
from newswatch.poller.service import PollReport
from newswatch.settings import KafkaSettings, Settings
from newswatch.worker.errors import WorkerError

__all__ = ["STEPS", "DemoRun", "add_demo_arguments", "demo_feeds_dir", "run_demo", "serve_directory"]

log = logging.getLogger(__name__)


@dataclass
class DemoRun:
    """State shared by the demo's steps; each step reads what earlier ones left and adds its own."""

    settings: Settings
    exits: ExitStack = field(default_factory=ExitStack)
    feeds_base: str = ""
    feeds: tuple[FeedConfig, ...] = ()
    reports: list[PollReport] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    #: the broker this run started or reused on this machine (None: the cluster named in the settings)
    local_broker: str | None = None

    def say(self, line: str = "") -> None:
        """Print one line of the human summary (stdout is the product of this command)."""
        self.lines.append(line)
        print(line, flush=True)


def demo_feeds_dir() -> Path:
    """The bundled demo feed files (package data ``newswatch/demo_feeds``)."""
    return Path(str(resources.files("newswatch").joinpath("demo_feeds")))


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 - the stdlib's own class attribute, extended
        **SimpleHTTPRequestHandler.extensions_map,
        ".atom": "application/atom+xml",
        ".xml": "application/rss+xml",
        ".json": "application/feed+json",
    }

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("demo_http", extra={"request": format % args})


@contextmanager
def serve_directory(directory: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free port of ``host`` in a thread; yields the base URL.

    The stdlib handler sends Last-Modified and answers If-Modified-Since with 304, so a second poll is
    conditional.

        with serve_directory(demo_feeds_dir()) as base:
            httpx.get(f"{base}/sahel-wire.xml")
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-feeds-http", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- steps ------------------------------------------------------------------------------------------------


async def start_broker(run: DemoRun) -> None:
    """Use the cluster named in NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS, else start (or reuse) the local broker."""
    from newswatch.broker import LocalKafka, fetch_jars

    if "bootstrap_servers" in run.settings.kafka.model_fields_set:
        run.say(f"Kafka: using {run.settings.kafka.bootstrap_servers} (NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS)")
        return
    kafka = LocalKafka.from_settings(run.settings)
    if await asyncio.to_thread(fetch_jars, kafka.config.jars_dir):  # idempotent, Maven only the first time
        run.say(f"Kafka: fetched the Kafka jars into {kafka.config.jars_dir}")
    started = await asyncio.to_thread(kafka.start)
    run.settings = run.settings.model_copy(
        update={"kafka": run.settings.kafka.model_copy(update={"bootstrap_servers": kafka.bootstrap})}
    )
    state = "started" if started else "already running"
    run.local_broker = kafka.bootstrap
    run.say(f"Kafka: local broker {state} on {kafka.bootstrap} (log: {kafka.log_path})")


async def ensure_topics(run: DemoRun) -> None:
    from newswatch.broker import ensure_topics as ensure

    report = await asyncio.to_thread(ensure, run.settings.kafka)
    run.say(f"Topics: {len(report.created)} created, {len(report.existing)} already there")


async def serve_feeds(run: DemoRun) -> None:
    run.feeds_base = run.exits.enter_context(serve_directory(demo_feeds_dir()))
    text = (demo_feeds_dir() / "feeds.yaml").read_text(encoding="utf-8").replace("{base}", run.feeds_base)
    run.feeds = parse_feeds(text, default_interval_seconds=run.settings.poller.default_interval_seconds)
    run.say(f"Feeds: {len(run.feeds)} demo feeds served from {run.feeds_base}")


async def poll_feeds(run: DemoRun) -> None:
    metrics = PollerMetrics([feed.name for feed in run.feeds], registry=CollectorRegistry())
    async with open_poller(run.settings, run.feeds, metrics=metrics) as poller:
        run.reports = await poller.run_once()
    outlets = {feed.name: feed.outlet or feed.name for feed in run.feeds}
    for report in sorted(run.reports, key=lambda r: r.feed):
        detail = f" ({report.error})" if report.error else ""
        run.say(
            f"  {outlets[report.feed]:22} {report.outcome:12} {report.new:3} new"
            f"  {report.duplicate:3} seen before  {report.rejected} rejected{detail}"
        )
    run.say("Poller: " + summarise(run.reports))


async def read_back(run: DemoRun) -> None:
    records = await asyncio.to_thread(_read_articles, run.settings)
    topic = run.settings.kafka.topic_articles
    outlets = Counter(str(r.get("outlet")) for r in records)
    languages = Counter(str(r.get("language") or "?")[:2] for r in records)
    run.say(
        f"On {topic}: {len(records)} articles from {len(outlets)} outlets"
        f" ({', '.join(f'{n} {lang}' for lang, n in languages.most_common())})"
    )
    latest = sorted(records, key=lambda r: str(r.get("published_at") or ""), reverse=True)[:5]
    for record in latest:
        run.say(f"  [{str(record.get('language'))[:2]}] {record.get('outlet')}: {record.get('title')}")


def _read_articles(settings: Settings) -> list[dict[str, Any]]:
    from newswatch.broker import read_all

    return read_all(settings.kafka, settings.kafka.topic_articles)


def serve_command(settings: Settings) -> str:
    """The shell command that serves this run's alerts (``newswatch serve`` plus any non-default Kafka)."""
    env = []
    if "bootstrap_servers" in settings.kafka.model_fields_set:
        env.append(f"NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS={settings.kafka.bootstrap_servers}")
    if settings.kafka.topic_alerts != KafkaSettings().topic_alerts:
        env.append(f"NEWSWATCH_KAFKA__TOPIC_ALERTS={settings.kafka.topic_alerts}")
    return " ".join([*env, "newswatch serve"])


async def browse_hint(run: DemoRun) -> None:
    serve = run.settings.serve
    run.say(f"Alerts page: run `{serve_command(run.settings)}` (or `newswatch demo --serve`), then open")
    run.say(
        f"  http://{serve.host}:{serve.port}/  (Atom /alerts.atom, JSON /api/v1/alerts,"
        " CAP /alerts/<id>.cap); Ctrl-C stops it"
    )


Step = Callable[[DemoRun], Awaitable[None]]
STEPS: tuple[Step, ...] = (
    start_broker,
    ensure_topics,
    serve_feeds,
    poll_feeds,
    read_back,
    run_worker_stage,
    browse_hint,
)


def demo_log_path(settings: Settings) -> Path:
    """Where the demo's own logs go unless ``--log-to-stderr`` (the worker's: ``demo/worker.log``)."""
    return settings.state_dir / "demo" / "demo.log"


def _introduction(run: DemoRun, log_path: Path | None) -> None:
    run.say("newswatch demo: the whole pipeline on this machine, offline. Six invented outlets publish")
    run.say("news feeds (English and French); the poller reads them into Kafka, the worker classifies each")
    run.say("article and turns reports of the same event into one alert, updated as sources add up.")
    if log_path is not None:
        worker_log = log_path.with_name("worker.log")
        run.say(f"Logs: {log_path} and {worker_log} (--log-to-stderr shows them here).")
    run.say()


def _default_state_dir(settings: Settings) -> bool:
    return bool(settings.state_dir == Settings.model_fields["state_dir"].default)


def _ending(run: DemoRun, seconds: float) -> None:
    """How long it took, where to look next, and how to stop what is still running."""
    run.say()
    run.say(f"Done in {seconds:.0f} s.")
    run.say("To see the alerts again: newswatch alerts tail --from-beginning --idle-timeout 5")
    if run.local_broker is None:
        where = run.settings.kafka.bootstrap_servers
        run.say(f"Nothing to stop: the demo leaves nothing running (Kafka is the cluster at {where}).")
        return
    if _default_state_dir(run.settings):
        stop = "make stop (or newswatch kafka stop)"
        afresh = "make clean (stops it, removes .venv and .state)"
    else:
        stop = f"NEWSWATCH_STATE_DIR={run.settings.state_dir} newswatch kafka stop"
        afresh = f"stop it, then rm -r {run.settings.state_dir}"
    broker = f"the Kafka broker on {run.local_broker}"
    run.say(f"To stop everything: {stop}; {broker} is all the demo leaves running.")
    run.say(f"To start afresh: {afresh}.")


def _demo_settings(settings: Settings) -> Settings:
    """The user's settings, with the poller allowed to fetch 127.0.0.1 and its own demo state file."""
    poller = settings.poller.model_copy(
        update={
            "allow_private_networks": (*settings.poller.allow_private_networks, "127.0.0.1/32"),
            "store_path": settings.state_dir / "demo" / "poller.sqlite3",
        }
    )
    return settings.model_copy(update={"poller": poller})


async def _run(run: DemoRun, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        with run.exits:
            for step in STEPS:
                log.info("demo_step", extra={"step": step.__name__})
                await step(run)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=240.0, help="bound on the whole run, seconds")
    parser.add_argument(
        "--log-to-stderr",
        action="store_true",
        help="write the logs to stderr (default: <state_dir>/demo/demo.log, so stdout reads as a story)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="after the run, serve the alerts (newswatch serve on 127.0.0.1) until Ctrl-C",
    )


def _log_to_file(settings: Settings) -> Path:
    """Send this process's logs (and Python warnings) to the demo log file; returns its path."""
    path = demo_log_path(settings)
    configure_logging(settings.log_level, settings.log_format, path=path)
    logging.captureWarnings(True)
    return path


def run_demo(args: argparse.Namespace) -> int:
    """Run every step in order; any failure is reported in one line on stderr and exits 1."""
    run = DemoRun(settings=_demo_settings(args.settings))
    log_path = None if args.log_to_stderr else _log_to_file(run.settings)
    see_log = f" (log: {log_path})" if log_path is not None else ""
    started = time.monotonic()
    _introduction(run, log_path)
    try:
        asyncio.run(_run(run, args.timeout))
    except TimeoutError:
        print(f"newswatch demo: did not finish within {args.timeout:g} s{see_log}", file=sys.stderr)
        return 1
    except (BrokerError, PollerError, WorkerError, OSError) as exc:  # expected failures: one clear line
        print(f"newswatch demo: failed: {exc}{see_log}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line on stderr, the traceback in the log
        log.error("demo_failed", exc_info=exc)
        print(f"newswatch demo: failed: {type(exc).__name__}: {exc}{see_log}", file=sys.stderr)
        return 1
    _ending(run, time.monotonic() - started)
    if getattr(args, "serve", False):
        from newswatch.serve.main import serve_forever

        local = run.settings.serve.model_copy(update={"host": "127.0.0.1"})
        print(f"Serving the alerts on http://127.0.0.1:{local.port}/ until Ctrl-C", flush=True)
        return serve_forever(run.settings.model_copy(update={"serve": local}))
    return 0
