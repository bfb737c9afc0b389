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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from newswatch.poller.errors import (
    FeedHTTPError,
    FeedNetworkError,
    FeedRateLimitedError,
    FeedRefusedError,
    FeedTimeoutError,
    FeedTooLargeError,
)
from newswatch.poller.schedule import parse_max_age
from newswatch.retry import parse_retry_after

__all__ = [
    "AddressGuard",
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "IPAddress",
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
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _address(text: str) -> IPAddress:
    """The address ``text`` names, scope id dropped."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def _effective(address: IPAddress) -> IPAddress | None:
    """The address a connection to ``address`` really reaches, when that is an IPv4 address embedded in an
    IPv6 form: IPv4-mapped (``::ffff:a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``) and 6to4 (``2002:AABB:CCDD::``).
    None for forms that are never a public feed: IPv4-compatible (``::a.b.c.d``, deprecated) and local-use
    NAT64 (``64:ff9b:1::/48``, whose embedding depends on the local prefix length).
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64_LOCAL or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return None
    return address


class AddressGuard:
    """Refuse URLs whose host is, or resolves to, a non-global address (loopback, private, link-local,
    reserved, multicast...) unless the feed allows private addresses or the address is in
    ``allowed_networks``. IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by the IPv4
    address they reach; IPv4-compatible and local-use NAT64 addresses are refused.

    A host that resolves to several addresses is refused if any of them is not allowed.
    :meth:`allowed_addresses` is what the fetcher's connections use, so the address checked is the address
    connected to (no second resolution a DNS server could answer differently).

        guard = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),))
        await guard.check("http://127.0.0.1:8080/rss", allow_private=False)   # allowed by the network list
    """

    def __init__(self, allowed_networks: Sequence[IPNetwork] = (), resolver: Resolver | None = None) -> None:
        self._allowed = tuple(allowed_networks)
        self._resolve = resolver or system_resolver

    def _listed(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._allowed)

    def _allowed_address(self, address: IPAddress) -> bool:
        reached = _effective(address)
        if reached is not None and reached.is_global and not reached.is_multicast:
            return True
        return self._listed(address) or (reached is not None and self._listed(reached))

    async def allowed_addresses(self, host: str, port: int) -> tuple[str, ...]:
        """Resolve ``host`` once and return its addresses, every one of them allowed.

        Raises :class:`FeedRefusedError` (its ``url`` is ``host``) when one is not allowed, and ``OSError``
        when ``host`` does not resolve.
        """
        try:
            texts: Sequence[str] = [str(ipaddress.ip_address(host))]
        except ValueError:
            texts = await self._resolve(host, port)
        if not texts:
            raise OSError(f"{host} resolves to no address")
        for text in texts:
            if not self._allowed_address(_address(text)):
                raise FeedRefusedError(host, f"{host} resolves to non-public address {_address(text)}")
        return tuple(texts)

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
            await self.allowed_addresses(host, port)
        except FeedRefusedError as exc:
            raise FeedRefusedError(url, exc.message) from exc
        except OSError as exc:
            raise FeedNetworkError(url, f"cannot resolve {host}: {exc}") from exc


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, connecting to the addresses :meth:`AddressGuard.allowed_addresses` resolved
    and allowed, never to a second resolution. TLS and the Host header still name the URL's host: httpcore
    takes both from the request, not from the address dialled."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._guard.allowed_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: Exception = httpcore.ConnectError(f"no address of {host} answered")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("feeds are not fetched over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pinned_transport(guard: AddressGuard, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport with its connection pool on a :class:`_PinnedBackend`.

    httpx does not take a network backend, so the pool it built is replaced by one built alike (same TLS
    context defaults, no proxy, nothing from the environment).
    """
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_PinnedBackend(guard),
    )
    return transport


class _Inflater:
    """Undo one gzip or deflate coding in bounded steps; :meth:`feed` yields pieces of at most ``step`` bytes.

    "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate: a first chunk that is
    not a zlib stream is retried as raw deflate, as browsers do.
    """

    def __init__(self, coding: str, step: int = _INFLATE_STEP) -> None:
        self._coding = coding
        self._step = step
        self._zlib = zlib.decompressobj(_WBITS[coding])
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
    return codings[0] if codings[0] in _WBITS else None


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
    """Two ``httpx.AsyncClient`` objects with per-origin semaphores; :meth:`fetch` may run concurrently.

    Feeds that may not reach private addresses go through a client whose connections dial only the
    addresses the :class:`AddressGuard` allowed (:class:`_PinnedBackend`); feeds configured with
    ``allow_private`` use a plain client, created on first use. ``transport`` and ``resolver`` are
    injectable, so unit tests need no network (``httpx.MockTransport`` replaces both clients' transports).
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
        self._pool_limits = httpx.Limits(
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_connections
        )
        self._client = self._new_client(transport or _pinned_transport(self._guard, self._pool_limits))
        self._open_client: httpx.AsyncClient | None = self._client if transport is not None else None

    def _new_client(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
        limits = self._limits
        return httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout, pool=limits.deadline),
            headers={"User-Agent": limits.user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    def _client_for(self, allow_private: bool) -> httpx.AsyncClient:
        if not allow_private:
            return self._client
        if self._open_client is None:
            self._open_client = self._new_client(
                httpx.AsyncHTTPTransport(limits=self._pool_limits, trust_env=False)
            )
        return self._open_client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._open_client is not None and self._open_client is not self._client:
            await self._open_client.aclose()

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
                location = await self._request(self._client_for(allow_private), url, current, validators)
            if isinstance(location, FetchResult):
                return location
            if location in visited:
                raise FeedHTTPError(url, f"redirect loop at {location}")
            current = location
        raise FeedHTTPError(url, f"more than {self._limits.max_redirects} redirects")

    async def _request(
        self, client: httpx.AsyncClient, feed_url: str, url: str, validators: Validators
    ) -> FetchResult | str:
        """One hop: a :class:`FetchResult`, or the absolute URL a redirect points to."""
        try:
            request = client.build_request("GET", url, headers=validators.headers())
            response = await client.send(request, stream=True)
        except FeedRefusedError as exc:  # the pinned connection found a non-public address (DNS rebinding)
            raise FeedRefusedError(feed_url, f"{exc.message} when connecting to {url}") from exc
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
        try:
            coding = _content_coding(feed_url, response.headers)
        except FeedNetworkError:
            self._observe(response.status_code, 0)
            raise
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
                self._observe(response.status_code, len(body))
                raise FeedNetworkError(feed_url, f"corrupt {coding} body: {exc}") from exc
        return bytes(body)

    def _observe(self, status: int, nbytes: int) -> None:
        if self._observer is not None:
            self._observer(status, nbytes)


_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
