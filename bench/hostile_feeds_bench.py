"""Hostile-feed check: ``newswatch poll --once`` against hostile feeds served on 127.0.0.1, real broker.

Each case is served by its own stdlib HTTP server (one origin each, so the per-host slots do not serialise
them); a feed list names them all; the real command runs as a subprocess with a temporary state dir, fresh
topics and ``127.0.0.1/32`` allowed past the SSRF guard. Its default limits apply (10 MB body cap, 20 s read
timeout, 60 s fetch deadline), so the run lasts about as long as the dribbling server is allowed to hold a
feed (~60 s) plus the broker's start.

    PYTHONPATH=services .venv/bin/python bench/hostile_feeds_bench.py              # starts its own broker
    PYTHONPATH=services .venv/bin/python bench/hostile_feeds_bench.py --bootstrap HOST:PORT --json out.json

The cases (``CASES``; the hardening issue's numbering):

  1  gzip-stacked   ``Content-Encoding: gzip, gzip``, 1 GB of zeros gzipped twice (a 1.8 KB body)
  1b gzip-single    1 GB of zeros gzipped once (a 1 MB body that passes the Content-Length check)
  2  entity-16k     16 KB RSS declaring a 1,000-character internal entity referenced 5,000 times
  2b entity-nested  the classic billion laughs (10 entities, each ten references to the previous one)
  3  oversized-rss  an item with 300,000 U+0001 in content:encoded (a 1.2 MB record), then a good item
  3b oversized-json the same as a JSON Feed (content_text)
  4  json-deep      a JSON Feed nesting 100,000 arrays
  4b json-bignum    a JSON Feed item whose id is a 5,000-digit number
  5  slow-dribble   200 OK, then one byte a second, forever

The bar (hardening issue): the poll exits by itself (within ``--timeout``, 300 s), its peak resident memory is
under 350 MB, and the good items after the oversized ones are published; this script also requires that no
record of a hostile payload reaches the articles topic. Peak RSS is the child's own ``ru_maxrss`` (``wait4``
on its pid, so the broker, another child of this process, is not counted) and its ``VmHWM`` polled from
/proc. Per-feed outcomes come from the command's summary lines and its JSON logs (``feed_poll_failed``,
``feed_polled``, and ``entry_rejected`` at DEBUG). Prints a JSON report and a one-line verdict; exits 0 when
the bar is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
RSS_LIMIT_MB = 350.0
BOMB_BYTES = 1 << 30
CONTROL_CHARS = 300_000
GOOD_MARKER = "hostile-bench good item"


@dataclass(frozen=True)
class Case:
    name: str
    issue: str
    description: str
    expected: str  # the outcome the hardened poller should report
    good_guid: str | None = None  # a good item that must be published


CASES: tuple[Case, ...] = (
    Case("gzip-stacked", "1", "Content-Encoding 'gzip, gzip', 1 GB of zeros gzipped twice", "network_error"),
    Case("gzip-single", "1b", "Content-Encoding 'gzip', 1 GB of zeros gzipped once", "too_large"),
    Case(
        "entity-16k", "2", "16 KB RSS, one 1,000-char internal entity referenced 5,000 times", "parse_error"
    ),
    Case(
        "entity-nested", "2b", "billion laughs: 10 nested internal entities of 10 references", "parse_error"
    ),
    Case(
        "oversized-rss", "3", "item with 300k U+0001 in content:encoded, then a good item", "ok", "good-rss"
    ),
    Case("oversized-json", "3b", "JSON Feed item with 300k U+0001, then a good item", "ok", "good-json"),
    Case("json-deep", "4", "JSON Feed nesting 100,000 arrays", "parse_error"),
    Case("json-bignum", "4b", "JSON Feed item id with 5,000 digits", "parse_error"),
    Case("slow-dribble", "5", "200 OK then one byte per second, forever", "timeout"),
)


# --- the hostile documents ----------------------------------------------------------------------------------


def _gzip_zeros(total: int, step: int = 1 << 20) -> bytes:
    """gzip of ``total`` zero bytes, compressed a MiB at a time (never holds the inflated bytes)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(step)
    parts = [packer.compress(zeros) for _ in range(total // step)]
    parts.append(packer.flush())
    return b"".join(parts)


def _rss(items: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Hostile bench</title>'
        f"<link>http://127.0.0.1/</link><language>en</language>{items}</channel></rss>"
    ).encode()


def _good_rss_item(guid: str) -> str:
    return (
        f"<item><title>{GOOD_MARKER} ({guid})</title><link>http://127.0.0.1/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid><description>An ordinary paragraph of news about '
        "ministers and markets.</description><pubDate>Tue, 24 Nov 2026 17:05:00 +0000</pubDate></item>"
    )


def _json_feed(items: str) -> bytes:
    return (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Hostile bench", "items": [' + items + "]}"
    ).encode()


