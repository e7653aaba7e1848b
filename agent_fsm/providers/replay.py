"""Replaying a recorded response body through a parser alone: for benchmarks, fuzzing, debugging.

The frames are decoded exactly as a live stream decodes them (``httpx-sse`` for SSE, httpx's line
splitting for NDJSON), but from bytes in memory: no socket, no event loop. To time the parser by
itself, decode once with :func:`decode_frames` and feed the frames to fresh parsers in a loop::

    frames = decode_frames("anthropic", body)
    parser = new_parser("anthropic")
    for event, data in frames:
        parser.feed(event, data)
    parser.finish()
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import httpx
from httpx_sse import EventSource

from ..events import ModelEvent
from .wire import AnthropicParser, OllamaParser, OpenAIChatParser, OpenAIResponsesParser
from .wire._common import Frame, StreamParser

__all__ = ["WIRE_FORMATS", "WireFormat", "decode_frames", "new_parser", "replay"]

WireFormat: TypeAlias = Literal["openai_chat", "anthropic", "openai_responses", "ollama"]
"""The four wire formats, named like the folders of the shared recordings."""

WIRE_FORMATS: tuple[WireFormat, ...] = ("openai_chat", "anthropic", "openai_responses", "ollama")


def new_parser(wire_format: WireFormat) -> StreamParser:
    """A fresh parser for one response body in ``wire_format``."""
    if wire_format == "openai_chat":
        return OpenAIChatParser()
    if wire_format == "anthropic":
        return AnthropicParser()
    if wire_format == "openai_responses":
        return OpenAIResponsesParser()
    if wire_format == "ollama":
        return OllamaParser()
    raise ValueError(f"unknown wire format {wire_format!r}; expected one of {', '.join(WIRE_FORMATS)}")


def decode_frames(wire_format: WireFormat, body: bytes) -> list[Frame]:
    """The frames of a whole body: SSE events (``ollama``: NDJSON lines), as a stream yields them."""
    if wire_format == "ollama":
        response = httpx.Response(200, content=body)
        return [("", line) for line in response.iter_lines() if line.strip()]
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    return [(sse.event, sse.data) for sse in EventSource(response).iter_sse()]


def replay(wire_format: WireFormat, body: bytes) -> list[ModelEvent]:
    """Every event a recorded ``body`` gives, ``Final`` last.

    Raises:
        CompletionError: what the live provider would raise for this body (an in-band error,
            a cut tool call, a body that ends early...).
    """
    parser = new_parser(wire_format)
    events: list[ModelEvent] = []
    for event, data in decode_frames(wire_format, body):
        events.extend(parser.feed(event, data))
    events.extend(parser.finish())
    return events
