"""Support for the poller integration tests: a scriptable local feed server (aiohttp on 127.0.0.1), feed
builders, and a reader of the articles topic that checks every record."""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from newswatch.broker.reading import read_to_end
from newswatch.contracts import validate_record
from newswatch.poller.settings import PollerSettings
from newswatch.settings import KafkaSettings, Settings


@dataclass
class Doc:
    """The answer on one path: a ``status`` other than 200 short-circuits; ``redirect`` sends a 302."""

    body: bytes = b""
    content_type: str = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    redirect: str | None = None
    delay: float = 0.0
    gzip: bool = False
    endless: bool = False


@dataclass
class Hit:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Serves :class:`Doc` objects; ``docs[path]`` may be a list, answered in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc | list[Doc]] = {}
        self.hits: list[Hit] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def hits_on(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def _doc(self, path: str) -> Doc | None:
        entry = self.docs.get(path)
        if isinstance(entry, list):
            return entry.pop(0) if len(entry) > 1 else entry[0]
        return entry

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.path, dict(request.headers)))
        doc = self._doc(request.path)
        if doc is None:
            return web.Response(status=404)
        if doc.delay:
            await asyncio.sleep(doc.delay)
        if doc.redirect is not None:
            return web.Response(status=302, headers={"Location": doc.redirect})
        if doc.status != 200:
            return web.Response(status=doc.status, headers=doc.headers)
        validators = {k: v for k, v in (("ETag", doc.etag), ("Last-Modified", doc.last_modified)) if v}
        if (doc.etag and request.headers.get("If-None-Match") == doc.etag) or (
            not doc.etag
            and doc.last_modified
            and request.headers.get("If-Modified-Since") == doc.last_modified
        ):
            return web.Response(status=304, headers=validators)
        headers = {"Content-Type": doc.content_type, **validators, **doc.headers}
        if doc.endless:
            response = web.StreamResponse(headers=headers)
            await response.prepare(request)
            try:
                for _ in range(100_000):
                    await response.write(b"<!-- padding -->" * 64)
            except (ConnectionError, asyncio.CancelledError):
                pass
            return response
        body = doc.body
        if doc.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def rss(*items: tuple[str, str], ttl: int | None = None, title: str = "Test feed") -> bytes:
    """An RSS 2.0 document with ``(title, link)`` items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>&lt;p&gt;About {t}.&lt;/p&gt;</description>"
        f"<pubDate>Tue, 24 Nov 2026 17:05:00 +0000</pubDate></item>"
        for t, link in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><language>en</language>'
        f"{ttl_tag}{entries}</channel></rss>"
    ).encode()


def items(prefix: str, count: int, start: int = 0) -> list[tuple[str, str]]:
    return [
        (f"{prefix} story {n}", f"https://news.example.org/{prefix}/{n}?utm_source=rss")
        for n in range(start, start + count)
    ]


def decode(value: bytes) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(value)
    return record


# --- Kafka --------------------------------------------------------------------------------------------


def read_topic(
    kafka: KafkaSettings, topic: str, timeout_s: float = 30.0
) -> list[tuple[bytes, dict[str, Any]]]:
    """Every record on ``topic`` from the beginning to its current end, as ``(key, decoded value)``;
    each value is checked against ``schemas/article.v1.json`` and its key against its id."""
    records: list[tuple[bytes, dict[str, Any]]] = []
    for message in read_to_end(kafka, topic, timeout_s=timeout_s):
        assert message.value is not None and message.key is not None
        value = decode(message.value)
        validate_record("article", value)
        assert message.key == value["id"].encode()
        records.append((message.key, value))
    return records


def poller_settings(kafka: KafkaSettings, state_dir: Path) -> Settings:
    """Settings of a poller that may fetch 127.0.0.1, with short timeouts, publishing with ``kafka``."""
    return Settings(
        state_dir=state_dir,
        kafka=kafka,
        poller=PollerSettings(
            metrics_port=0,
            allow_private_networks=("127.0.0.1/32",),
            connect_timeout_seconds=2,
            read_timeout_seconds=1,
            fetch_deadline_seconds=5,
            max_body_bytes=200_000,
            publish_timeout_seconds=5,
            shutdown_grace_seconds=10,
            backoff_jitter=0,
        ),
    )
