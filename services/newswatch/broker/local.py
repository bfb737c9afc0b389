"""A single-node KRaft Kafka broker on 127.0.0.1, run from jars that Maven resolves from Maven Central.

One JVM is both broker and controller. Its configuration, data and log live under ``<state_dir>/kafka/``;
the jars live outside the repository (``~/.cache/newswatch/kafka-<version>/lib`` by default).

    config = LocalKafkaConfig.from_settings(Settings())
    fetch_jars(config.jars_dir)          # once: mvn dependency:copy-dependencies
    kafka = LocalKafka(config)
    kafka.start()                        # formats storage on first start, waits until it answers
    kafka.bootstrap                      # '127.0.0.1:9092'
    kafka.stop()
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from newswatch.broker.errors import BrokerStartError, BrokerStopError, BrokerUnreachableError, KafkaJarsError
from newswatch.settings import KafkaSettings, Settings

__all__ = [
    "DEFAULT_POM",
    "LocalKafka",
    "LocalKafkaConfig",
    "default_jars_dir",
    "fetch_jars",
    "free_port",
    "jars_present",
    "kafka_version",
    "probe_broker",
    "render_log4j2_properties",
    "render_server_properties",
]

log = logging.getLogger(__name__)

#: The pom that pins the Kafka release (``deploy/kafka/pom.xml`` in the repository).
DEFAULT_POM = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "pom.xml"
_COMPLETE_MARKER = ".complete"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_PR_SET_PDEATHSIG = 1


def kafka_version(pom: Path = DEFAULT_POM) -> str:
    """The Kafka release pinned in ``pom`` (its ``kafka.version`` property).

    >>> kafka_version()  # doctest: +SKIP
    '4.4.0'
    """
    try:
        text = pom.read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaJarsError(f"cannot read the Kafka pom {pom}: {exc}") from exc
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    if match is None:
        raise KafkaJarsError(f"{pom} declares no <kafka.version> property")
    return match.group(1)


def default_jars_dir(version: str) -> Path:
    """Where the jars of Kafka ``version`` are cached by default: ``~/.cache/newswatch/kafka-<v>/lib``."""
    return Path.home() / ".cache" / "newswatch" / f"kafka-{version}" / "lib"


def jars_present(jars_dir: Path) -> bool:
    """True when a complete ``fetch_jars`` run filled ``jars_dir``."""
    return (jars_dir / _COMPLETE_MARKER).is_file() and any(jars_dir.glob("kafka_2.13-*.jar"))


def fetch_jars(
    jars_dir: Path, *, pom: Path = DEFAULT_POM, mvn: str = "mvn", timeout_s: float = 900.0
) -> bool:
    """Resolve the broker's jars into ``jars_dir`` with Maven; return False when they were already there.

    Idempotent and fast when cached. Maven writes into a sibling temporary folder that is renamed into
    place only when complete, so an interrupted fetch never leaves a half-filled ``jars_dir``.

        fetch_jars(default_jars_dir(kafka_version()))
    """
    if jars_present(jars_dir):
        return False
    if shutil.which(mvn) is None:
        raise KafkaJarsError(f"Maven ({mvn!r}) is not on PATH; install Maven to fetch the Kafka jars")
    staging = jars_dir.with_name(f"{jars_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
    log.info("kafka_jars_fetch_started", extra={"jars_dir": str(jars_dir), "pom": str(pom)})
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise KafkaJarsError(f"mvn did not finish within {timeout_s:.0f} s") from exc
    if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise KafkaJarsError(f"mvn failed (exit {done.returncode}) resolving {pom}:\n{output}")
    (staging / _COMPLETE_MARKER).write_text(kafka_version(pom) + "\n", encoding="utf-8")
    shutil.rmtree(jars_dir, ignore_errors=True)
    staging.rename(jars_dir)
    log.info("kafka_jars_fetched", extra={"jars_dir": str(jars_dir)})
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def probe_broker(bootstrap: str, *, timeout_s: float = 5.0) -> int:
    """Ask ``bootstrap`` for cluster metadata; return the number of unfenced brokers.

    Raises ``BrokerUnreachableError`` when no broker answers within ``timeout_s``.

        probe_broker("127.0.0.1:9092")  # -> 1
    """
    from kafka.errors import KafkaError  # imported here: kafka-python is slow to import

    from newswatch.broker.clients import kafka_admin

    timeout_ms = max(1000, int(timeout_s * 1000))
    local = KafkaSettings(
        bootstrap_servers=bootstrap, client_id="newswatch-probe", request_timeout_ms=timeout_ms
    )
    try:
        admin = kafka_admin(local, bootstrap_timeout_ms=timeout_ms, reconnect_backoff_max_ms=500)
    except KafkaError as exc:
        raise BrokerUnreachableError(f"no Kafka broker answered at {bootstrap}: {exc!r}") from exc
    try:
        cluster = admin.describe_cluster()
    except KafkaError as exc:
        raise BrokerUnreachableError(f"Kafka at {bootstrap} did not describe its cluster: {exc!r}") from exc
    finally:
        admin.close()
    return sum(1 for broker in cluster.get("brokers", []) if not broker.get("is_fenced", False))


@dataclass(frozen=True)
class LocalKafkaConfig:
    """Where and how the local broker runs. ``state_dir`` is the broker's own folder (``<state>/kafka``)."""

    state_dir: Path
    jars_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap_mb: int = 512
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 30.0
    java: str = "java"
    die_with_parent: bool = False
    """Kill the broker when the process that started it dies (test fixtures; Linux only)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafkaConfig:
        """The local broker the settings describe: ``LocalKafkaConfig.from_settings(Settings())``."""
        kafka = settings.kafka
        jars_dir = kafka.local_jars_dir or default_jars_dir(kafka_version())
        return cls(
            state_dir=(settings.state_dir / "kafka").resolve(),
            jars_dir=jars_dir,
            host=kafka.local_host,
            port=kafka.local_port,
            controller_port=kafka.local_controller_port,
            heap_mb=kafka.local_heap_mb,
            start_timeout_s=kafka.local_start_timeout_s,
            stop_timeout_s=kafka.local_stop_timeout_s,
        )

    def with_free_ports(self) -> LocalKafkaConfig:
        """A copy listening on two ports that are free now (for tests running beside other brokers)."""
        port = free_port(self.host)
        controller_port = free_port(self.host)
        while controller_port == port:
            controller_port = free_port(self.host)
        return replace(self, port=port, controller_port=controller_port)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "server.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def server_properties_path(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.state_dir / "log4j2.properties"


def render_server_properties(config: LocalKafkaConfig) -> str:
    """The ``server.properties`` of a combined broker+controller node with replication factor 1."""
    host, port, cport = config.host, config.port, config.controller_port
    lines = [
        "# Written by newswatch (newswatch.broker.local); rewritten on every start.",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{host}:{cport}",
        f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        f"advertised.listeners=PLAINTEXT://{host}:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={config.data_dir}",
        "num.partitions=1",
        "default.replication.factor=1",
        "min.insync.replicas=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=3",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "num.network.threads=2",
        "num.io.threads=2",
        "background.threads=2",
        "num.recovery.threads.per.data.dir=1",
        "log.cleaner.threads=1",
        "log.retention.check.interval.ms=60000",
    ]
    return "\n".join(lines) + "\n"


def render_log4j2_properties(level: str = "INFO") -> str:
    """Log4j 2 configuration: every logger to stdout (which ``start`` sends to ``logs/server.log``)."""
    return "\n".join(
        [
            "status = warn",
            "appender.out.type = Console",
            "appender.out.name = STDOUT",
            "appender.out.layout.type = PatternLayout",
            "appender.out.layout.pattern = [%d] %p %m (%c)%n",
            f"rootLogger.level = {level}",
            "rootLogger.appenderRef.out.ref = STDOUT",
            "logger.config.name = org.apache.kafka.common.config.AbstractConfig",
            "logger.config.level = WARN",
            "",
        ]
    )


def _new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding, not starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # A zombie (state Z) has exited; its parent has not reaped it yet.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalKafka:
    """Start, stop and inspect one local KRaft broker described by a ``LocalKafkaConfig``.

    The broker runs detached and survives the Python process that started it, unless the config sets
    ``die_with_parent``; ``stop()`` works from any process because the pid is kept in a file.

        kafka = LocalKafka(LocalKafkaConfig(state_dir=Path(".state/kafka"), jars_dir=jars))
        kafka.start(); ...; kafka.stop()
    """

    def __init__(self, config: LocalKafkaConfig) -> None:
        self.config = replace(
            config, state_dir=config.state_dir.resolve(), jars_dir=config.jars_dir.resolve()
        )
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafka:
        """The local broker that ``settings`` describe: ``LocalKafka.from_settings(Settings()).start()``."""
        return cls(LocalKafkaConfig.from_settings(settings))

    def __repr__(self) -> str:
        return f"LocalKafka(bootstrap={self.bootstrap!r}, state_dir={str(self.config.state_dir)!r})"

    @property
    def bootstrap(self) -> str:
        return self.config.bootstrap

    @property
    def log_path(self) -> Path:
        return self.config.log_path

    def pid(self) -> int | None:
        """The pid of our running broker, or None (a stale pid file is ignored)."""
        try:
            pid = int(self.config.pid_path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid) or not self._is_our_broker(pid):
            return None
        return pid

    def is_running(self) -> bool:
        """True while our broker process is alive (it may not answer yet: see ``wait_ready``)."""
        return self.pid() is not None

    def _alive(self) -> bool:
        # Our own child is checked through its Popen: until it has exec'd java, /proc shows python.
        if self._process is not None:
            return self._process.poll() is None
        return self.is_running()

    def _is_our_broker(self, pid: int) -> bool:
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            args = cmdline.read_bytes().split(b"\0")
        except FileNotFoundError:
            return not Path("/proc/self").exists()  # no procfs: trust the pid file
        except OSError:
            return False
        return _MAIN_CLASS.encode() in args and str(self.config.server_properties_path).encode() in args

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        classpath = str(self.config.jars_dir / "*")
        return [
            self.config.java,
            f"-Xmx{self.config.heap_mb}m",
            f"-Xms{min(128, self.config.heap_mb)}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.config.log4j_path}",
            "-cp",
            classpath,
            main_class,
            *args,
        ]

    def _prepare(self) -> None:
        if not jars_present(self.config.jars_dir):
            raise KafkaJarsError(
                f"Kafka jars not found in {self.config.jars_dir}; run `newswatch kafka fetch` first"
            )
        if shutil.which(self.config.java) is None:
            raise BrokerStartError(f"Java ({self.config.java!r}) is not on PATH; Kafka needs Java 17+")
        for port in (self.config.port, self.config.controller_port):
            if _port_in_use(self.config.host, port):
                raise BrokerStartError(
                    f"port {self.config.host}:{port} is already in use by another process; "
                    "stop it or set NEWSWATCH_KAFKA__LOCAL_PORT / NEWSWATCH_KAFKA__LOCAL_CONTROLLER_PORT"
                )
        self.config.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.server_properties_path.write_text(render_server_properties(self.config), encoding="utf-8")
        self.config.log4j_path.write_text(render_log4j2_properties(), encoding="utf-8")

    def _format_storage(self) -> None:
        if (self.config.data_dir / "meta.properties").is_file():
            return
        cluster_id = _new_cluster_id()
        cmd = self._java_command(
            _STORAGE_TOOL,
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.config.server_properties_path),
            "--ignore-formatted",
        )
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-2000:]
            raise BrokerStartError(f"kafka-storage format failed (exit {done.returncode}):\n{output}")
        log.info(
            "kafka_storage_formatted", extra={"cluster_id": cluster_id, "data_dir": str(self.config.data_dir)}
        )

    def start(self) -> bool:
        """Start the broker and wait until it answers; return False when it was already running.

        Raises ``KafkaJarsError`` (no jars) or ``BrokerStartError`` (port taken, crash, timeout), in which
        case no broker process is left behind.
        """
        if self.is_running():
            log.info("kafka_already_running", extra={"bootstrap": self.bootstrap, "pid": self.pid()})
            return False
        self._prepare()
        self._format_storage()
        cmd = self._java_command(_MAIN_CLASS, str(self.config.server_properties_path))
        preexec: Callable[[], None] | None = None
        if self.config.die_with_parent and Path("/proc/self").exists():
            preexec = _set_parent_death_signal
        with self.config.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.config.state_dir,
                start_new_session=True,
                preexec_fn=preexec,
            )
        self.config.pid_path.write_text(f"{self._process.pid}\n", encoding="ascii")
        log.info(
            "kafka_starting",
            extra={"bootstrap": self.bootstrap, "pid": self._process.pid, "log": str(self.log_path)},
        )
        try:
            self.wait_ready()
        except BrokerStartError:
            self._kill_quietly()
            raise
        log.info("kafka_started", extra={"bootstrap": self.bootstrap, "pid": self._process.pid})
        return True

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until the broker answers a metadata request with one unfenced broker.

        Raises ``BrokerStartError`` when the process exits or ``timeout_s`` (default: the config's
        ``start_timeout_s``) passes first.
        """
        deadline = time.monotonic() + (self.config.start_timeout_s if timeout_s is None else timeout_s)
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if not self._alive():
                raise BrokerStartError(
                    f"the Kafka broker exited during start-up; last lines of {self.log_path}:\n"
                    f"{_tail(self.log_path)}"
                )
            if _port_in_use(self.config.host, self.config.port):
                try:
                    if probe_broker(
                        self.bootstrap, timeout_s=min(5.0, max(1.0, deadline - time.monotonic()))
                    ):
                        return
                    last_error = "broker registered but still fenced"
                except BrokerUnreachableError as exc:
                    last_error = str(exc)
            time.sleep(0.25)
        raise BrokerStartError(
            f"the Kafka broker did not answer at {self.bootstrap} within "
            f"{self.config.start_timeout_s if timeout_s is None else timeout_s:.0f} s ({last_error}); "
            f"see {self.log_path}"
        )

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout_s``); return False if it was not running."""
        pid = self.pid()
        if pid is None:
            self._forget()
            return False
        timeout = self.config.stop_timeout_s if timeout_s is None else timeout_s
        log.info("kafka_stopping", extra={"pid": pid, "bootstrap": self.bootstrap})
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            log.warning("kafka_stop_timeout", extra={"pid": pid, "timeout_s": timeout})
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not self._wait_exit(pid, 10.0):
                raise BrokerStopError(f"Kafka broker pid {pid} survived SIGKILL")
        self._forget()
        log.info("kafka_stopped", extra={"pid": pid})
        return True

    def _wait_exit(self, pid: int, timeout_s: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return not _pid_alive(pid)

    def _kill_quietly(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
        self._forget()

    def _forget(self) -> None:
        self._process = None
        with contextlib.suppress(FileNotFoundError):
            self.config.pid_path.unlink()
