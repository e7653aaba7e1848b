"""Fuzz cassettes: a :class:`~agent_fsm.testing.FuzzCase` as versioned JSON Lines.

A failing fuzz case is printed in this form, to be pasted into a regression test and loaded back
with :func:`load_cassette`. It is the format of record/replay cassettes of real model calls
(:mod:`agent_fsm.cassette`): a header with ``"format": "agent-fsm/cassette"``, a schema
``version`` and a ``kind`` (here ``agent-fsm/fuzz-case``, with the case's parameters), then one
line per model call. :class:`~agent_fsm.cassette.ReplayModel` plays a fuzz cassette's calls too
(all but ``notAnEvent`` entries, which only this kit can play).

Line 1, the header (keys sorted, as every line)::

    {"calls": 2, "close_after": null, "driver": "sync", "format": "agent-fsm/cassette",
     "history": [], "hook": HOOK, "kind": "agent-fsm/fuzz-case", "max_turns": 3, "prompt": "go", "tool_concurrency": 1,
     "tools": TOOLS, "user_hook": null, "user_tools": [], "version": 1}

- ``calls``: how many model-call lines follow; ``history``: messages in the codec's JSON;
- ``HOOK``: ``null``, or ``{"answers": {"on_tool_call": ["skip", "continue"]}, "raises":
  ["on_text_delta", 2] | null, "async": ["on_tool_call"]}`` (see :class:`~.policy.HookPolicy`);
- ``TOOLS``: ``{"behaviours": [{"name": "t0", "kind": "text" | "json" | "raise" | "stall" | "stubborn" |
  "hang", "value": "...", "timeout": 0.002 | null}], "server_fails_at": 3 | null}``;
- ``user_tools`` / ``user_hook``: the names of the caller's own tools and hook, which the
  cassette cannot hold: pass them to :func:`load_cassette`.

Then one line per model call, in call order::

    {"call": 0, "events": [{"type": "textDelta", "text": "Hi"}, {"type": "final", ...}]}

Events are the codec's JSON (:func:`agent_fsm.codec.to_dict`), plus two entries that are not
events: ``{"type": "modelError", "error": "CompletionError", "message": "...", "status": 500}``
(the model raises there; ``error`` is one of :data:`ERRORS`) and ``{"type": "notAnEvent",
"value": ...}`` (a provider bug: the model yields that JSON value itself), or ``{"type":
"wrongTypedEvent", "name": ...}`` (one of :data:`~._scripts.WRONG_TYPED_EVENTS`).

A reader must reject a ``version`` it does not know. Version 1 is this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ..cassette import FORMAT as CASSETTE_FORMAT
from ..codec import CodecError, from_dict, to_dict
from ..errors import CompletionError
from ..events import ModelEvent
from ..messages import Message
from ._scripts import WRONG_TYPED_EVENTS
from .behaviours import ToolBehaviours
from .case import FuzzCase
from .policy import HookPolicy

__all__ = ["CASSETTE_KIND", "CASSETTE_VERSION", "ERRORS", "dump_cassette", "load_cassette"]

CASSETTE_VERSION: Final = 1
CASSETTE_KIND: Final = "agent-fsm/fuzz-case"

ERRORS: Final[Mapping[str, type[BaseException]]] = {
    cls.__name__: cls
    for cls in (CompletionError, RuntimeError, ConnectionError, ConnectionResetError, TimeoutError, OSError, ValueError)
}
"""The exceptions a cassette can make a model raise."""

_EVENT_TYPES: Final = frozenset({"textDelta", "reasoningDelta", "reasoning", "toolCallDelta", "toolCallReady", "final"})


_LINE_BREAKS: Final = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""Characters some readers split lines on that JSON leaves raw: escaped, so a line stays a line."""


def _line(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text


_WRONG_TYPED_NAMES: Final = {id(e): name for name, e in WRONG_TYPED_EVENTS.items()}


def _entry(entry: Any) -> Any:
    wrong = _WRONG_TYPED_NAMES.get(id(entry))
    if wrong is not None:
        return {"type": "wrongTypedEvent", "name": wrong}
    if isinstance(entry, BaseException):
        out: dict[str, Any] = {"type": "modelError", "error": type(entry).__name__, "message": _message(entry)}
        if isinstance(entry, CompletionError) and entry.status is not None:
            out["status"] = entry.status
        return out
    try:
        data = to_dict(entry)
    except Exception:
        data = None
    if isinstance(data, dict) and data.get("type") in _EVENT_TYPES and not isinstance(entry, dict):
        return data
    return {"type": "notAnEvent", "value": entry}


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, CompletionError) else str(exc)


