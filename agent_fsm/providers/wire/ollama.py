"""Ollama's native ``/api/chat`` stream: one JSON object per line, the last with ``done: true``.

Decisions:

- ``message.content`` gives text deltas, ``message.thinking`` reasoning deltas (closed into one
  ``Reasoning`` when text or a tool call starts, or at the end).
- ``message.tool_calls`` arrive whole (arguments already an object), each as a name delta and an
  arguments delta; they are emitted ready at ``done``, in order. Ollama gives no response id, so
  ``internal_call_id`` is ``"ollama:{created_at of the first line}:{index}"``, and a call
  without an ``id`` gets that as its id.
- **Usage**: ``prompt_eval_count`` in, ``eval_count`` out; Ollama reports no cached tokens.
- An ``{"error": ...}`` line raises :class:`InBandError`; a body without a ``done: true`` line
  raises :class:`IncompleteStreamError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...events import Final, ModelEvent, TextDelta, ToolCallReady
from ...messages import ToolCall, ToolFunction, Usage
from ..errors import IncompleteStreamError, ProtocolError
from ._common import NOTHING, ReasoningRun, ToolCallSlot, excerpt, in_band_error, loads

__all__ = ["OllamaParser"]

_PROVIDER = "Ollama"


class OllamaParser:
    """Parser of one ``/api/chat`` NDJSON stream. See the module docstring for its decisions."""

    __slots__ = ("_base", "_calls", "_final", "_reasoning")

    def __init__(self) -> None:
        self._base = ""
        self._calls: list[ToolCallReady] = []
        self._reasoning = ReasoningRun()
        self._final: Final | None = None

    def feed(self, event: str, data: str) -> Sequence[ModelEvent]:
        if self._final is not None or not data.strip():
            return NOTHING
        line = loads(data, _PROVIDER)
        if type(line) is not dict:
            raise ProtocolError("Ollama sent a line that is not a JSON object", body=excerpt(data))
        if "error" in line:
            raise in_band_error(_PROVIDER, line["error"], body=data)
        if not self._base:
            self._base = f"ollama:{line.get('created_at', '')}"
        out: list[ModelEvent] = []
        message = line.get("message")
        if message:
            thinking = message.get("thinking")
            if thinking:
                out.append(self._reasoning.delta(thinking, self._base))
            content = message.get("content")
            if content:
                self._reasoning.close(out)
                out.append(TextDelta(content))
            for call in message.get("tool_calls") or ():
                self._reasoning.close(out)
                self._tool_call(call, out)
        if line.get("done"):
            self._reasoning.close(out)
            out.extend(self._calls)
            self._final = Final(self._usage(line), self._raw(line))
            out.append(self._final)
        return out

    def _tool_call(self, call: dict[str, Any], out: list[ModelEvent]) -> None:
        function = call.get("function") or {}
        internal_id = f"{self._base}:{len(self._calls)}"
        slot = ToolCallSlot(str(call.get("id") or internal_id), internal_id, function.get("name", ""))
        arguments = function.get("arguments")
        if arguments is None:
            arguments = {}
        out.append(slot.name_delta())
        if isinstance(arguments, str):  # some models' templates give the JSON as a string
            out.append(slot.args_delta(arguments))
            self._calls.append(slot.ready())
            return
        out.append(slot.args_delta(json.dumps(arguments, ensure_ascii=False)))
        self._calls.append(ToolCallReady(ToolCall(slot.id, ToolFunction(slot.name, arguments)), internal_id))

    @staticmethod
    def _usage(line: dict[str, Any]) -> Usage:
        prompt = int(line.get("prompt_eval_count") or 0)
        output = int(line.get("eval_count") or 0)
        return Usage(prompt, output, prompt + output)

    @staticmethod
    def _raw(line: dict[str, Any]) -> dict[str, Any]:
        keep = ("model", "created_at", "done_reason", "prompt_eval_count", "eval_count", "total_duration")
        return {k: line[k] for k in keep if k in line}

    @property
    def complete(self) -> bool:
        """Whether the ``done`` line has arrived: the response is whole, whatever the server does next."""
        return self._final is not None

    def finish(self) -> Sequence[ModelEvent]:
        if self._final is None:
            raise IncompleteStreamError("the Ollama stream ended before its done line: the connection was cut")
        return NOTHING
