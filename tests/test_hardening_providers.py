"""Hardening (issue 12) of the providers, against the real local server: the model's own key is
scrubbed from everything reported from the server whatever its shape, a stream is complete at
its protocol's end marker, and arguments nested too deeply are an error result, not a failure."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import httpx
import pytest

from agent_fsm import Agent, Usage, tool
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.messages import ToolResult, UserMessage
from agent_fsm.providers import AnthropicModel, InBandError, OpenAIChatModel, ProtocolError, RetryPolicy
from agent_fsm.table import State

from .support import collect
from .test_providers_faults import TEXT_SSE
from .test_providers_faults import collect as events_of
from .wire_server import Reply, WireServer

KEY = "local-secret-token-9f8e7d6c"  # a vLLM --api-key: not shaped like any known key
SLOW = httpx.Timeout(10.0, read=60.0)
"""A read timeout far longer than any test: a client waiting for the body to end would fail."""


def chat(server: WireServer, **kwargs: Any) -> OpenAIChatModel:
    retry = RetryPolicy(max_retries=0, rng=random.Random(1))
    return OpenAIChatModel("m", api_key=KEY, base_url=f"{server.url}/v1", retry=retry, **kwargs)


def texts_of(error: BaseException) -> list[str]:
    return [
        str(error),
        repr(error),
        str(getattr(error, "body", "")),
        str(error.args),
        str(getattr(error, "message", "")),
    ]


# ---------------------------------------------------------------- 2. the model's own key


@pytest.mark.parametrize(
    "frame",
    [
        b'data: {"error":{"message":"invalid key local-secret-token-9f8e7d6c","type":"invalid_request_error"}}\n\n',
        b'data: {"echo": "local-secret-token-9f8e7d6c" \n\n',  # malformed: quoted in the ProtocolError body
    ],
    ids=["in-band-error", "malformed-frame"],
)
async def test_item2_a_key_of_any_shape_echoed_by_the_server_is_scrubbed(
    frame: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with WireServer() as server:
        server.queue(Reply(body=TEXT_SSE[: TEXT_SSE.index(b"data:", 10)] + frame))
        agent = Agent(chat(server))
        run = agent.stream_prompt("hi")
        _, outcome = await collect(run)
    assert run.state is State.Failed
    error = (
        outcome.__cause__ if outcome is not None and not isinstance(outcome, InBandError | ProtocolError) else outcome
    )
    assert isinstance(outcome, InBandError | ProtocolError), outcome
    for text in texts_of(outcome) + ([] if error is None else texts_of(error)):
        assert KEY not in text
    assert "[REDACTED]" in str(outcome) + str(outcome.body)
    assert KEY not in caplog.text and "model call failed" in caplog.text


# ---------------------------------------------------------------- 9. complete at the end marker


async def test_item9_openai_stream_ends_at_DONE_though_the_server_keeps_the_body_open() -> None:
    async with WireServer() as server:
        server.queue(Reply(body=TEXT_SSE, stall_after=len(TEXT_SSE), stall_for=120))
        events, error = await events_of(chat(server, timeout=SLOW))
    assert error is None
    assert events[:2] == [TextDelta("Hel"), TextDelta("lo")] and events[-1] == Final(Usage(3, 2, 5), events[-1].raw)


ANTHROPIC_SSE = b"".join(
    b"event: %s\ndata: %s\n\n" % (kind.encode(), json.dumps(data).encode())
    for kind, data in [
        (
            "message_start",
            {"type": "message_start", "message": {"id": "m1", "model": "c", "usage": {"input_tokens": 3}}},
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)


async def test_item9_anthropic_stream_ends_at_message_stop_though_the_server_keeps_the_body_open() -> None:
    async with WireServer() as server:
        server.queue(Reply(body=ANTHROPIC_SSE, stall_after=len(ANTHROPIC_SSE), stall_for=120))
        model = AnthropicModel("c", api_key=KEY, base_url=server.url, timeout=SLOW, retry=RetryPolicy(max_retries=0))
        events, error = await events_of(model)
    assert error is None
    assert events[0] == TextDelta("Hi") and isinstance(events[-1], Final) and events[-1].usage.output_tokens == 1


# ---------------------------------------------------------------- 5. deep arguments from a provider


@tool
def echo(text: str) -> str:
    """Echo the text back."""
    return text


def tool_call_sse(arguments: str) -> bytes:
    chunks = [
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "echo", "arguments": arguments}}
        ]}, "finish_reason": None}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]  # fmt: skip
    return b"".join(b"data: %s\n\n" % json.dumps(c).encode() for c in chunks) + b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "arguments", ['{"text":' + "[" * 3000 + "]" * 3000 + "}", '{"text": NaN}'], ids=["3000-deep", "NaN"]
)
async def test_item5_arguments_json_cannot_hold_are_an_error_result_and_the_run_goes_on(arguments: str) -> None:
    async with WireServer() as server:
        server.queue(Reply(body=tool_call_sse(arguments)), Reply(body=TEXT_SSE))
        run = Agent(chat(server), tools=[echo]).stream_prompt("hi")
        items, outcome = await collect(run)
    assert outcome is None and run.state is State.Done
    [result] = [p for m in run.history if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult)]
    assert result.is_error and "not valid JSON" in result.text
    assert [i for i in items if isinstance(getattr(i, "content", None), ToolCallReady)]
    json.loads(run.snapshot().to_json())  # the history is writable, as standard JSON
