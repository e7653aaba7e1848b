"""The OpenAI Responses stream (``response.created`` ... ``response.completed``), as sent by
OpenAI and Responses-compatible servers (OpenRouter, DeepSeek, Bedrock). Frames are dispatched on
their JSON ``type``, so data-only streams (no ``event:`` lines) parse the same.

Decisions:

- **Tool calls**: a ``function_call`` output item is one call. Its ``ToolCall.id`` is the item's
  ``call_id`` (what a ``function_call_output`` must reference) and ``ToolCall.call_id`` the item
  id (``fc_...``); its ``internal_call_id`` is ``"{response id}:{output_index}"``. It is emitted
  ready at ``output_item.done`` with the item's final ``arguments``. An item done with status
  ``incomplete``, or still open at ``response.incomplete``, raises :class:`IncompleteToolCallError`.
- **Reasoning**: ``reasoning_summary_text.delta`` and ``reasoning_text.delta`` are reasoning
  deltas with the item id; the reasoning item's ``output_item.done`` is one complete ``Reasoning``
  whose pieces are its summaries (or, with none, its ``reasoning_text`` contents) and whose
  ``signature`` is its ``encrypted_content``, which must go back unchanged.
- **Server tools** (``web_search_call``, ``file_search_call``, ``code_interpreter_call``,
  ``mcp_call``, ...) are ignored: never client calls.
- **Usage** comes from ``response.completed`` (or ``response.incomplete``): ``input_tokens``
  (cached included), ``output_tokens``, ``total_tokens``, ``input_tokens_details.cached_tokens``.
- **Errors**: ``error`` frames and ``response.failed`` raise :class:`InBandError`; a body that ends
  before ``response.completed`` / ``response.incomplete`` raises :class:`IncompleteStreamError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...events import Final, ModelEvent, Reasoning, ReasoningDelta, TextDelta
from ...messages import Usage
from ..errors import IncompleteStreamError, IncompleteToolCallError, ProtocolError
from ._common import NOTHING, ToolCallSlot, excerpt, in_band_error, loads

__all__ = ["OpenAIResponsesParser"]

_REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})


class OpenAIResponsesParser:
    """Parser of one Responses stream. See the module docstring for its decisions."""

    __slots__ = ("_final", "_id", "_model", "_slots", "provider")

    def __init__(self, provider: str = "OpenAI Responses") -> None:
        self.provider = provider
        self._id = ""
        self._model: str | None = None
        self._slots: dict[str, ToolCallSlot] = {}
        self._final: dict[str, Any] | None = None

    def feed(self, event: str, data: str) -> Sequence[ModelEvent]:
        if self._final is not None or data == "[DONE]":
            return NOTHING
        frame = loads(data, self.provider)
        if type(frame) is not dict:
            raise ProtocolError(f"{self.provider} sent a frame that is not a JSON object", body=excerpt(data))
        kind = frame.get("type", event)
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            text = frame.get("delta")
            return (TextDelta(text),) if text else NOTHING
        if kind in _REASONING_DELTAS:
            text = frame.get("delta")
            return (ReasoningDelta(text, frame.get("item_id")),) if text else NOTHING
        if kind == "response.function_call_arguments.delta":
            slot = self._slots.get(frame.get("item_id", ""))
            fragment = frame.get("delta")
            return (slot.args_delta(fragment),) if slot is not None and fragment else NOTHING
        if kind == "response.output_item.added":
            return self._item_added(frame)
        if kind == "response.output_item.done":
            return self._item_done(frame)
        if kind == "response.created" or kind == "response.in_progress":
            response = frame.get("response") or {}
            self._id = str(response.get("id") or self._id)
            self._model = response.get("model") or self._model
            return NOTHING
        if kind == "response.completed":
            return (self._finish_response(frame.get("response") or {}),)
        if kind == "response.incomplete":
            response = frame.get("response") or {}
            if self._slots:
                slot = next(reversed(self._slots.values()))
                raise self._cut(slot, (response.get("incomplete_details") or {}).get("reason"))
            return (self._finish_response(response),)
        if kind == "response.failed":
            raise in_band_error(self.provider, (frame.get("response") or {}).get("error"), body=data)
        if kind == "error":
            raise in_band_error(self.provider, frame.get("error") or frame, body=data)
        return NOTHING

    def _item_added(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        item = frame.get("item") or {}
        if item.get("type") != "function_call":
            return NOTHING
        slot = self._slot(item, frame.get("output_index", len(self._slots)))
        return (slot.name_delta(),)

    def _slot(self, item: dict[str, Any], output_index: int) -> ToolCallSlot:
        item_id = str(item.get("id") or "")
        internal_id = f"{self._id}:{output_index}"
        slot = ToolCallSlot(str(item.get("call_id") or item_id or internal_id), internal_id, item.get("name", ""))
        slot.item_id = item_id or None
        self._slots[item_id] = slot
        return slot

    def _item_done(self, frame: dict[str, Any]) -> Sequence[ModelEvent]:
        item = frame.get("item") or {}
        kind = item.get("type")
        if kind == "function_call":
            slot = self._slots.pop(str(item.get("id") or ""), None)
            out: list[ModelEvent] = []
            if slot is None:  # a server that skipped output_item.added
                slot = self._slot(item, frame.get("output_index", 0))
                self._slots.pop(slot.item_id or "", None)
                out.append(slot.name_delta())
            if item.get("status") == "incomplete":
                raise self._cut(slot, "the item is incomplete")
            arguments = item.get("arguments")
            out.append(slot.ready(arguments if isinstance(arguments, str) else None))
            return out
        if kind == "reasoning":
            pieces = [s.get("text", "") for s in item.get("summary") or () if type(s) is dict]
            if not pieces:
                pieces = [c.get("text", "") for c in item.get("content") or () if type(c) is dict]
            return (Reasoning(tuple(pieces), item.get("id"), item.get("encrypted_content") or None),)
        return NOTHING

    def _cut(self, slot: ToolCallSlot, reason: str | None) -> IncompleteToolCallError:
        return IncompleteToolCallError(
            f"{self.provider} stopped ({reason or 'incomplete'}) while streaming tool call {slot.name!r} "
            f"({slot.id}); raise max_output_tokens and try again",
            tool_name=slot.name,
            tool_call_id=slot.id,
        )

    def _finish_response(self, response: dict[str, Any]) -> Final:
        self._final = {
            "id": response.get("id", self._id),
            "model": response.get("model", self._model),
            "status": response.get("status"),
            "incomplete_details": response.get("incomplete_details"),
            "usage": response.get("usage"),
        }
        return Final(self.usage(), self._final)

    @property
    def complete(self) -> bool:
        """Whether ``response.completed`` (or ``response.incomplete``) has arrived: the response is
        whole, whatever the server does next."""
        return self._final is not None

    def finish(self) -> Sequence[ModelEvent]:
        if self._final is None:
            raise IncompleteStreamError(
                f"the {self.provider} stream ended before response.completed: the connection was cut"
            )
        return NOTHING

    def usage(self) -> Usage:
        """The response's usage (zero before ``response.completed``)."""
        u = (self._final or {}).get("usage") or {}
        prompt = int(u.get("input_tokens") or 0)
        output = int(u.get("output_tokens") or 0)
        cached = int((u.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        return Usage(prompt, output, int(u.get("total_tokens") or prompt + output), cached)
