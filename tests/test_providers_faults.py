"""Faults against the real local server: what each failure becomes, what is retried, what is closed."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx
import pytest

from agent_fsm.events import Final, ModelEvent, TextDelta
from agent_fsm.messages import UserMessage
from agent_fsm.providers import (
    AnthropicModel,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InBandError,
    IncompleteStreamError,
    MissingAPIKeyError,
    OllamaModel,
    OpenAIChatModel,
    ProtocolError,
    ProviderTimeout,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from agent_fsm.providers._base import HTTPModel
from agent_fsm.request import CompletionRequest

from .wire_server import WIRE_DIR, Reply, WireServer

KEY = "sk-secret-0123456789abcdef"
REQUEST = CompletionRequest(UserMessage.text("hi"))

TEXT_SSE = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
    b"data: [DONE]\n\n"
)


class Sleeps:
    """A ``RetryPolicy.sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def chat(server: WireServer, sleeps: Sleeps | None = None, **kwargs: Any) -> OpenAIChatModel:
    retry = RetryPolicy(rng=random.Random(7), sleep=sleeps or Sleeps())
    return OpenAIChatModel("gpt-test", api_key=KEY, base_url=f"{server.url}/v1", retry=retry, **kwargs)


async def collect(model: HTTPModel) -> tuple[list[ModelEvent], Exception | None]:
    events: list[ModelEvent] = []
    try:
        async with model:
            async for event in model.stream(REQUEST):
                events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


def assert_no_secret(error: BaseException) -> None:
    """The key is nowhere in the error, and no httpx exception (holding the headers) hangs on it."""
    for text in (str(error), repr(error), str(getattr(error, "body", "")), str(error.args)):
        assert KEY not in text
    assert error.__cause__ is None
    assert error.__context__ is None