def dump_cassette(case: FuzzCase) -> str:
    """The case as a cassette: a header line, then one line per model call (see the module doc)."""
    header = {
        "format": CASSETTE_FORMAT,
        "version": CASSETTE_VERSION,
        "kind": CASSETTE_KIND,
        "driver": case.driver,
        "prompt": case.prompt,
        "history": to_dict(list(case.history)),
        "max_turns": case.max_turns,
        "tool_concurrency": case.tool_concurrency,
        "close_after": case.close_after,
        "hook": case.hook.to_json_value() if case.hook is not None else None,
        "tools": case.tools.to_json_value(),
        "user_tools": [_name(t) for t in case.user_tools],
        "user_hook": _name(case.user_hook) if case.user_hook is not None else None,
        "calls": len(case.script),
    }
    lines = [_line(header)]
    lines.extend(_line({"call": i, "events": [_entry(e) for e in turn]}) for i, turn in enumerate(case.script))
    return "\n".join(lines) + "\n"


def _name(obj: Any) -> str:
    definition = getattr(obj, "definition", None)
    return str(getattr(definition, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)


def _read_entry(data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise CodecError(f"a cassette event must be a JSON object, got {data!r}")
    kind = data.get("type")
    if kind == "notAnEvent":
        return data.get("value")
    if kind == "wrongTypedEvent":
        if data.get("name") not in WRONG_TYPED_EVENTS:
            raise CodecError(
                f"unknown wrong-typed event {data.get('name')!r}; expected one of {sorted(WRONG_TYPED_EVENTS)}"
            )
        return WRONG_TYPED_EVENTS[data["name"]]
    if kind == "modelError":
        cls = ERRORS.get(str(data.get("error")))
        if cls is None:
            raise CodecError(f"a cassette cannot raise {data.get('error')!r}; it can raise {sorted(ERRORS)}")
        if cls is CompletionError:
            return CompletionError(str(data.get("message", "")), status=data.get("status"))
        return cls(str(data.get("message", "")))
    return from_dict(data, ModelEvent)


def load_cassette(
    text: str,
    *,
    tools: Iterable[Any] = (),
    hook: Callable[[], object] | None = None,
) -> FuzzCase:
    """Read a cassette back into a runnable :class:`FuzzCase`.

    Lines are separated by newlines only. Indentation and blank lines are ignored, so a cassette
    pasted into a test as a raw triple-quoted string loads as it is.

    Args:
        tools: the caller's own tools, when the cassette names ``user_tools``.
        hook: makes the caller's own hook, when the cassette names a ``user_hook``.

    Raises:
        CodecError: for a cassette that is not valid, of another kind, or of an unknown version.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise CodecError("an empty cassette")
    try:
        header = json.loads(lines[0])
        calls = [json.loads(line) for line in lines[1:]]
    except json.JSONDecodeError as exc:
        raise CodecError(f"a cassette line is not valid JSON: {exc}") from exc
    if not isinstance(header, dict) or header.get("kind") != CASSETTE_KIND:
        raise CodecError(f"not a fuzz cassette: its header's kind is not {CASSETTE_KIND!r}")
    if header.get("version") != CASSETTE_VERSION:
        raise CodecError(f"cassette version {header.get('version')!r} is not supported (this reader: 1)")
    if header.get("calls", len(calls)) != len(calls):
        raise CodecError(f"the header announces {header.get('calls')} model calls, {len(calls)} follow")
    user_tools = tuple(tools)
    if header.get("user_tools") and not user_tools:
        raise CodecError(f"the cassette uses the caller's tools {header['user_tools']}: pass them as tools=")
    if header.get("user_hook") and hook is None:
        raise CodecError(f"the cassette uses the caller's hook {header['user_hook']!r}: pass a factory as hook=")
    script = [[_read_entry(e) for e in call.get("events", ())] for call in calls]
    return FuzzCase(
        script,
        max_turns=int(header["max_turns"]),
        tool_concurrency=int(header.get("tool_concurrency", 1)),
        hook=HookPolicy.from_json_value(header["hook"]) if header.get("hook") else None,
        tools=ToolBehaviours.from_json_value(header.get("tools") or {}),
        close_after=header.get("close_after"),
        driver=header.get("driver", "sync"),
        prompt=header.get("prompt", "go"),
        history=from_dict(header.get("history", []), list[Message]),
        user_tools=user_tools,
        user_hook=hook,
    )
