"""The Anthropic Messages stream (``message_start`` ... ``message_stop``).

Decisions:

- **Blocks** are tracked by ``index``. ``text`` gives text deltas; ``thinking`` gives reasoning
  deltas and, at its ``content_block_stop``, one complete ``Reasoning`` with the
  ``signature_delta`` signature; ``redacted_thinking`` gives ``Reasoning((), redacted=data)``;
  ``tool_use`` gives tool-call deltas and, at its stop, a ready call. Every other block type
  (``server_tool_use``, ``mcp_tool_use``, their ``*_tool_result`` blocks, ``compaction``...) is
  the server's business: ignored, never turned into a client tool call.
- **Ids** are ``"{message id}:{block index}"``, for reasoning blocks and for tool calls'
  ``internal_call_id``.
- **Truncation**: a ``message_delta`` with ``stop_reason == "max_tokens"`` while a ``tool_use``
  block is still open raises :class:`IncompleteToolCallError`; that call is never emitted ready.
- **Usage** starts from ``message_start`` and takes every non-null field of ``message_delta``'s
  usage (as the SDK does). ``input_tokens`` is reported as Anthropic's ``input_tokens`` +
  ``cache_creation_input_tokens`` + ``cache_read_input_tokens`` - every prompt token, like
  OpenAI's ``prompt_tokens`` - and ``cached_input_tokens`` is ``cache_read_input_tokens``.
  The raw usage object, as Anthropic sent it, is in ``Final.raw["usage"]``.
- **End**: ``Final`` comes at ``message_stop``. A body that ends after ``message_delta`` but
  without ``message_stop`` is accepted (stop reason and usage are known); one that ends sooner
  raises :class:`IncompleteStreamError`. ``event: error`` raises :class:`InBandError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...events import Final, ModelEvent, Reasoning, ReasoningDelta, TextDelta
from ...messages import Usage
from ..errors import IncompleteStreamError, IncompleteToolCallError, ProtocolError
from ._common import NOTHING, ToolCallSlot, excerpt, in_band_error, loads

__all__ = ["AnthropicParser"]

_PROVIDER = "Anthropic"


class _Thinking:
    __slots__ = ("id", "pieces", "signature")

    def __init__(self, id: str) -> None:
        self.id = id
        self.pieces: list[str] = []
        self.signature: str | None = None


class _Redacted:
    __slots__ = ("data", "id")

    def __init__(self, id: str, data: str) -> None:
        self.id = id
        self.data = data


_TEXT = "text"
_IGNORED = "ignored"
_Block = _Thinking | _Redacted | ToolCallSlot | str


class AnthropicParser:
    """Parser of one Messages stream. See the module docstring for its decisions."""

    __slots__ = ("_blocks", "_final_sent", "_id", "_model", "_stop_reason", "_usage")

    def __init__(self) -> None:
        self._id = ""
        self._model: str | None = None
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._blocks: dict[int, _Block] = {}
        self._final_sent = False

    def feed(self, event: str, data: str) -> Sequence[ModelEvent]:
        if self._final_sent:
            return NOTHING
        frame = loads(data, _PROVIDER)
        if type(frame) is not dict:
            raise ProtocolError("Anthropic sent a frame that is not a JSON object", body=excerpt(data))
        kind = frame.get("type", event)
        if kind == "content_block_delta":
            return self._delta(frame)
        if kind == "content_block_start":
            return self._start(frame)
        if kind == "content_block_stop":
            return self._stop(frame)
        if kind == "message_start":
            message = frame.get("message") or {}
            self._id = str(message.get("id") or "")
            self._model = message.get("model")
            self._usage = dict(message.get("usage") or {})
            return NOTHING
        if kind == "message_delta":
            return self._message_delta(frame)
        if kind == "message_stop":
            return (self._final(),)
        if kind == "error":
            raise in_band_error(_PROVIDER, frame.get("error"), body=data)
        return NOTHING  # ping, and event types added after this was written

    def _start(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        index = frame.get("index", 0)
        block = frame.get("content_block") or {}
        kind = block.get("type")
        block_id = f"{self._id}:{index}"
        if kind == "text":
            self._blocks[index] = _TEXT
            text = block.get("text")
            return (TextDelta(text),) if text else NOTHING
        if kind == "thinking":
            thinking = self._blocks[index] = _Thinking(block_id)
            thinking.signature = block.get("signature") or None
            text = block.get("thinking")
            if text:
                thinking.pieces.append(text)
                return (ReasoningDelta(text, block_id),)
            return NOTHING
        if kind == "redacted_thinking":
            self._blocks[index] = _Redacted(block_id, str(block.get("data") or ""))
            return NOTHING
        if kind == "tool_use":
            slot = self._blocks[index] = ToolCallSlot(str(block.get("id") or block_id), block_id, block.get("name", ""))
            out: list[ModelEvent] = [slot.name_delta()]
            initial = block.get("input")
            if initial:  # the API sends {} and streams the JSON; keep a non-empty start all the same
                out.append(slot.args_delta(json.dumps(initial)))
            return out
        self._blocks[index] = _IGNORED
        return NOTHING

    def _delta(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        delta = frame.get("delta") or {}
        block = self._blocks.get(frame.get("index", 0))
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return (TextDelta(text),) if text and block is _TEXT else NOTHING
        if kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if fragment and type(block) is ToolCallSlot:
                return (block.args_delta(fragment),)
            return NOTHING
        if type(block) is _Thinking:
            if kind == "thinking_delta":
                text = delta.get("thinking")
                if text:
                    block.pieces.append(text)
                    return (ReasoningDelta(text, block.id),)
            elif kind == "signature_delta":
                block.signature = delta.get("signature") or block.signature
        return NOTHING

    def _stop(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        block = self._blocks.pop(frame.get("index", 0), None)
        kind = type(block)
        if kind is ToolCallSlot:
            return (block.ready(),)  # type: ignore[union-attr]
        if kind is _Thinking:
            return (Reasoning(("".join(block.pieces),), block.id, block.signature),)  # type: ignore[union-attr]
        if kind is _Redacted:
            return (Reasoning((), block.id, redacted=block.data),)  # type: ignore[union-attr]
        return NOTHING

    def _message_delta(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        for key, value in (frame.get("usage") or {}).items():
            if value is not None:
                self._usage[key] = value
        stop_reason = (frame.get("delta") or {}).get("stop_reason")
        if stop_reason:
            self._stop_reason = stop_reason
        if stop_reason == "max_tokens":
            cut = [b for b in self._blocks.values() if type(b) is ToolCallSlot]
            if cut:
                call = cut[-1]
                raise IncompleteToolCallError(
                    f"Anthropic stopped at max_tokens while streaming tool call {call.name!r} ({call.id}); "
                    "raise max_tokens and try again",
                    tool_name=call.name,
                    tool_call_id=call.id,
                )
        return NOTHING

    def _final(self) -> Final:
        self._final_sent = True
        return Final(self.usage(), self.raw())

    @property
    def complete(self) -> bool:
        """Whether ``message_stop`` has arrived: the response is whole, whatever the server does next."""
        return self._final_sent

    def finish(self) -> Sequence[ModelEvent]:
        if self._final_sent:
            return NOTHING
        if self._stop_reason is None or any(type(b) is ToolCallSlot for b in self._blocks.values()):
            raise IncompleteStreamError("the Anthropic stream ended before message_stop: the connection was cut")
        return (self._final(),)

    def usage(self) -> Usage:
        """The response's usage so far; see the module docstring for the mapping."""
        u = self._usage
        fresh = int(u.get("input_tokens") or 0)
        written = int(u.get("cache_creation_input_tokens") or 0)
        read = int(u.get("cache_read_input_tokens") or 0)
        output = int(u.get("output_tokens") or 0)
        prompt = fresh + written + read
        return Usage(prompt, output, prompt + output, read)

    def raw(self) -> dict[str, Any]:
        """The final metadata: message id, model, stop reason and the usage object as merged."""
        return {"id": self._id, "model": self._model, "stop_reason": self._stop_reason, "usage": dict(self._usage)}
