"""Fetch one feed over HTTP: conditional GET, per-host concurrency, size cap, redirect limit, SSRF guard.

The body is decoded here, not by httpx: one Content-Encoding at most (gzip or deflate), inflated in steps of
at most 64 KiB, so a compression bomb costs at most the size cap plus one step of memory.

Every failure leaves as exactly one :class:`FeedFetchError` subclass (timeout, network, HTTP status, rate
limited, too large, refused); httpx errors never escape. Redirects are followed here, one hop at a time, so
that each target is checked by the :class:`AddressGuard` and loops are caught.

    async with Fetcher(FetchLimits()) as fetcher:
        result = await fetcher.fetch("https://example.org/rss", Validators(etag='"abc"'))
        if result.not_modified: ...
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from newswatch.poller.errors import (
    FeedHTTPError,
    FeedNetworkError,
    FeedRateLimitedError,
    FeedRefusedError,
    FeedTimeoutError,
    FeedTooLargeError,
)
from newswatch.poller.schedule import parse_max_age, parse_retry_after

__all__ = [
    "AddressGuard",
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "IPNetwork",
    "Resolver",
    "ResponseObserver",
    "Validators",
    "system_resolver",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolver(host, port)`` returns the IP addresses ``host`` resolves to."""
ResponseObserver = Callable[[int, int], None]
"""``observer(status_code, body_bytes)`` is called for every HTTP response, redirects and errors included."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RATE_LIMITED = frozenset({429, 503})
_INFLATE_STEP = 65_536
"""Most bytes one inflate step may produce; the size cap is checked after each step."""
_GZIP_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
_UNSUPPORTED_CODINGS = frozenset({"br", "zstd", "compress", "x-compress"})
"""Codings we never ask for (Accept-Encoding is gzip, deflate) and cannot decode."""


@dataclass(frozen=True, slots=True)
class Validators:
    """Conditional-GET validators saved from the last clean fetch of a feed."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A 200 (``body`` set) or 304 (``not_modified``) answer, with the server's scheduling hints."""

    url: str
    status: int
    body: bytes
    content_type: str | None
    validators: Validators
    max_age: float | None = None
    retry_after: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """HTTP limits of the fetcher (seconds and bytes)."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    max_connections: int = 32
    per_host_concurrency: int = 2
    user_agent: str = "newswatch-poller/0.1"
    allow_private_networks: tuple[IPNetwork, ...] = field(default=())


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Resolve ``host`` with the system resolver, off the event loop (``loop.getaddrinfo``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AddressGuard:
    """Refuse URLs whose host is, or resolves to, a non-global address (loopback, private, link-local,
    reserved, multicast...) unless the feed allows private addresses or the address is in
    ``allowed_networks``.

    A host that resolves to several addresses is refused if any of them is not allowed.

        guard = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),))
        await guard.check("http://127.0.0.1:8080/rss", allow_private=False)   # allowed by the network list
    """

    def __init__(self, allowed_networks: Sequence[IPNetwork] = (), resolver: Resolver | None = None) -> None:
        self._allowed = tuple(allowed_networks)
        self._resolve = resolver or system_resolver

    def _allowed_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if address.is_global and not address.is_multicast:
            return True
        return any(address.version == net.version and address in net for net in self._allowed)

    async def check(self, url: str, *, allow_private: bool) -> None:
        """Raise :class:`FeedRefusedError` unless ``url`` is http(s) and its host may be fetched."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FeedRefusedError(
                url, f"only absolute http(s) URLs are fetched, not {parts.scheme or 'none'!r}"
            )
        if allow_private:
            return
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FeedRefusedError(url, "invalid port") from exc
        try:
            texts: Sequence[str] = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                texts = await self._resolve(host, port)
            except OSError as exc:
                raise FeedNetworkError(url, f"cannot resolve {host}: {exc}") from exc
        if not texts:
            raise FeedNetworkError(url, f"{host} resolves to no address")
        for text in texts:
            address = _address(text)
            if not self._allowed_address(address):
                raise FeedRefusedError(url, f"{host} resolves to non-public address {address}")


