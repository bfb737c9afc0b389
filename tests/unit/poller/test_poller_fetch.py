"""The fetcher on httpx.MockTransport: conditional GET, failure classes, size cap, redirects, SSRF guard."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest

from newswatch.poller.errors import (
    FeedFetchError,
    FeedHTTPError,
    FeedNetworkError,
    FeedRateLimitedError,
    FeedRefusedError,
    FeedTimeoutError,
    FeedTooLargeError,
)
from newswatch.poller.fetch import AddressGuard, Fetcher, FetchLimits, Resolver, Validators

FEED = "https://feeds.example.org/rss"
PUBLIC = {"feeds.example.org": ["93.184.216.34"], "cdn.example.org": ["2606:2800:220:1::1"]}


async def fake_resolver(host: str, port: int) -> Sequence[str]:
    if host == "unresolvable.example":
        raise OSError("Name or service not known")
    if host == "nat64.example":
        return ["64:ff9b::a00:7"]
    return PUBLIC.get(host, ["10.0.0.7"])


def _fetcher(handler: Callable[[httpx.Request], httpx.Response], **limits: object) -> Fetcher:
    seen: list[tuple[int, int]] = []
    fetcher = Fetcher(
        FetchLimits(**limits),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        resolver=fake_resolver,
        observer=lambda status, nbytes: seen.append((status, nbytes)),
    )
    fetcher.observed = seen  # type: ignore[attr-defined]
    return fetcher


async def test_200_returns_body_validators_and_hints() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "If-None-Match" not in request.headers
        assert request.headers["User-Agent"].startswith("newswatch")
        return httpx.Response(
            200,
            content=b"<rss/>",
            headers={
                "ETag": '"v1"',
                "Last-Modified": "Tue, 24 Nov 2026 17:05:00 GMT",
                "Cache-Control": "max-age=600",
                "Content-Type": "application/rss+xml",
            },
        )

    async with _fetcher(handler) as fetcher:
        result = await fetcher.fetch(FEED, Validators())
        assert fetcher.observed == [(200, 6)]  # type: ignore[attr-defined]
    assert result.status == 200 and result.body == b"<rss/>" and not result.not_modified
    assert result.validators == Validators('"v1"', "Tue, 24 Nov 2026 17:05:00 GMT")
    assert result.max_age == 600 and result.content_type == "application/rss+xml"


async def test_304_sends_validators_and_keeps_them() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["If-None-Match"] == '"v1"'
        assert request.headers["If-Modified-Since"] == "Tue, 24 Nov 2026 17:05:00 GMT"
        return httpx.Response(304)

    async with _fetcher(handler) as fetcher:
        result = await fetcher.fetch(FEED, Validators('"v1"', "Tue, 24 Nov 2026 17:05:00 GMT"))
    assert result.not_modified and result.body == b""
    assert result.validators == Validators('"v1"', "Tue, 24 Nov 2026 17:05:00 GMT")


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "120"}, FeedRateLimitedError, 120.0),
        (503, {"Retry-After": "30"}, FeedRateLimitedError, 30.0),
        (429, {}, FeedRateLimitedError, None),
        (500, {}, FeedHTTPError, None),
        (404, {}, FeedHTTPError, None),
        (410, {}, FeedHTTPError, None),
        (301, {}, FeedHTTPError, None),  # a redirect without Location
    ],
)
async def test_error_statuses_are_classified(
    status: int, headers: dict[str, str], error: type[FeedFetchError], retry_after: float | None
) -> None:
    async with _fetcher(lambda request: httpx.Response(status, headers=headers)) as fetcher:
        with pytest.raises(error) as caught:
            await fetcher.fetch(FEED, Validators())
    assert type(caught.value) is error
    assert isinstance(caught.value, FeedHTTPError) and caught.value.status == status
    if isinstance(caught.value, FeedRateLimitedError):
        assert caught.value.retry_after_seconds == retry_after
        assert caught.value.outcome == "rate_limited"
    else:
        assert caught.value.outcome == "http_error"


async def test_gzip_body_is_decoded() -> None:
    payload = b"<rss>" + b"x" * 10_000 + b"</rss>"
    compressed = gzip.compress(payload)

    def handler(request: httpx.Request) -> httpx.Response:
        assert "gzip" in request.headers["Accept-Encoding"]
        return httpx.Response(200, content=compressed, headers={"Content-Encoding": "gzip"})

    async with _fetcher(handler) as fetcher:
        assert (await fetcher.fetch(FEED, Validators())).body == payload


async def test_corrupt_gzip_is_a_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedNetworkError):
            await fetcher.fetch(FEED, Validators())


async def test_declared_oversized_body_is_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2000)

    async with _fetcher(handler, max_body_bytes=1000) as fetcher:
        with pytest.raises(FeedTooLargeError, match="Content-Length"):
            await fetcher.fetch(FEED, Validators())


async def test_streamed_oversized_body_is_aborted() -> None:
    chunks_sent: list[int] = []

    async def endless() -> httpx.AsyncByteStream:  # type: ignore[misc]
        for index in range(10_000):
            chunks_sent.append(index)
            yield b"y" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with _fetcher(handler, max_body_bytes=5000) as fetcher:
        with pytest.raises(FeedTooLargeError, match="aborted"):
            await fetcher.fetch(FEED, Validators())
    assert len(chunks_sent) < 10


async def test_gzip_bomb_is_capped_on_decoded_size() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})

    async with _fetcher(handler, max_body_bytes=100_000) as fetcher:
        with pytest.raises(FeedTooLargeError):
            await fetcher.fetch(FEED, Validators())


async def _wire(data: bytes, chunk: int = 65_536) -> httpx.AsyncByteStream:  # type: ignore[misc]
    """``data`` as a network stream: httpx decodes an in-memory ``content=`` body when it is built."""
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


def _zeros_gzip(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed in 1 MB steps (the plain data never sits in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * 1_000_000
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


async def test_gzip_bomb_is_decoded_in_bounded_steps() -> None:
    bomb = _zeros_gzip(20_000_000)  # ~20 KB on the wire, served as one chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_wire(bomb), headers={"Content-Encoding": "gzip"})

    async with _fetcher(handler, max_body_bytes=100_000) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(FeedTooLargeError):
                await fetcher.fetch(FEED, Validators())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 2_000_000, f"decoding grew memory by {peak} bytes for a 100 KB cap"


async def test_stacked_content_encodings_are_refused() -> None:
    inner = _zeros_gzip(5_000_000)
    stacked = gzip.compress(inner)  # a few hundred bytes that would expand twice

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_wire(stacked), headers={"Content-Encoding": "gzip, gzip"})

    async with _fetcher(handler, max_body_bytes=100_000) as fetcher:
        with pytest.raises(FeedNetworkError, match="Content-Encoding") as caught:
            await fetcher.fetch(FEED, Validators())
    assert caught.value.outcome == "network_error"


@pytest.mark.parametrize(
    "header", ["gzip, gzip", "deflate, gzip", "gzip,identity,deflate", "br", "zstd", "compress"]
)
async def test_stacked_or_unsupported_encodings_are_network_errors(header: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_wire(b"\x1f\x8b whatever"), headers={"Content-Encoding": header})

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedNetworkError, match="Content-Encoding"):
            await fetcher.fetch(FEED, Validators())
        assert fetcher.observed == [(200, 0)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "pack"),
    [
        ("deflate", zlib.compress),  # RFC 9110: zlib-wrapped
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate, seen in the wild
        ("x-gzip", gzip.compress),
        ("identity, gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("", lambda data: data),
    ],
)
async def test_single_encodings_are_decoded(header: str, pack: Callable[[bytes], bytes]) -> None:
    payload = b"<rss>" + b"caf\xc3\xa9 " * 50_000 + b"</rss>"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == "gzip, deflate"
        return httpx.Response(200, content=_wire(pack(payload)), headers={"Content-Encoding": header})

    async with _fetcher(handler) as fetcher:
        result = await fetcher.fetch(FEED, Validators())
        assert fetcher.observed == [(200, len(payload))]  # type: ignore[attr-defined]
    assert result.body == payload


async def test_gzip_streamed_in_small_chunks_is_decoded() -> None:
    payload = b"<rss>" + bytes(range(256)) * 4000 + b"</rss>"
    compressed = gzip.compress(payload)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_wire(compressed, 7), headers={"Content-Encoding": "gzip"})

    async with _fetcher(handler) as fetcher:
        assert (await fetcher.fetch(FEED, Validators())).body == payload


async def test_transport_timeout_is_a_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedTimeoutError) as caught:
            await fetcher.fetch(FEED, Validators())
    assert caught.value.outcome == "timeout"


async def test_connection_failure_is_a_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedNetworkError) as caught:
            await fetcher.fetch(FEED, Validators())
    assert caught.value.outcome == "network_error"


async def test_dns_failure_is_a_network_error() -> None:
    async with _fetcher(lambda request: httpx.Response(200)) as fetcher:
        with pytest.raises(FeedNetworkError, match="resolve"):
            await fetcher.fetch("https://unresolvable.example/rss", Validators())


async def test_redirects_are_followed_and_checked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/rss":
            return httpx.Response(301, headers={"Location": "https://cdn.example.org/feed.xml"})
        return httpx.Response(200, content=b"<rss/>")

    async with _fetcher(handler) as fetcher:
        result = await fetcher.fetch(FEED, Validators())
        assert fetcher.observed == [(301, 0), (200, 6)]  # type: ignore[attr-defined]
    assert result.url == "https://cdn.example.org/feed.xml"


async def test_redirect_loop_is_an_http_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        target = "/b" if request.url.path == "/a" else "/a"
        return httpx.Response(302, headers={"Location": target})

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedHTTPError, match="redirect loop"):
            await fetcher.fetch("https://feeds.example.org/a", Validators())


async def test_redirect_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        step = int(request.url.path.strip("/") or 0)
        return httpx.Response(307, headers={"Location": f"/{step + 1}"})

    async with _fetcher(handler, max_redirects=3) as fetcher:
        with pytest.raises(FeedHTTPError, match="more than 3 redirects"):
            await fetcher.fetch("https://feeds.example.org/0", Validators())


async def test_redirect_to_a_private_address_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "feeds.example.org":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        raise AssertionError("the private address must never be requested")

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedRefusedError, match=r"169\.254\.169\.254"):
            await fetcher.fetch(FEED, Validators())


async def test_redirect_to_another_scheme_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "file:///etc/passwd"})

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedRefusedError):
            await fetcher.fetch(FEED, Validators())


async def test_deadline_covers_the_whole_fetch() -> None:
    import asyncio

    async def slow_body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        while True:
            await asyncio.sleep(0.05)
            yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=slow_body())

    async with _fetcher(handler, deadline=0.3) as fetcher:
        with pytest.raises(FeedTimeoutError, match=r"0\.3 s"):
            await fetcher.fetch(FEED, Validators())


# --- SSRF guard ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/rss",
        "http://localhost.internal/rss",  # resolves (fake) to 10.0.0.7
        "http://10.1.2.3/rss",
        "http://172.16.0.1/rss",
        "http://192.168.1.1/rss",
        "http://169.254.169.254/latest",
        "http://100.64.0.1/rss",
        "http://0.0.0.0/rss",
        "http://[::1]/rss",
        "http://[fe80::1]/rss",
        "http://[fc00::1]/rss",
        "http://[::ffff:127.0.0.1]/rss",
        "http://224.0.0.1/rss",
        "http://240.0.0.1/rss",
        "http://[64:ff9b::7f00:1]/rss",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/latest",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::a00:7]/rss",  # NAT64 of 10.0.0.7
        "http://[64:ff9b:1::a00:7]/rss",  # local-use NAT64
        "http://[2002:7f00:1::1]/rss",  # 6to4 of 127.0.0.1
        "http://[2002:c0a8:101::]/rss",  # 6to4 of 192.168.1.1
        "http://[::7f00:1]/rss",  # IPv4-compatible 127.0.0.1
        "http://[::5db8:d822]/rss",  # IPv4-compatible, even of a public address (deprecated form)
        "http://[2001::5db8:d822]/rss",  # Teredo
        "http://nat64.example/rss",  # resolves (fake) to a NAT64 form of 10.0.0.7
    ],
)
async def test_guard_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(FeedRefusedError):
        await AddressGuard(resolver=fake_resolver).check(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://feeds.example.org/rss",
        "http://93.184.216.34/",
        "https://cdn.example.org/x",
        "http://[64:ff9b::5db8:d822]/rss",  # NAT64 (DNS64 networks) of a public address
        "http://[2002:5db8:d822::1]/rss",  # 6to4 of a public address
    ],
)
async def test_guard_allows_public_addresses(url: str) -> None:
    await AddressGuard(resolver=fake_resolver).check(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://feeds.example.org/rss", "file:///etc/passwd", "gopher://x/", "/relative"]
)
async def test_guard_refuses_other_schemes(url: str) -> None:
    with pytest.raises(FeedRefusedError):
        await AddressGuard(resolver=fake_resolver).check(url, allow_private=True)


async def test_guard_allows_listed_networks_and_per_feed_opt_in() -> None:
    guard = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),), resolver=fake_resolver)
    await guard.check("http://127.0.0.1:8080/rss", allow_private=False)
    with pytest.raises(FeedRefusedError):
        await guard.check("http://127.0.0.2:8080/rss", allow_private=False)
    await AddressGuard(resolver=fake_resolver).check("http://192.168.1.1/rss", allow_private=True)


async def test_guard_refuses_a_host_with_any_private_address() -> None:
    async def mixed(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "10.0.0.1"]

    with pytest.raises(FeedRefusedError):
        await AddressGuard(resolver=mixed).check("https://mixed.example/rss", allow_private=False)


async def test_fetcher_refuses_private_feed_without_requesting_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be requested")

    async with _fetcher(handler) as fetcher:
        with pytest.raises(FeedRefusedError) as caught:
            await fetcher.fetch("http://127.0.0.1:9/rss", Validators())
    assert caught.value.outcome == "refused"


async def test_guard_judges_embedded_ipv4_against_the_allowed_networks() -> None:
    guard = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),), resolver=fake_resolver)
    await guard.check("http://[64:ff9b::7f00:1]:8080/rss", allow_private=False)
    with pytest.raises(FeedRefusedError):
        await guard.check("http://[64:ff9b::7f00:2]:8080/rss", allow_private=False)


# --- connections go to the address the guard checked (real transport, a server on 127.0.0.1) ----------------

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@asynccontextmanager
async def _local_server(answer: bool = True) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A one-shot HTTP server on 127.0.0.1: yields its port and the first bytes of every connection."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65_536))
        if answer:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<rss/>")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], received


def _resolving(answers: dict[str, list[list[str]]]) -> Resolver:
    """A resolver that gives each host its scripted answers in turn (the last one repeats)."""
    calls: dict[str, int] = {}

    async def resolve(host: str, port: int) -> Sequence[str]:
        script = answers[host]
        index = calls[host] = calls.get(host, -1) + 1
        return script[min(index, len(script) - 1)]

    return resolve


async def test_connection_dials_the_resolved_address_and_keeps_the_host_header() -> None:
    async with _local_server() as (port, received):
        resolver = _resolving({"feed.invalid": [["127.0.0.1"]]})  # not resolvable by the system
        limits = FetchLimits(allow_private_networks=LOOPBACK)
        async with Fetcher(limits, resolver=resolver) as fetcher:
            result = await fetcher.fetch(f"http://feed.invalid:{port}/rss", Validators())
    assert result.body == b"<rss/>"
    assert f"Host: feed.invalid:{port}".encode() in received[0]


async def test_dns_rebinding_between_check_and_connect_is_refused() -> None:
    async with _local_server() as (port, received):
        # "localhost" is what the system resolver would give a second look-up: loopback.
        resolver = _resolving({"localhost": [["93.184.216.34"], ["127.0.0.1"]]})
        async with Fetcher(FetchLimits(), resolver=resolver) as fetcher:
            with pytest.raises(FeedRefusedError, match=r"127\.0\.0\.1") as caught:
                await fetcher.fetch(f"http://localhost:{port}/rss", Validators())
    assert received == []
    assert caught.value.url == f"http://localhost:{port}/rss" and caught.value.outcome == "refused"


async def test_tls_names_the_host_not_the_address() -> None:
    async with _local_server(answer=False) as (port, received):
        resolver = _resolving({"secure.invalid": [["127.0.0.1"]]})
        limits = FetchLimits(allow_private_networks=LOOPBACK)
        async with Fetcher(limits, resolver=resolver) as fetcher:
            with pytest.raises(FeedNetworkError):  # the server hangs up after the ClientHello
                await fetcher.fetch(f"https://secure.invalid:{port}/rss", Validators())
    assert b"secure.invalid" in received[0]  # the SNI extension of the ClientHello


async def test_a_feed_allowed_private_addresses_is_fetched_without_the_guard() -> None:
    async with _local_server() as (port, _), Fetcher(FetchLimits(), resolver=_resolving({})) as fetcher:
        result = await fetcher.fetch(f"http://127.0.0.1:{port}/rss", Validators(), allow_private=True)
        with pytest.raises(FeedRefusedError):
            await fetcher.fetch(f"http://127.0.0.1:{port}/rss", Validators())
    assert result.body == b"<rss/>"
