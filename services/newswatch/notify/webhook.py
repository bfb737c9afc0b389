"""Webhook delivery: a signed JSON POST per alert (in the destination's ``format``), retried with
exponential back-off when a retry may help.

Each attempt is signed afresh (new timestamp), so a receiver's replay window never rejects a late retry.
Retried: network errors, timeouts, HTTP 408, 425, 429 and 5xx (``Retry-After`` honoured up to the cap).
Not retried: other 4xx and 3xx (redirects are not followed: a webhook URL must be exact).

An attempt has a total deadline besides httpx's per-operation timeouts, which a receiver that dribbles a
byte now and then never trips, and reads at most ``max_response_bytes`` of the answer's body (only the
status and headers matter), so no receiver holds an attempt, or memory, for longer than that.

    sender = WebhookSender(httpx.AsyncClient(), RetryPolicy(max_attempts=5))
    result = await sender.deliver(destination, alert)
    result.ok, result.attempts, result.error
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from newswatch.contracts import Alert
from newswatch.notify.errors import DeliveryError
from newswatch.notify.formats import encode_payload
from newswatch.notify.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_id_for,
    sign,
)
from newswatch.notify.subscriptions import WebhookDestination
from newswatch.retry import backoff_delay, parse_retry_after

__all__ = ["DeliveryResult", "RetryCallback", "RetryPolicy", "WebhookSender", "classify_response"]

RetryCallback = Callable[[int, DeliveryError], None]
_RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and back-off: delay after the n-th failure is ``min(cap, base * 2**(n-1))``, never sooner
    than the receiver's Retry-After (itself capped); see :func:`newswatch.retry.backoff_delay`.

    >>> [RetryPolicy(base_seconds=1, max_seconds=10).delay(n) for n in (1, 2, 3, 4, 5)]
    [1.0, 2.0, 4.0, 8.0, 10.0]
    """

    max_attempts: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        return backoff_delay(failures, base=self.base_seconds, cap=self.max_seconds, retry_after=retry_after)


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of delivering one alert to one destination, retries included."""

    ok: bool
    attempts: int
    status: int | None
    error: str | None
    duration_seconds: float
    #: for a failure: whether the last attempt failed in a way that waiting may cure (receiver down)
    retryable: bool = False


def classify_response(response: httpx.Response, now: float | None = None) -> None:
    """Return quietly for 2xx; raise :class:`DeliveryError` saying whether another attempt may succeed.

    >>> classify_response(httpx.Response(503))   # DeliveryError(retryable=True)
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in _RETRYABLE_STATUS
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    hint = parse_retry_after(response.headers.get("Retry-After"), at)
    raise DeliveryError(f"HTTP {status}", retryable=retryable, retry_after=hint, status=status)


class WebhookSender:
    """Delivers alerts to webhook destinations through one shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: RetryPolicy,
        *,
        user_agent: str = "newswatch-notify",
        attempt_deadline_seconds: float = 30.0,
        max_response_bytes: int = 65_536,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._policy = policy
        self._user_agent = user_agent
        self._deadline = attempt_deadline_seconds
        self._max_response_bytes = max_response_bytes
        self._clock = clock
        self._sleep = sleep

    def request_headers(
        self, dest: WebhookDestination, alert: Alert, body: bytes, attempt: int
    ) -> dict[str, str]:
        """Headers of one attempt: content type, delivery id, signature over ``<ts>.<delivery id>.<body>``."""
        assert dest.secret is not None, "secrets are resolved when subscriptions are loaded"
        timestamp = int(self._clock())
        delivery = delivery_id_for(alert.alert_id, alert.version)
        return {
            **dest.headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self._user_agent,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(dest.secret.get_secret_value(), timestamp, body, delivery_id=delivery),
            DELIVERY_HEADER: delivery,
            "X-Newswatch-Event": alert.event_type,
            "X-Newswatch-Attempt": str(attempt),
        }

    async def attempt(self, dest: WebhookDestination, alert: Alert, body: bytes, attempt: int = 1) -> int:
        """One POST, within the attempt deadline; returns the 2xx status or raises :class:`DeliveryError`."""
        request = self._client.build_request(
            "POST",
            dest.url,
            content=body,
            headers=self.request_headers(dest, alert, body, attempt),
            timeout=dest.timeout_seconds or httpx.USE_CLIENT_DEFAULT,
        )
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._exchange(request)
        except TimeoutError as exc:  # asyncio's, from the deadline; httpx's timeouts are not TimeoutError
            raise DeliveryError(f"timeout: no answer within {self._deadline:g} s", retryable=True) from exc
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"network error: {type(exc).__name__}: {exc}", retryable=True) from exc
        classify_response(response, self._clock())
        return response.status_code

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read at most ``max_response_bytes`` of the body, then close the response.

        A body read to its end leaves the connection reusable; a longer one is abandoned and the connection
        closed. The raw bytes are read, not decoded, so a compressed body cannot expand in memory.
        """
        response = await self._client.send(request, stream=True)
        try:
            if not response.is_stream_consumed:  # a transport may hand over a body already read (mocks)
                await self._read_capped(response)
        finally:
            await response.aclose()
        return response

    async def _read_capped(self, response: httpx.Response) -> None:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > self._max_response_bytes:
                return

    async def deliver(
        self,
        dest: WebhookDestination,
        alert: Alert,
        on_retry: RetryCallback | None = None,
        *,
        max_attempts: int | None = None,
    ) -> DeliveryResult:
        """Deliver ``alert``, retrying per the policy (at most ``max_attempts`` attempts when given).

        Never raises for delivery failures.
        """
        body = encode_payload(alert, dest.format)
        started = time.perf_counter()
        last: DeliveryError | None = None
        attempts = 0
        limit = self._policy.max_attempts if max_attempts is None else max_attempts
        for attempts in range(1, limit + 1):
            try:
                status = await self.attempt(dest, alert, body, attempts)
            except DeliveryError as exc:
                last = exc
                if not exc.retryable or attempts == limit:
                    break
                if on_retry is not None:
                    on_retry(attempts, exc)
                await self._sleep(self._policy.delay(attempts, exc.retry_after))
                continue
            return DeliveryResult(True, attempts, status, None, time.perf_counter() - started)
        assert last is not None
        duration = time.perf_counter() - started
        return DeliveryResult(False, attempts, last.status, str(last), duration, last.retryable)
