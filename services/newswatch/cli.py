"""The ``newswatch`` command: one sub-command per job, each a thin ``main`` over a service package.

Each command's module defines ``add_<name>_arguments(parser)`` and ``run_<name>(args) -> int``; only the
module of the command that runs is imported, so ``newswatch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from newswatch import __version__
from newswatch.logs import configure_logging
from newswatch.settings import Settings

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "kafka": ("newswatch.broker.main", "start, stop or inspect the local single-node Kafka broker"),
    "topics": ("newswatch.broker.main", "create the project's topics (idempotent)"),
    "poll": ("newswatch.poller.main", "poll the configured feeds and publish new articles to Kafka"),
    "demo": ("newswatch.demo", "run the whole pipeline offline on the bundled demo feeds"),
    "classify": ("newswatch.classifier.main", "classify Article v1 JSON lines into Classification v1 lines"),
    "eval": ("newswatch.tooling.training.main", "score the classifier on a labelled JSONL file"),
    "train": ("newswatch.tooling.training.main", "train the classifier artefact from labelled data"),
    "data": ("newswatch.tooling.main", "rebuild the texts of the labelled real news from their sources"),
    "worker": ("newswatch.worker.main", "run the streaming worker: classify articles, emit alerts"),
    "notify": ("newswatch.notify.main", "deliver alerts to subscriptions (webhooks, console)"),
    "alerts": ("newswatch.notify.main", "print alerts from Kafka as they arrive (alerts tail)"),
    "serve": ("newswatch.serve.main", "web page, Atom feed, JSON API and CAP 1.2 over the alerts topic"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newswatch",
        description="Event-driven news monitoring: military withdrawals, coups, peacekeeping changes.",
        epilog="commands:\n" + "\n".join(f"  {name:10} {text}" for name, (_, text) in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="command")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0].startswith("-"):
        top.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        top.error(f"unknown command {name!r}")
    module_path, help_text = COMMANDS[name]
    module = importlib.import_module(module_path)
    parser = argparse.ArgumentParser(prog=f"newswatch {name}", description=help_text)
    getattr(module, f"add_{name}_arguments")(parser)
    args = parser.parse_args(rest)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    args.settings = settings
    code: int = getattr(module, f"run_{name}")(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
