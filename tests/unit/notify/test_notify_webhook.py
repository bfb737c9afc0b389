"""Webhook attempts and retries, with httpx.MockTransport (no sockets): what is retried, how long it waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from tests.unit.notify.receiver import make_alert

from newswatch.contracts import Alert
from newswatch.notify.errors import DeliveryError
from newswatch.notify.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from newswatch.notify.subscriptions import WebhookDestination
from newswatch.notify.webhook import DeliveryResult, RetryPolicy, WebhookSender, classify_response

DEST = WebhookDestination(url="https://hooks.example.org/x", secret=SecretStr("s3cret"))


class Script:
    """A MockTransport handler answering from a list (an int status or an exception to raise)."""

    def __init__(self, answers: list[int | Exception | httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(answer)


async def _deliver(
    answers: list[int | Exception | httpx.Response], attempts: int = 4, alert: Alert | None = None
) -> tuple[DeliveryResult, Script, list[float], list[int]]:
    script = Script(answers)
    slept: list[float] = []
    retries: list[int] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        sender = WebhookSender(
            client, RetryPolicy(attempts, 1.0, 8.0), clock=lambda: 1_700_000_000, sleep=sleep
        )
        result = await sender.deliver(DEST, alert or make_alert(), on_retry=lambda n, exc: retries.append(n))
    return result, script, slept, retries


async def test_success_first_time_is_signed_json() -> None:
    result, script, slept, _ = await _deliver([200])
    assert result.ok and result.attempts == 1 and slept == []
    (request,) = script.requests
    body = request.content
    assert request.method == "POST" and request.headers["content-type"].startswith("application/json")
    assert json.loads(body)["alert_id"] == "mw-ml-1"
    assert request.headers[DELIVERY_HEADER] == "mw-ml-1:1"
    assert request.headers[SIGNATURE_HEADER].startswith("v2=")
    assert verify_signature(
        "s3cret",
        request.headers[TIMESTAMP_HEADER],
        body,
        request.headers[SIGNATURE_HEADER],
        300,
        delivery_id=request.headers[DELIVERY_HEADER],
        now=1_700_000_000,
    )


async def test_any_alert_id_gets_a_header_safe_signed_delivery_id() -> None:
    # a non-ASCII id used to raise UnicodeEncodeError out of deliver() (httpx encodes headers as ASCII)
    result, script, _, _ = await _deliver([200], alert=make_alert(alert_id="coup-bamako.é", version=3))
    assert result.ok
    (request,) = script.requests
    assert request.headers[DELIVERY_HEADER] == "coup-bamako%2E%C3%A9:3"
    assert verify_signature(
        "s3cret",
        request.headers[TIMESTAMP_HEADER],
        request.content,
        request.headers[SIGNATURE_HEADER],
        delivery_id=request.headers[DELIVERY_HEADER],
        now=1_700_000_000,
    )


async def test_retries_500s_with_exponential_backoff_then_succeeds() -> None:
    result, script, slept, retries = await _deliver([500, 502, 503, 200])
    assert result.ok and result.attempts == 4
    assert slept == [1.0, 2.0, 4.0] and retries == [1, 2, 3]
    assert [r.headers["X-Newswatch-Attempt"] for r in script.requests] == ["1", "2", "3", "4"]


async def test_gives_up_after_max_attempts() -> None:
    result, script, slept, _ = await _deliver([500] * 10, attempts=3)
    assert not result.ok and result.attempts == 3 and len(script.requests) == 3
    assert result.status == 500 and "HTTP 500" in str(result.error)
    assert slept == [1.0, 2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 301])
async def test_permanent_errors_are_not_retried(status: int) -> None:
    result, script, slept, _ = await _deliver([status])
    assert not result.ok and len(script.requests) == 1 and slept == []


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
async def test_network_failures_are_retried(failure: Exception) -> None:
    result, script, _, _ = await _deliver([failure, 200])
    assert result.ok and len(script.requests) == 2


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    _, _, slept, _ = await _deliver([httpx.Response(429, headers={"Retry-After": "5"}), 200])
    assert slept == [5.0]
    _, _, slept, _ = await _deliver([httpx.Response(503, headers={"Retry-After": "3600"}), 200])
    assert slept == [8.0]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (30, 8.0)],
)
def test_backoff_schedule(failures: int, expected: float) -> None:
    assert RetryPolicy(5, 1.0, 8.0).delay(failures) == expected


def test_classify_response() -> None:
    classify_response(httpx.Response(204))
    with pytest.raises(DeliveryError) as info:
        classify_response(httpx.Response(408))
    assert info.value.retryable and info.value.status == 408
    with pytest.raises(DeliveryError) as info:
        classify_response(httpx.Response(422))
    assert not info.value.retryable


class Dribble(httpx.AsyncByteStream):
    """A response body that arrives ``chunk`` by ``chunk``, ``pause`` s apart, ``count`` times."""

    def __init__(self, chunk: bytes, pause: float, count: int) -> None:
        self.chunk, self.pause, self.count = chunk, pause, count
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += 1
            yield self.chunk

    async def aclose(self) -> None:
        self.closed = True


async def _deliver_streamed(
    body: Dribble, *, deadline: float, max_response_bytes: int = 65_536, attempts: int = 2
) -> DeliveryResult:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    async def no_sleep(seconds: float) -> None:
        return None

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        sender = WebhookSender(
            client,
            RetryPolicy(attempts, 1.0, 8.0),
            attempt_deadline_seconds=deadline,
            max_response_bytes=max_response_bytes,
            sleep=no_sleep,
        )
        # before: httpx read the whole body with no total limit, so a receiver dribbling a byte every
        # 50 ms (never tripping a per-read timeout) held the attempt as long as it liked
        return await asyncio.wait_for(sender.deliver(DEST, make_alert()), 5)


async def test_a_dribbling_receiver_is_cut_off_at_the_attempt_deadline() -> None:
    body = Dribble(b"x", pause=0.05, count=10**6)
    started = time.monotonic()
    result = await _deliver_streamed(body, deadline=0.3, attempts=2)
    assert not result.ok and result.attempts == 2
    assert result.error == "timeout: no answer within 0.3 s"
    assert time.monotonic() - started < 2 and body.closed


async def test_only_the_first_max_response_bytes_of_an_answer_are_read() -> None:
    body = Dribble(b"x" * 1_048_576, pause=0, count=64)  # a 64 MiB answer
    result = await _deliver_streamed(body, deadline=5, max_response_bytes=100_000)
    assert result.ok and result.status == 200
    assert body.sent == 1 and body.closed  # before: all 64 MiB were read into memory


async def test_a_short_answer_is_read_to_its_end() -> None:
    body = Dribble(b'{"ok": true}', pause=0, count=1)
    result = await _deliver_streamed(body, deadline=5)
    assert result.ok and body.sent == 1


@pytest.mark.parametrize("fmt", ["slack", "teams", "adaptive_card"])
async def test_chat_formats_are_sent_signed_like_json(fmt: str) -> None:
    from tests.unit.notify.chat_shapes import assert_adaptive_card, assert_slack_message, assert_teams_message

    from newswatch.notify.formats import encode_payload

    dest = DEST.model_copy(update={"format": fmt})
    script = Script([200])
    alert = make_alert(headline="<!channel> *coup*")
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as client:
        sender = WebhookSender(client, RetryPolicy(1, 1.0, 1.0), clock=lambda: 1_700_000_000)
        result = await sender.deliver(dest, alert)
    assert result.ok
    (request,) = script.requests
    assert request.content == encode_payload(alert, fmt)  # type: ignore[arg-type]
    check = {
        "slack": assert_slack_message,
        "teams": assert_teams_message,
        "adaptive_card": assert_adaptive_card,
    }
    check[fmt](json.loads(request.content))
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers[DELIVERY_HEADER] == "mw-ml-1:1"
    assert verify_signature(
        "s3cret",
        request.headers[TIMESTAMP_HEADER],
        request.content,
        request.headers[SIGNATURE_HEADER],
        300,
        delivery_id=request.headers[DELIVERY_HEADER],
        now=1_700_000_000,
    )