async def test_connection_dropped_mid_stream_is_raised_not_retried() -> None:
    async with WireServer() as server:
        server.queue(Reply(body=TEXT_SSE, drop_after=len(TEXT_SSE) // 2), Reply(body=TEXT_SSE))
        events, error = await collect(chat(server))
        assert len(server.requests) == 1, "a stream that has started is never sent again"
    assert isinstance(error, APIConnectionError)
    assert error.retryable
    assert "while streaming" in str(error)
    assert events == [TextDelta("Hel")]
    assert_no_secret(error)


async def test_429_then_200_waits_retry_after_then_streams() -> None:
    sleeps = Sleeps()
    async with WireServer() as server:
        server.queue(
            Reply(429, b'{"error": {"message": "slow down"}}', "application/json", {"retry-after": "1.5"}),
            Reply(body=TEXT_SSE),
        )
        events, error = await collect(chat(server, sleeps))
        assert len(server.requests) == 2
    assert error is None
    assert sleeps.delays == [1.5]
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hel"), TextDelta("lo")]


async def test_retry_after_ms_wins_and_a_too_long_retry_after_is_not_waited_for() -> None:
    sleeps = Sleeps()
    async with WireServer() as server:
        server.queue(
            Reply(429, b"{}", "application/json", {"retry-after-ms": "250", "retry-after": "1"}),
            Reply(429, b'{"error": {"message": "daily quota"}}', "application/json", {"retry-after": "86400"}),
        )
        _, error = await collect(chat(server, sleeps))
        assert len(server.requests) == 2
    assert sleeps.delays == [0.25]
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 86400
    assert "HTTP 429: daily quota" in str(error)


async def test_500_is_retried_with_seeded_jittered_backoff_then_raised() -> None:
    sleeps = Sleeps()
    async with WireServer() as server:
        server.queue(*[Reply(500, b'{"error": {"message": "boom"}}', "application/json")] * 3)
        _, error = await collect(chat(server, sleeps))
        assert len(server.requests) == 3  # the first attempt and max_retries=2 retries
    assert isinstance(error, ServerError)
    assert (error.status, error.retryable) == (500, True)
    assert error.body == '{"error": {"message": "boom"}}'
    expected = RetryPolicy(rng=random.Random(7))
    assert sleeps.delays == [expected.backoff(0), expected.backoff(1)]
    assert 0.25 <= sleeps.delays[0] < 0.5
    assert 0.5 <= sleeps.delays[1] < 1.0


async def test_500_then_200_recovers() -> None:
    async with WireServer() as server:
        server.queue(Reply(503, b"overloaded", "text/plain"), Reply(body=TEXT_SSE))
        events, error = await collect(chat(server))
    assert error is None
    assert isinstance(events[-1], Final)


async def test_401_is_not_retried_and_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    body = f'{{"error": {{"message": "Incorrect API key provided: {KEY}.", "type": "invalid_request_error"}}}}'
    sleeps = Sleeps()
    caplog.set_level(logging.DEBUG)
    async with WireServer() as server:
        server.queue(Reply(401, body.encode(), "application/json"), Reply(body=TEXT_SSE))
        _, error = await collect(chat(server, sleeps))
        assert len(server.requests) == 1
    assert isinstance(error, AuthenticationError)
    assert (error.status, error.retryable, sleeps.delays) == (401, False, [])
    assert str(error) == (
        "OpenAI-compatible server at "
        f"{server.url}/v1 returned HTTP 401: Incorrect API key provided: [redacted]. "
        f"(POST {server.url}/v1/chat/completions) "
        "(check the API key; its value is never shown)"
    )
    assert_no_secret(error)
    assert KEY not in caplog.text


async def test_the_key_is_not_logged_when_retrying(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with WireServer() as server:
        server.queue(Reply(500, f"key {KEY} failed".encode(), "text/plain"), Reply(body=TEXT_SSE))
        _, error = await collect(chat(server))
    assert error is None
    assert "retrying model request" in caplog.text
    assert KEY not in caplog.text


async def test_a_malformed_json_frame_is_a_protocol_error() -> None:
    body = TEXT_SSE.replace(b'{"id":"c1","choices":[{"index":0,"delta":{"content":"lo"}', b'{"id":"c1","choices":[{')
    async with WireServer() as server:
        server.queue(Reply(body=body))
        events, error = await collect(chat(server))
    assert isinstance(error, ProtocolError)
    assert not error.retryable
    assert "not valid JSON" in str(error)
    assert error.body is not None
    assert error.body.startswith('{"id":"c1","choices":[{')
    assert events == [TextDelta("Hel")]


async def test_a_malformed_ndjson_line_is_a_protocol_error() -> None:
    body = b'{"model":"m","created_at":"t","message":{"role":"assistant","content":"Hi"},"done":false}\n{"model":\n'
    async with WireServer() as server:
        server.queue(Reply(body=body, content_type="application/x-ndjson"))
        events, error = await collect(OllamaModel("m", base_url=server.url))
    assert isinstance(error, ProtocolError)
    assert events == [TextDelta("Hi")]


async def test_a_server_that_stalls_past_the_read_timeout() -> None:
    timeout = httpx.Timeout(5.0, read=0.2)
    async with WireServer() as server:
        first_frame = TEXT_SSE.index(b"data:", 10)
        server.queue(Reply(body=TEXT_SSE, stall_after=first_frame, stall_for=10))
        started = asyncio.get_running_loop().time()
        events, error = await collect(chat(server, timeout=timeout))
        elapsed = asyncio.get_running_loop().time() - started
        assert len(server.requests) == 1
        await asyncio.wait_for(server.client_gone.wait(), 2)  # and the connection was closed
    assert isinstance(error, ProviderTimeout)
    assert "read timeout while streaming" in str(error)
    assert error.retryable
    assert elapsed < 2
    assert events[:1] == [TextDelta("Hel")]
    assert not any(isinstance(e, Final) for e in events)
    assert_no_secret(error)


async def test_a_server_that_hangs_up_before_answering_is_retried() -> None:
    async with WireServer() as server:
        server.queue(Reply(hang_up=True), Reply(body=TEXT_SSE))
        events, error = await collect(chat(server))
        assert len(server.requests) == 2
    assert error is None
    assert isinstance(events[-1], Final)


async def test_nothing_listening_is_a_connection_error_after_the_retries() -> None:
    async with WireServer() as server:
        url = server.url  # the port is free once the server is gone
    sleeps = Sleeps()
    model = OpenAIChatModel("m", base_url=f"{url}/v1", retry=RetryPolicy(sleep=sleeps))
    _, error = await collect(model)
    assert isinstance(error, APIConnectionError)
    assert "before the response arrived" in str(error)
    assert len(sleeps.delays) == 2
    assert error.__context__ is None


async def test_a_200_that_is_not_an_event_stream() -> None:
    async with WireServer() as server:
        server.queue(Reply(200, b'{"choices": []}', "application/json"))
        _, error = await collect(chat(server))
    assert isinstance(error, ProtocolError)
    assert "not an event stream" in str(error)
    assert error.body == '{"choices": []}'


async def test_a_body_that_ends_early_is_an_incomplete_stream() -> None:
    cut = TEXT_SSE[: TEXT_SSE.index(b"data:", 10)]  # only the first frame, then a clean end
    async with WireServer() as server:
        server.queue(Reply(body=cut))
        events, error = await collect(chat(server))
    assert isinstance(error, IncompleteStreamError)
    assert error.retryable
    assert events == [TextDelta("Hel")]


async def test_anthropic_error_event_mid_stream_is_an_in_band_error() -> None:
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"c",'
        b'"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    async with WireServer() as server:
        server.queue(Reply(body=body))
        events, error = await collect(AnthropicModel("c", api_key=KEY, base_url=server.url))
    assert isinstance(error, InBandError)
    assert (error.error_type, error.retryable) == ("overloaded_error", True)
    assert "Overloaded" in str(error)
    assert events == [TextDelta("Hi")]


async def test_other_4xx_are_not_retried() -> None:
    async with WireServer() as server:
        server.queue(Reply(400, b'{"error": {"message": "bad model"}}', "application/json"))
        _, error = await collect(chat(server))
        assert len(server.requests) == 1
    assert type(error) is APIStatusError
    assert not error.retryable


@pytest.mark.parametrize("close", ["aclose", "break"])
async def test_consumer_closing_early_closes_the_connection(close: str) -> None:
    body = (WIRE_DIR / "anthropic" / "thinking_text_sonnet4.sse").read_bytes() if WIRE_DIR.exists() else TEXT_SSE
    async with WireServer() as server:
        server.queue(Reply(body=body, stall_after=len(body) // 3))
        model: HTTPModel = (
            AnthropicModel("c", api_key=KEY, base_url=server.url)
            if WIRE_DIR.exists()
            else chat(server, timeout=httpx.Timeout(5.0))
        )
        async with model:
            stream = model.stream(REQUEST)
            if close == "aclose":
                first = await stream.__anext__()
                await stream.aclose()
            else:
                async for first in stream:  # noqa: B007 - the first event is all we want
                    break
                await stream.aclose()  # what the driver does; `break` alone leaves it to the GC
            assert first is not None
            await asyncio.wait_for(server.client_gone.wait(), 2)
            assert stream.ag_frame is None  # finished: its finally blocks ran
        await _no_tasks_but(asyncio.current_task(), server)


async def _no_tasks_but(current: asyncio.Task[Any] | None, server: WireServer) -> None:
    """No task is left running: allowing the loop's async-generator finalizers (httpx-sse leaves
    httpx's ``aiter_text`` generator to them) a few iterations to finish."""
    leftover: list[asyncio.Task[Any]] = []
    for _ in range(50):
        await asyncio.sleep(0)
        leftover = [t for t in asyncio.all_tasks() if t is not current and t not in server._tasks and not t.done()]
        if not leftover:
            return
    raise AssertionError(f"tasks left running: {leftover}")


def test_retry_policy_backoff_is_bounded() -> None:
    policy = RetryPolicy(initial_delay=1, max_delay=4, rng=random.Random(1))
    delays = [policy.backoff(n) for n in range(8)]
    assert all(0.5 <= d < 1 for d in delays[:1])
    assert all(d < 4 for d in delays)
    assert all(d >= 2 for d in delays[3:])


@pytest.mark.parametrize(
    ("build", "path", "hint"),
    [
        (lambda url: AnthropicModel("c", api_key=KEY, base_url=f"{url}/v1"), "/v1/v1/messages", "without /v1"),
        (lambda url: OpenAIChatModel("m", api_key=KEY, base_url=url), "/chat/completions", "includes the API version"),
    ],
)
async def test_a_404_names_the_url_and_the_base_url_convention_never_the_key(build: Any, path: str, hint: str) -> None:
    async with WireServer() as server:
        server.queue(Reply(404, b"Not Found", "text/plain"))
        _, error = await collect(build(server.url))
    assert isinstance(error, APIStatusError)
    assert error.status == 404
    assert f"POST {server.url}{path}" in str(error)
    assert hint in str(error)
    assert "Anthropic returned" not in str(error)  # a server at another URL is not named Anthropic
    assert_no_secret(error)


def test_anthropic_at_a_custom_base_url_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    model = AnthropicModel("c", base_url="http://127.0.0.1:4000")
    assert model.label == "Anthropic-compatible server at http://127.0.0.1:4000"
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        AnthropicModel("c")


async def test_a_connection_error_names_the_url() -> None:
    async with WireServer() as server:
        url = server.url
    _, error = await collect(chat_at(url))
    assert isinstance(error, APIConnectionError)
    assert f"POST {url}/v1/chat/completions" in str(error)
    assert_no_secret(error)


def chat_at(url: str) -> OpenAIChatModel:
    return OpenAIChatModel("m", api_key=KEY, base_url=f"{url}/v1", retry=RetryPolicy(max_retries=0))
