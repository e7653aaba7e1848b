"""What the four parsers share: decoding a frame's JSON, parsing tool arguments, one open tool
call, and turning a provider's error object into an :class:`InBandError`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, Protocol, TypeAlias

from ...events import ModelEvent, Reasoning, ReasoningDelta, ToolCallDelta, ToolCallReady
from ...messages import JSONValue, ToolCall, ToolFunction, json_problem
from ..errors import BODY_EXCERPT_CHARS, InBandError, ProtocolError

__all__ = [
    "NOTHING",
    "Frame",
    "ReasoningRun",
    "StreamParser",
    "ToolCallSlot",
    "in_band_error",
    "loads",
    "parse_arguments",
]

Frame: TypeAlias = tuple[str, str]
"""``(event, data)``: an SSE frame's event name and data, or ``("", line)`` for NDJSON."""

NOTHING: Final[tuple[ModelEvent, ...]] = ()
"""What ``feed`` returns for a frame that completes no event (most frames of most formats)."""

_RETRYABLE_TYPES: Final = frozenset(
    {"overloaded_error", "rate_limit_error", "api_error", "server_error", "rate_limit_exceeded", "overloaded"}
)


class StreamParser(Protocol):
    """A sans-IO parser of one response body."""

    def feed(self, event: str, data: str) -> Sequence[ModelEvent]:
        """Take the next frame; return the events it completes (often none).

        Raises:
            InBandError: the frame reports an error.
            ProtocolError: the frame is not valid for the format.
            IncompleteToolCallError: the response was cut inside a tool call.
        """
        ...

    @property
    def complete(self) -> bool:
        """Whether the format's end marker has arrived. The response is then whole: the caller
        stops reading and closes it, even if the server keeps the connection open."""
        ...

    def finish(self) -> Sequence[ModelEvent]:
        """The body ended: return the last events (``Final`` last).

        Raises:
            IncompleteStreamError: the body ended before the format's end marker.
        """
        ...


def excerpt(text: str) -> str:
    """At most :data:`BODY_EXCERPT_CHARS` characters of ``text``, marked when cut."""
    if len(text) <= BODY_EXCERPT_CHARS:
        return text
    return text[:BODY_EXCERPT_CHARS] + f"... [{len(text) - BODY_EXCERPT_CHARS} more chars]"


def loads(data: str, provider: str) -> Any:
    """Decode one frame's JSON, as a :class:`ProtocolError` when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"{provider} sent a frame that is not valid JSON ({exc})", body=excerpt(data)) from exc


def parse_arguments(raw: str) -> JSONValue:
    """A tool call's arguments as a JSON value; ``{}`` when empty; the raw string if not JSON.

    The raw string goes through unchanged so the tool layer can tell the model exactly what it
    sent wrong, instead of the run failing; so do arguments standard JSON cannot hold (``NaN``,
    nesting deeper than :data:`~agent_fsm.messages.MAX_JSON_DEPTH`).
    """
    if not raw or raw.isspace():
        return {}
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than ``json`` reads
        return raw
    return raw if json_problem(value) is not None else value


def _not_json(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


def in_band_error(provider: str, error: Any, *, body: str, status: int | None = None) -> InBandError:
    """An :class:`InBandError` from a provider's error object (or bare error string)."""
    code: str | None = None
    error_type: str | None = None
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        raw_code = error.get("code")
        if isinstance(raw_code, int) and not isinstance(raw_code, bool) and status is None:
            status = raw_code
        code = None if raw_code is None else str(raw_code)
        raw_type = error.get("type")
        error_type = raw_type if isinstance(raw_type, str) else None
        raw_status = error.get("status_code", error.get("status"))
        if status is None and isinstance(raw_status, int) and not isinstance(raw_status, bool):
            status = raw_status
    elif error is not None:
        message = str(error)
    retryable = (
        (status is not None and (status == 429 or status >= 500))
        or error_type in _RETRYABLE_TYPES
        or code in _RETRYABLE_TYPES
    )
    label = error_type or code or "error"
    text = f"{provider} reported an error mid-stream ({label}): {message or 'no message'}"
    return InBandError(text, status=status, body=excerpt(body), retryable=retryable, code=code, error_type=error_type)


class ToolCallSlot:
    """One client tool call while its arguments stream in."""

    __slots__ = ("args", "id", "internal_id", "item_id", "name")

    def __init__(self, id: str, internal_id: str, name: str = "", item_id: str | None = None) -> None:
        self.id = id
        self.internal_id = internal_id
        self.name = name
        self.item_id = item_id
        self.args: list[str] = []

    def name_delta(self) -> ToolCallDelta:
        return ToolCallDelta(self.id, self.internal_id, name=self.name)

    def args_delta(self, fragment: str) -> ToolCallDelta:
        self.args.append(fragment)
        return ToolCallDelta(self.id, self.internal_id, arguments=fragment)

    def ready(self, arguments: str | None = None) -> ToolCallReady:
        """The complete call; ``arguments`` (the provider's final string) wins over the fragments."""
        raw = "".join(self.args) if arguments is None else arguments
        call = ToolCall(self.id, ToolFunction(self.name, parse_arguments(raw)), call_id=self.item_id)
        return ToolCallReady(call, self.internal_id)


class ReasoningRun:
    """Reasoning streamed as bare text deltas (no block id from the provider).

    A block opens at the first delta and closes when anything else starts (text, a tool call,
    the end), becoming one complete ``Reasoning``. Blocks get the ids ``"{prefix}:reasoning-{n}"``.
    """

    __slots__ = ("_count", "_id", "_pieces", "signature")

    def __init__(self) -> None:
        self._pieces: list[str] | None = None
        self._id = ""
        self._count = 0
        self.signature: str | None = None

    def delta(self, text: str, prefix: str) -> ReasoningDelta:
        if self._pieces is None:
            self._pieces = []
            self._id = f"{prefix}:reasoning-{self._count}"
            self._count += 1
        self._pieces.append(text)
        return ReasoningDelta(text, self._id)

    def close(self, out: list[ModelEvent]) -> None:
        """Append the open block, if any, as a complete ``Reasoning``."""
        if self._pieces is not None:
            out.append(Reasoning(("".join(self._pieces),), self._id, self.signature))
            self._pieces = None
            self.signature = None
