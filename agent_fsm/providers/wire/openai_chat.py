"""The OpenAI Chat Completions stream (``chat.completion.chunk`` frames), as sent by OpenAI and
by OpenAI-compatible servers (vLLM, llama.cpp, Ollama's /v1, OpenRouter, Groq, DeepSeek...).

Decisions:

- **Tool calls** stream as fragments keyed by ``index`` and are only known complete when the
  choice's ``finish_reason`` arrives; then every call is emitted ready, in index order. With
  ``finish_reason == "length"`` the calls' JSON may be cut, so none is emitted and
  :class:`IncompleteToolCallError` is raised. A server that sends ``[DONE]`` without a
  ``finish_reason`` gets its calls emitted at the end.
- **Reasoning** arrives as ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter,
  Groq); the block closes when text or a tool call starts, or at the end, and is emitted whole
  with OpenRouter's ``reasoning_details`` signature when it has one.
- **Usage** is the last non-null ``usage`` (Groq also puts it in ``x_groq.usage``);
  ``input_tokens`` is ``prompt_tokens`` (cached tokens included, as OpenAI counts them) and
  ``cached_input_tokens`` is ``prompt_tokens_details.cached_tokens`` (DeepSeek:
  ``prompt_cache_hit_tokens``). The official SDK keeps the *last* ``usage`` even when it is null,
  so it reports none for a stream whose trailing chunk says ``"usage": null``; this parser keeps
  the usage the server did send.
- **Errors**: a top-level ``error`` object (OpenRouter) or an ``event: error`` frame (Groq) raises
  :class:`InBandError`. Only choice ``index`` 0 is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...events import Final, ModelEvent, TextDelta, ToolCallReady
from ...messages import Usage
from ..errors import IncompleteStreamError, IncompleteToolCallError, ProtocolError
from ._common import NOTHING, ReasoningRun, ToolCallSlot, excerpt, in_band_error, loads

__all__ = ["OpenAIChatParser"]


class OpenAIChatParser:
    """Parser of one Chat Completions stream. See the module docstring for its decisions."""

    __slots__ = (
        "_done",
        "_finish_reason",
        "_id",
        "_model",
        "_ready_sent",
        "_reasoning",
        "_slots",
        "_usage",
        "provider",
    )

    def __init__(self, provider: str = "OpenAI-compatible server") -> None:
        self.provider = provider
        self._id = ""
        self._model: str | None = None
        self._usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._done = False
        self._slots: dict[int, ToolCallSlot] = {}
        self._ready_sent = False
        self._reasoning = ReasoningRun()

    def feed(self, event: str, data: str) -> Sequence[ModelEvent]:
        if data == "[DONE]":
            self._done = True
            return NOTHING
        chunk = loads(data, self.provider)
        if type(chunk) is not dict:
            raise ProtocolError(f"{self.provider} sent a frame that is not a JSON object", body=excerpt(data))
        error = chunk.get("error")
        if error or event == "error":
            raise in_band_error(self.provider, error if error else chunk, body=data)
        if not self._id:
            self._id = str(chunk.get("id") or "")
            self._model = chunk.get("model")
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        elif "x_groq" in chunk:
            groq_usage = (chunk["x_groq"] or {}).get("usage")
            if groq_usage:
                self._usage = groq_usage
        choices = chunk.get("choices")
        if not choices:
            return NOTHING
        out: list[ModelEvent] = []
        for choice in choices:
            if choice.get("index", 0) == 0:
                self._choice(choice, out)
        return out

    def _choice(self, choice: dict[str, Any], out: list[ModelEvent]) -> None:
        delta = choice.get("delta")
        if delta:
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and type(reasoning) is str:
                out.append(self._reasoning.delta(reasoning, self._id))
            details = delta.get("reasoning_details")
            if details:
                self._signature(details)
            content = delta.get("content")
            if content:
                self._reasoning.close(out)
                out.append(TextDelta(content if type(content) is str else _text_of(content)))
            refusal = delta.get("refusal")
            if refusal:
                self._reasoning.close(out)
                out.append(TextDelta(refusal))
            calls = delta.get("tool_calls")
            if calls:
                self._reasoning.close(out)
                for call in calls:
                    self._tool_fragment(call, out)
        finish_reason = choice.get("finish_reason")
        if finish_reason:
            self._finish_reason = finish_reason
            self._reasoning.close(out)
            if finish_reason == "length" and self._slots:
                last = self._slots[max(self._slots)]
                raise IncompleteToolCallError(
                    f"{self.provider} stopped at the token limit (finish_reason=length) while streaming "
                    f"tool call {last.name!r} ({last.id}); raise max_tokens and try again",
                    tool_name=last.name,
                    tool_call_id=last.id,
                )
            self._emit_ready(out)

    def _tool_fragment(self, call: dict[str, Any], out: list[ModelEvent]) -> None:
        index = call.get("index")
        if type(index) is not int:
            index = len(self._slots)
        function = call.get("function") or {}
        slot = self._slots.get(index)
        if slot is None:
            internal_id = f"{self._id}:{index}"
            slot = self._slots[index] = ToolCallSlot(call.get("id") or internal_id, internal_id)
        name = function.get("name")
        if name and not slot.name:
            slot.name = name
            out.append(slot.name_delta())
        arguments = function.get("arguments")
        if arguments:
            out.append(slot.args_delta(arguments))

    def _signature(self, details: list[Any]) -> None:
        for detail in details:
            if type(detail) is dict and detail.get("signature"):
                self._reasoning.signature = detail["signature"]

    def _emit_ready(self, out: list[ModelEvent]) -> None:
        if self._ready_sent:
            return
        self._ready_sent = True
        ready: list[ToolCallReady] = [self._slots[i].ready() for i in sorted(self._slots)]
        out.extend(ready)

    @property
    def complete(self) -> bool:
        """Whether ``data: [DONE]`` has arrived: the response is whole, whatever the server does next."""
        return self._done

    def finish(self) -> Sequence[ModelEvent]:
        if self._finish_reason is None and not self._done:
            raise IncompleteStreamError(
                f"the {self.provider} stream ended before its finish_reason or [DONE]: the connection was cut"
            )
        out: list[ModelEvent] = []
        self._reasoning.close(out)
        self._emit_ready(out)
        out.append(Final(self.usage(), self.raw()))
        return out

    def usage(self) -> Usage:
        """The response's usage so far (zero when the server sent none)."""
        u = self._usage
        if not u:
            return Usage()
        prompt = int(u.get("prompt_tokens") or 0)
        completion = int(u.get("completion_tokens") or 0)
        details = u.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or u.get("prompt_cache_hit_tokens") or 0)
        return Usage(prompt, completion, int(u.get("total_tokens") or prompt + completion), cached)

    def raw(self) -> dict[str, Any]:
        """The final metadata: response id, model, finish reason and the usage object as sent."""
        return {"id": self._id, "model": self._model, "finish_reason": self._finish_reason, "usage": self._usage}


def _text_of(content: Any) -> str:
    """The text of a ``content`` some servers send as a list of parts instead of a string."""
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return str(content)
