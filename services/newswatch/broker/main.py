"""``newswatch kafka fetch|start|stop|status`` and ``newswatch topics ensure|list``.

Data flow:
  deploy/kafka/pom.xml --mvn--> ~/.cache/newswatch/kafka-<v>/lib          (kafka fetch)
  jars + <state>/kafka/server.properties --java--> broker on 127.0.0.1    (kafka start|stop|status)
  topics.declared_topics(settings) --kafka-python admin--> broker          (topics ensure|list)
Output for people goes to stdout; errors to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import sys

from newswatch.broker.errors import BrokerError
from newswatch.broker.local import LocalKafka, LocalKafkaConfig, fetch_jars, jars_present, probe_broker
from newswatch.broker.topics import describe_topics, ensure_topics
from newswatch.settings import Settings

__all__ = ["add_kafka_arguments", "add_topics_arguments", "run_kafka", "run_topics"]

#: ``newswatch kafka status`` exit code when the broker is not running (like ``systemctl status``).
EXIT_STOPPED = 3


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``newswatch kafka``: ``fetch``, ``start``, ``stop`` or ``status``."""
    parser.add_argument(
        "action",
        choices=["fetch", "start", "stop", "status"],
        help="fetch: resolve the Kafka jars with Maven; start/stop/status: the local broker",
    )


def add_topics_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``newswatch topics``: ``ensure`` or ``list``."""
    parser.add_argument(
        "action",
        choices=["ensure", "list"],
        help="ensure: create the missing topics (idempotent); list: show the declared topics on the broker",
    )


def _err(message: str) -> None:
    sys.stderr.write(f"newswatch: {message}\n")


def _kafka(settings: Settings, action: str) -> int:
    config = LocalKafkaConfig.from_settings(settings)
    kafka = LocalKafka(config)
    if action == "fetch":
        fetched = fetch_jars(config.jars_dir)
        print(f"Kafka jars {'fetched into' if fetched else 'already in'} {config.jars_dir}")
        return 0
    if action == "start":
        if not jars_present(config.jars_dir):
            fetch_jars(config.jars_dir)
        started = kafka.start()
        state = "started" if started else "already running"
        print(f"Kafka {state} at {kafka.bootstrap} (pid {kafka.pid()}); log: {kafka.log_path}")
        return 0
    if action == "stop":
        stopped = kafka.stop()
        print("Kafka stopped" if stopped else "Kafka was not running")
        return 0
    pid = kafka.pid()
    if pid is None:
        print(f"Kafka stopped (bootstrap {kafka.bootstrap}; log: {kafka.log_path})")
        return EXIT_STOPPED
    try:
        probe_broker(kafka.bootstrap, timeout_s=5.0)
        answer = "answering"
    except BrokerError:
        answer = "not answering yet"
    print(f"Kafka running, {answer}: pid {pid}, bootstrap {kafka.bootstrap}, log {kafka.log_path}")
    return 0


def run_kafka(args: argparse.Namespace) -> int:
    """Run ``newswatch kafka <action>``; 0 on success, 3 for ``status`` of a stopped broker, 1 on error."""
    try:
        return _kafka(args.settings, args.action)
    except BrokerError as exc:
        _err(str(exc))
        return 1


def _topics(settings: Settings, action: str) -> int:
    if action == "ensure":
        report = ensure_topics(settings.kafka)
        for name in report.created:
            print(f"created  {name}")
        for name in report.existing:
            print(f"existed  {name}")
        return 0
    for state in describe_topics(settings.kafka):
        spec = state.spec
        partitions = "missing" if state.partitions is None else f"{state.partitions} partitions"
        policy = spec.config.get("cleanup.policy", "delete")
        print(f"{spec.name:24} {partitions:14} key={spec.key!r} cleanup={policy}")
    return 0


def run_topics(args: argparse.Namespace) -> int:
    """Run ``newswatch topics ensure|list``; exits 1 with a clear message when the broker is unreachable."""
    try:
        return _topics(args.settings, args.action)
    except BrokerError as exc:
        _err(str(exc))
        return 1