def build_documents() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Body and response headers of every case but the dribbling one (which streams)."""
    rss_type = {"Content-Type": "application/rss+xml; charset=utf-8"}
    json_type = {"Content-Type": "application/feed+json"}
    bomb = _gzip_zeros(BOMB_BYTES)
    long_value = "A" * 1000
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    controls = "\x01" * CONTROL_CHARS
    oversized_rss_item = (
        "<item><title>Oversized record</title><link>http://127.0.0.1/oversized-rss</link>"
        '<guid isPermaLink="false">oversized-rss</guid><description>short</description>'
        f"<content:encoded><![CDATA[{controls}]]></content:encoded></item>"
    )
    oversized_json_items = (
        json.dumps({"id": "oversized-json", "url": "http://127.0.0.1/oversized-json", "title": "Oversized"})[
            :-1
        ]
        + ', "content_text": "'
        + "\\u0001" * CONTROL_CHARS
        + '"}, '
        + json.dumps(
            {
                "id": "good-json",
                "url": "http://127.0.0.1/good-json",
                "title": f"{GOOD_MARKER} (good-json)",
                "summary": "An ordinary paragraph of news about ministers and markets.",
                "date_published": "2026-11-24T17:05:00Z",
            }
        )
    )
    depth = 100_000
    return {
        "gzip-stacked": (gzip.compress(bomb, 9), {**rss_type, "Content-Encoding": "gzip, gzip"}),
        "gzip-single": (bomb, {**rss_type, "Content-Encoding": "gzip"}),
        "entity-16k": (
            _rss(
                f"<item><title>{'&a;' * 5000}</title><link>http://127.0.0.1/e</link></item>",
                prolog=f'<!DOCTYPE rss [\n<!ENTITY a "{long_value}">\n]>\n',
            ),
            rss_type,
        ),
        "entity-nested": (
            _rss(
                "<item><title>&lol9;</title><link>http://127.0.0.1/lol</link></item>",
                prolog=f"<!DOCTYPE rss [\n{laughs}\n]>\n",
            ),
            rss_type,
        ),
        "oversized-rss": (_rss(oversized_rss_item + _good_rss_item("good-rss")), rss_type),
        "oversized-json": (_json_feed(oversized_json_items), json_type),
        "json-deep": (
            _json_feed(
                '{"id": "deep", "url": "http://127.0.0.1/deep", "title": "Deep", "x": '
                + "[" * depth
                + "]" * depth
                + "}"
            ),
            json_type,
        ),
        "json-bignum": (
            _json_feed('{"id": ' + "9" * 5000 + ', "url": "http://127.0.0.1/n", "title": "Big number"}'),
            json_type,
        ),
    }


# --- the servers --------------------------------------------------------------------------------------------


class _Served:
    """One ThreadingHTTPServer per case on 127.0.0.1; counts requests and bytes sent per case."""

    def __init__(self, documents: dict[str, tuple[bytes, dict[str, str]]]) -> None:
        self.documents = documents
        self.stopping = threading.Event()
        self.requests: dict[str, int] = {}
        self.bytes_sent: dict[str, int] = {}
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self._lock = threading.Lock()

    def _handler(self, case: str) -> type[BaseHTTPRequestHandler]:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _count(self, nbytes: int) -> None:
                with served._lock:
                    served.bytes_sent[case] = served.bytes_sent.get(case, 0) + nbytes

            def do_GET(self) -> None:
                with served._lock:
                    served.requests[case] = served.requests.get(case, 0) + 1
                if case == "slow-dribble":
                    self._dribble()
                    return
                body, headers = served.documents[case]
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)
                    self._count(len(body))

            def _dribble(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()  # HTTP/1.0, no Content-Length: the body ends when the connection does
                prefix = b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
                index = 0
                while not served.stopping.is_set():
                    byte = prefix[index : index + 1] or b"x"
                    index += 1
                    try:
                        self.wfile.write(byte)
                        self.wfile.flush()
                    except OSError:  # the poller hung up
                        return
                    self._count(1)
                    served.stopping.wait(1.0)

        return Handler

    def start(self) -> dict[str, str]:
        urls = {}
        for case in CASES:
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(case.name))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name=f"serve-{case.name}", daemon=True).start()
            self.servers[case.name] = server
            suffix = "json" if case.name.startswith(("json", "oversized-json")) else "xml"
            urls[case.name] = f"http://127.0.0.1:{server.server_address[1]}/{case.name}.{suffix}"
        return urls

    def stop(self) -> None:
        self.stopping.set()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


# --- the broker ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _broker(bootstrap: str | None, state: Path) -> Iterator[tuple[str, float]]:
    """The bootstrap servers and the seconds it took to start: ``bootstrap`` as given, or a local broker on
    free ports with its state under ``state``, killed when this process dies (as tests/conftest.py does)."""
    if bootstrap:
        yield bootstrap, 0.0
        return
    from newswatch.broker.errors import BrokerStartError
    from newswatch.broker.local import LocalKafka, LocalKafkaConfig, fetch_jars, jars_present
    from newswatch.settings import Settings

    base = LocalKafkaConfig.from_settings(Settings(state_dir=state))
    config = LocalKafkaConfig(
        state_dir=state / "kafka",
        jars_dir=base.jars_dir,
        heap_mb=base.heap_mb,
        start_timeout_s=max(base.start_timeout_s, 120.0),
        die_with_parent=True,
    )
    if not jars_present(config.jars_dir):
        fetch_jars(config.jars_dir)
    started = time.perf_counter()
    for attempt in range(3):
        kafka = LocalKafka(config.with_free_ports())
        try:
            kafka.start()
            break
        except BrokerStartError:
            if attempt == 2:
                raise
    try:
        yield kafka.bootstrap, time.perf_counter() - started
    finally:
        kafka.stop()


# --- running the command ------------------------------------------------------------------------------------


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def run_poll(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> dict[str, Any]:
    """Run ``argv``; its exit code, wall time, peak RSS (wait4 ru_maxrss and polled VmHWM), and whether it
    had to be killed at ``timeout_s``."""
    stdout_path, stderr_path = cwd / "poll.stdout", cwd / "poll.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        started_wall = time.time()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        hwm_kb = 0
        timed_out = False
        kill_at: float | None = None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            hwm_kb = max(hwm_kb, _vm_hwm_kb(proc.pid) or 0)
            elapsed = time.perf_counter() - started
            if not timed_out and elapsed > timeout_s:
                timed_out = True  # a failure: ask it to stop, then kill it 10 s later
                proc.send_signal(signal.SIGTERM)
                kill_at = elapsed + 10
            elif kill_at is not None and elapsed > kill_at:
                proc.kill()
                kill_at = None
            time.sleep(0.1)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    maxrss_kb = rusage.ru_maxrss
    return {
        "exit_code": proc.returncode,
        "exited_by_itself": not timed_out,
        "wall_s": round(wall, 1),
        "started_at": started_wall,
        "peak_rss_mb": round(max(maxrss_kb, hwm_kb) / 1024, 1),
        "ru_maxrss_mb": round(maxrss_kb / 1024, 1),
        "vm_hwm_polled_mb": round(hwm_kb / 1024, 1),
        "stdout": stdout_path.read_text(encoding="utf-8", errors="replace"),
        "stderr": stderr_path.read_text(encoding="utf-8", errors="replace"),
    }


_REPORT_LINE = re.compile(
    r"^(?P<feed>\S+)\s+(?P<outcome>[a-z_]+)\s+new=(?P<new>\d+)\s*(?:\((?P<error>.*)\))?$"
)


def _per_feed(stdout: str, stderr: str, started_at: float) -> dict[str, dict[str, Any]]:
    """Outcome, new count and error per feed (summary lines), plus the poll's end time and rejection
    reasons from the JSON logs."""
    feeds: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        match = _REPORT_LINE.match(line.strip())
        if match:
            feeds[match["feed"]] = {
                "outcome": match["outcome"],
                "new": int(match["new"]),
                "error": (match["error"] or None) and match["error"][:240],
            }
    for line in stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "feed" not in event:
            continue
        entry = feeds.setdefault(str(event["feed"]), {})
        if event.get("event") in ("feed_polled", "feed_poll_failed"):
            entry.setdefault("outcome", event.get("outcome"))
            with contextlib.suppress(KeyError, ValueError, TypeError):
                entry["done_after_s"] = round(datetime.fromisoformat(event["ts"]).timestamp() - started_at, 1)
        elif event.get("event") == "entry_rejected":
            reasons = entry.setdefault("rejected", {})
            reasons[event.get("reason")] = reasons.get(event.get("reason"), 0) + 1
    return feeds


def _check_topic(records: list[dict[str, Any]], urls: dict[str, str]) -> dict[str, Any]:
    """What reached the articles topic: counts per case, the good items, and any hostile payload."""
    by_feed = {url: name for name, url in urls.items()}
    per_case: dict[str, int] = {}
    hostile: list[str] = []
    largest = 0
    for record in records:
        case = by_feed.get(str(record.get("feed_url")), "unknown")
        per_case[case] = per_case.get(case, 0) + 1
        text = json.dumps(record, ensure_ascii=False)
        largest = max(largest, len(text.encode()))
        flags = [
            flag
            for flag, bad in (
                ("control characters", "\x01" in text),
                ("entity expansion", "AAAAAAAAAAAAAAAA" in text or "lollollol" in text),
                ("not a good item", GOOD_MARKER not in str(record.get("title"))),
                ("over 1 MB", len(text.encode()) > 1_000_000),
            )
            if bad
        ]
        if flags:
            hostile.append(f"{case}: {record.get('url')} ({', '.join(flags)})")
    good = {
        case.name: any(
            r.get("url") == f"http://127.0.0.1/{case.good_guid}" and GOOD_MARKER in str(r.get("title"))
            for r in records
        )
        for case in CASES
        if case.good_guid
    }
    return {
        "records": len(records),
        "records_per_case": per_case,
        "largest_record_bytes": largest,
        "good_items_published": good,
        "hostile_records": hostile,
    }


def _env(bootstrap: str, state: Path, topics: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SERVICES), os.environ.get("PYTHONPATH")])),
            "HF_HUB_OFFLINE": "1",
            "NEWSWATCH_LOG_FORMAT": "json",
            "NEWSWATCH_LOG_LEVEL": "DEBUG",  # entry_rejected (with its reason) is a debug line
            "NEWSWATCH_STATE_DIR": str(state),
            "NEWSWATCH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "NEWSWATCH_KAFKA__TOPIC_ARTICLES": topics["articles"],
            "NEWSWATCH_KAFKA__TOPIC_CLASSIFIED": topics["classified"],
            "NEWSWATCH_KAFKA__TOPIC_ALERTS": topics["alerts"],
            "NEWSWATCH_KAFKA__TOPIC_DEADLETTER": topics["deadletter"],
            "NEWSWATCH_POLLER__METRICS_PORT": "0",
            "NEWSWATCH_POLLER__ALLOW_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
            **extra,
        }
    )
    return env


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from newswatch.broker import declared_topics, ensure_topics, read_all
    from newswatch.settings import KafkaSettings

    report: dict[str, Any] = {"python": sys.version.split()[0], "load_average_before": os.getloadavg()}
    started = time.perf_counter()
    documents = build_documents()
    report["build_documents_s"] = round(time.perf_counter() - started, 1)
    report["document_bytes"] = {name: len(body) for name, (body, _) in documents.items()}
    served = _Served(documents)
    urls = served.start()
    try:
        with _broker(args.bootstrap, tmp / "broker") as (bootstrap, broker_s):
            report["broker_start_s"] = round(broker_s, 1)
            suffix = uuid.uuid4().hex[:8]
            base = KafkaSettings(bootstrap_servers=bootstrap)
            kafka = base.model_copy(
                update={
                    f"topic_{kind}": f"{getattr(base, f'topic_{kind}')}.hostile.{suffix}"
                    for kind in ("articles", "classified", "alerts", "deadletter")
                }
            )
            ensure_topics(kafka, declared_topics(kafka))
            feeds_file = tmp / "feeds.yaml"
            feeds_file.write_text(
                json.dumps(
                    {"feeds": [{"name": c.name, "url": urls[c.name], "outlet": c.name} for c in CASES]}
                ),
                encoding="utf-8",
            )  # JSON is YAML
            topics = {
                kind: getattr(kafka, f"topic_{kind}")
                for kind in ("articles", "classified", "alerts", "deadletter")
            }
            extra = {f"NEWSWATCH_POLLER__{key.upper()}": value for key, value in (args.set or [])}
            env = _env(bootstrap, tmp / "state", topics, extra)
            argv = [sys.executable, "-m", "newswatch.cli", "poll", "--once", "--feeds", str(feeds_file)]
            run = run_poll(argv, env, tmp, args.timeout)
            report["command"] = "newswatch poll --once --feeds <feeds.yaml>"
            report["poller_overrides"] = extra
            for key in (
                "exit_code",
                "exited_by_itself",
                "wall_s",
                "peak_rss_mb",
                "ru_maxrss_mb",
                "vm_hwm_polled_mb",
            ):
                report[key] = run[key]
            feeds = _per_feed(run["stdout"], run["stderr"], run["started_at"])
            summary = [line for line in run["stdout"].splitlines() if line.startswith(f"{len(CASES)} feeds:")]
            report["summary"] = summary[-1] if summary else None
            report["cases"] = {
                case.name: {
                    "issue": case.issue,
                    "what": case.description,
                    "expected": case.expected,
                    **feeds.get(case.name, {"outcome": None}),
                    "requests": served.requests.get(case.name, 0),
                    "bytes_served": served.bytes_sent.get(case.name, 0),
                }
                for case in CASES
            }
            for entry in report["cases"].values():
                entry["as_expected"] = entry.get("outcome") == entry["expected"]
            report["topic"] = _check_topic(read_all(kafka, topics["articles"], timeout_s=30), urls)
            crashes = [
                line[:300]
                for line in run["stderr"].splitlines()
                if "feed_poll_crashed" in line or "Traceback" in line
            ]
            report["crashes"] = crashes
            if not run["exited_by_itself"] or run["exit_code"] not in (0, 1):
                report["stdout_tail"] = run["stdout"][-2000:]
                report["stderr_tail"] = run["stderr"][-4000:]
    finally:
        served.stop()
    report["load_average_after"] = os.getloadavg()
    good = report["topic"]["good_items_published"]
    report["bar"] = {
        "exited_by_itself": report["exited_by_itself"] and report["exit_code"] >= 0,
        f"peak_rss_under_{RSS_LIMIT_MB:g}_mb": report["peak_rss_mb"] < RSS_LIMIT_MB,
        "good_item_published": bool(good) and all(good.values()),
        "no_hostile_record_published": not report["topic"]["hostile_records"],
    }
    report["meets_bar"] = all(report["bar"].values())
    return report


def _verdict(report: dict[str, Any]) -> str:
    unexpected = [name for name, case in report["cases"].items() if not case["as_expected"]]
    good = report["topic"]["good_items_published"]
    return (
        f"{'PASS' if report['meets_bar'] else 'FAIL'}: poll --once "
        f"{'exited' if report['exited_by_itself'] else 'was KILLED at the timeout'} "
        f"(exit {report['exit_code']}) after {report['wall_s']} s, peak RSS {report['peak_rss_mb']} MB "
        f"(limit {RSS_LIMIT_MB:g}), good items published: "
        f"{', '.join(f'{k}=' + ('yes' if v else 'NO') for k, v in good.items())}; "
        f"hostile records on the topic: {len(report['topic']['hostile_records'])}; "
        f"cases as expected: {len(report['cases']) - len(unexpected)}/{len(report['cases'])}"
        + (f" (not: {', '.join(unexpected)})" if unexpected else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: start a local broker on free ports)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="outer limit of the poll (s); hitting it fails"
    )
    parser.add_argument(
        "--set",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="a poller setting for the child, e.g. --set fetch_deadline_seconds 30 (default: none, defaults)",
    )
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        report = bench(args, Path(tmp))
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    verdict = _verdict(report)
    report["verdict"] = verdict
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(verdict)
    return 0 if report["meets_bar"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