class _Inflater:
    """Undo one gzip or deflate coding in bounded steps; :meth:`feed` yields pieces of at most ``step`` bytes.

    "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate: a first chunk that is
    not a zlib stream is retried as raw deflate, as browsers do.
    """

    def __init__(self, coding: str, step: int = _INFLATE_STEP) -> None:
        self._coding = coding
        self._step = step
        self._zlib = zlib.decompressobj(_GZIP_WBITS[coding])
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and data:
            self._started = True
            if self._coding == "deflate":
                probe = self._zlib.copy()
                try:
                    probe.decompress(data[:2])
                except zlib.error:
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        pending = data
        while not self._zlib.eof:
            piece = self._zlib.decompress(pending, self._step)
            if piece:
                yield piece
            pending = self._zlib.unconsumed_tail
            if not pending and len(piece) < self._step:
                return


def _content_coding(feed_url: str, headers: httpx.Headers) -> str | None:
    """The one coding to undo ("gzip", "x-gzip" or "deflate"), or None for an identity body.

    Stacked codings ("gzip, gzip") are refused: each layer multiplies the expansion ratio, and no feed
    server needs them. Unknown labels ("utf-8", "none": misconfigured servers) are read as identity, as
    httpx does.
    """
    codings = [
        token.strip().lower()
        for token in headers.get_list("content-encoding", split_commas=True)
        if token.strip() and token.strip().lower() != "identity"
    ]
    if len(codings) > 1:
        raise FeedNetworkError(
            feed_url, f"stacked Content-Encoding {', '.join(codings)!r} refused: one coding at most"
        )
    if not codings:
        return None
    if codings[0] in _UNSUPPORTED_CODINGS:
        raise FeedNetworkError(feed_url, f"unsupported Content-Encoding {codings[0]!r}")
    return codings[0] if codings[0] in _GZIP_WBITS else None


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as sent, still encoded. Read from ``response.stream`` rather than ``aiter_raw`` because httpx
    reads an in-memory response (``httpx.MockTransport`` in tests) when it is built, and its stream then
    still holds the encoded bytes."""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError("the fetcher needs an async transport")
    async for chunk in stream:
        yield chunk


async def _drain(response: httpx.Response, limit: int = 65_536) -> None:
    """Read and drop a short body (304, redirect, error page); a longer one closes the connection instead."""
    if response.is_stream_consumed:
        return
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            return


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


class Fetcher:
    """One shared ``httpx.AsyncClient`` with per-origin semaphores; :meth:`fetch` may run concurrently.

    ``transport`` and ``resolver`` are injectable, so unit tests need no network (``httpx.MockTransport``).
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        observer: ResponseObserver | None = None,
    ) -> None:
        self._limits = limits
        self._guard = AddressGuard(limits.allow_private_networks, resolver)
        self._observer = observer
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout, pool=limits.deadline),
            limits=httpx.Limits(
                max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections
            ),
            headers={"User-Agent": limits.user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _slot(self, url: str) -> asyncio.Semaphore:
        origin = _origin(url)
        slot = self._host_slots.get(origin)
        if slot is None:
            slot = self._host_slots[origin] = asyncio.Semaphore(self._limits.per_host_concurrency)
        return slot

    async def fetch(self, url: str, validators: Validators, *, allow_private: bool = False) -> FetchResult:
        """GET ``url`` (with ``validators``), following up to ``max_redirects`` checked redirects.

        Returns a 200 or 304 :class:`FetchResult`; raises a :class:`FeedFetchError` subclass otherwise.
        """
        try:
            async with asyncio.timeout(self._limits.deadline):
                return await self._follow(url, validators, allow_private)
        except TimeoutError as exc:
            raise FeedTimeoutError(url, f"no complete answer within {self._limits.deadline:g} s") from exc

    async def _follow(self, url: str, validators: Validators, allow_private: bool) -> FetchResult:
        visited: set[str] = set()
        current = url
        for _ in range(self._limits.max_redirects + 1):
            visited.add(current)
            await self._guard.check(current, allow_private=allow_private)
            async with self._slot(current):
                location = await self._request(url, current, validators)
            if isinstance(location, FetchResult):
                return location
            if location in visited:
                raise FeedHTTPError(url, f"redirect loop at {location}")
            current = location
        raise FeedHTTPError(url, f"more than {self._limits.max_redirects} redirects")

    async def _request(self, feed_url: str, url: str, validators: Validators) -> FetchResult | str:
        """One hop: a :class:`FetchResult`, or the absolute URL a redirect points to."""
        try:
            request = self._client.build_request("GET", url, headers=validators.headers())
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise FeedTimeoutError(feed_url, f"{type(exc).__name__} from {url}") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FeedRefusedError(feed_url, f"cannot fetch {url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FeedNetworkError(feed_url, f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        try:
            return await self._handle(feed_url, url, response, validators)
        except httpx.TimeoutException as exc:
            raise FeedTimeoutError(feed_url, f"{type(exc).__name__} reading {url}") from exc
        except httpx.HTTPError as exc:
            raise FeedNetworkError(feed_url, f"{type(exc).__name__}: {exc or 'transfer failed'}") from exc
        finally:
            await response.aclose()

    async def _handle(
        self, feed_url: str, url: str, response: httpx.Response, validators: Validators
    ) -> FetchResult | str:
        status = response.status_code
        headers = response.headers
        now = datetime.now(UTC)
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if not 200 <= status < 300:
            await _drain(response)  # lets the connection be reused
        if status in _REDIRECTS and "location" in headers:
            self._observe(status, 0)
            return urljoin(url, headers["location"].strip())
        if status == 304:
            self._observe(status, 0)
            fresh = Validators(
                etag=headers.get("etag") or validators.etag,
                last_modified=headers.get("last-modified") or validators.last_modified,
            )
            return FetchResult(
                url, 304, b"", None, fresh, parse_max_age(headers.get("cache-control")), retry_after
            )
        if status in _RATE_LIMITED:
            self._observe(status, 0)
            raise FeedRateLimitedError(feed_url, f"HTTP {status} from {url}", status, retry_after)
        if not 200 <= status < 300:
            self._observe(status, 0)
            raise FeedHTTPError(feed_url, f"HTTP {status} from {url}", status)
        body = await self._read_capped(feed_url, response)
        self._observe(status, len(body))
        return FetchResult(
            url=url,
            status=status,
            body=body,
            content_type=headers.get("content-type"),
            validators=Validators(etag=headers.get("etag"), last_modified=headers.get("last-modified")),
            max_age=parse_max_age(headers.get("cache-control")),
            retry_after=retry_after,
        )

    async def _read_capped(self, feed_url: str, response: httpx.Response) -> bytes:
        cap = self._limits.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            self._observe(response.status_code, 0)
            raise FeedTooLargeError(feed_url, f"Content-Length {declared} exceeds the {cap}-byte cap")
        coding = _content_coding(feed_url, response.headers)
        inflater = _Inflater(coding) if coding else None
        body = bytearray()
        async for chunk in _raw_chunks(response):
            pieces = inflater.feed(chunk) if inflater else (chunk,)
            try:
                for piece in pieces:
                    body += piece
                    if len(body) > cap:
                        self._observe(response.status_code, len(body))
                        raise FeedTooLargeError(feed_url, f"body exceeds the {cap}-byte cap; aborted")
            except zlib.error as exc:
                raise FeedNetworkError(feed_url, f"corrupt {coding} body: {exc}") from exc
        return bytes(body)

    def _observe(self, status: int, nbytes: int) -> None:
        if self._observer is not None:
            self._observer(status, nbytes)


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
