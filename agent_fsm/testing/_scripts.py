"""Strategies for model scripts, well-formed and not (public through ``testing.strategies``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from hypothesis import strategies as st

from ..errors import CompletionError
from ..events import Final as FinalEvent
from ..events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady, event_problem
from ..messages import Reasoning, ToolCall, ToolFunction, Usage
from ..request import ToolDefinition

__all__ = [
    "MALFORMATIONS",
    "WRONG_TYPED_EVENTS",
    "Script",
    "draw_malformed",
    "draw_script",
    "from_schema",
    "malformed_scripts",
    "tool_specs",
    "turn_scripts",
]

Script = list[list[Any]]
"""One list per model call: model events, and exception instances that the model raises there
(and, in malformed scripts, values that are not events at all)."""

UNKNOWN_TOOL: Final = "no_such_tool"

_WORDS: Final = ("The", " answer", " is", " 42", ".", " Let", " me", " check", "", " é", "\n", "🙂")
_TEXT: Final = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4)
_THOUGHTS: Final = st.lists(st.sampled_from(("think", " step", " then", " act", "")), min_size=1, max_size=3)
_SCALARS: Final = st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.text(max_size=6))
_GARBAGE_ARGS: Final = st.dictionaries(st.sampled_from(("text", "n", "a", "x")), _SCALARS, max_size=2)
_USAGE: Final = st.tuples(st.integers(0, 500), st.integers(0, 200), st.integers(0, 100))
_KINDS_CALLS: Final = st.lists(st.sampled_from(("text", "reasoning", "call", "call")), max_size=5)
_KINDS_TEXT: Final = st.lists(st.sampled_from(("text", "reasoning")), max_size=5)
_ERROR_STATUS: Final = (None, 429, 500)

# Strategies are built once and reused: hypothesis validates each strategy object it meets, and a
# composite built per draw makes generation ~10x slower than the runs it feeds.
_SCHEMA_CACHE: dict[str, st.SearchStrategy[Any]] = {}


def tool_specs(tools: Iterable[Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """Name and argument schema (when known) of each tool: a name, a ``ToolDefinition``, a
    ``@tool``, a function, a ``ToolBehaviours`` or any ``ToolServer``."""
    out: list[tuple[str, dict[str, Any] | None]] = []
    for t in tools:
        if isinstance(t, str):
            out.append((t, None))
        elif isinstance(t, ToolDefinition):
            out.append((t.name, t.parameters))
        elif hasattr(t, "definitions"):
            out.extend(tool_specs(t.definitions()))
        elif isinstance(getattr(t, "definition", None), ToolDefinition):
            out.append((t.definition.name, t.definition.parameters))
        elif hasattr(t, "tool"):
            out.extend(tool_specs([t.tool()]))
        else:
            out.append((getattr(t, "__name__", repr(t)), None))
    return out


def from_schema(schema: Mapping[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that fit a (simple) JSON Schema: enough for the argument schemas tools derive."""
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if "anyOf" in schema:
        return st.one_of([from_schema(s, depth + 1) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        return st.text(max_size=8)
    if kind == "integer":
        return st.integers(schema.get("minimum", -10), schema.get("maximum", 100))
    if kind == "number":
        return st.floats(-100, 100, allow_nan=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array" and depth < 3:
        items = schema.get("items")
        return st.lists(from_schema(items if isinstance(items, Mapping) else {}, depth + 1), max_size=3)
    if kind == "object" and depth < 3:
        props: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, depth + 1) for k, v in props.items() if k not in required},
        )
    return _SCALARS


def _arguments(schema: Mapping[str, Any] | None) -> st.SearchStrategy[Any]:
    """Mostly arguments that fit ``schema``, sometimes not (cached per schema)."""
    if schema is None:
        return _GARBAGE_ARGS
    key = json.dumps(schema, sort_keys=True, default=str)
    strategy = _SCHEMA_CACHE.get(key)
    if strategy is None:
        fits = from_schema(schema)
        strategy = _SCHEMA_CACHE[key] = st.one_of(fits, fits, fits, fits, _GARBAGE_ARGS)
    return strategy


def _pick(draw: st.DrawFn, options: Sequence[Any]) -> Any:
    return options[draw(st.integers(0, len(options) - 1))]


def _reasoning(draw: st.DrawFn, turn: int, k: int) -> list[Any]:
    block_id = f"rs_{turn}_{k}" if draw(st.booleans()) else None
    if draw(st.integers(0, 9)) == 9:
        return [Reasoning((), id=block_id, redacted=f"opaque_{turn}_{k}")]
    pieces = draw(_THOUGHTS)
    events: list[Any] = []
    if draw(st.booleans()):
        events.extend(ReasoningDelta(p, id=block_id) for p in pieces)
    if not events or draw(st.booleans()):
        signature = f"sig_{turn}_{k}" if draw(st.booleans()) else None
        events.append(Reasoning(("".join(pieces),), id=block_id, signature=signature))
    return events


def _call(draw: st.DrawFn, turn: int, k: int, specs: Sequence[tuple[str, Any]]) -> tuple[list[Any], Any]:
    """A tool call: its streamed deltas (maybe none) and its ``ToolCallReady``."""
    name, schema = _pick(draw, specs)
    args = draw(_arguments(schema))
    call_id, internal = f"call_{turn}_{k}", f"int_{turn}_{k}"
    deltas: list[Any] = []
    if draw(st.booleans()):
        text = json.dumps(args)
        cut = draw(st.integers(0, len(text)))
        deltas.append(ToolCallDelta(call_id, internal, name=name))
        deltas.extend(ToolCallDelta(call_id, internal, arguments=piece) for piece in (text[:cut], text[cut:]) if piece)
    extra_id = f"fc_{turn}_{k}" if draw(st.integers(0, 2)) == 2 else None
    signature = f"tsig_{turn}_{k}" if draw(st.integers(0, 2)) == 2 else None
    ready = ToolCallReady(ToolCall(call_id, ToolFunction(name, args), extra_id, signature), internal)
    return deltas, ready


def _turn(draw: st.DrawFn, turn: int, specs: Sequence[tuple[str, Any]], *, calls: bool, errors: bool) -> list[Any]:
    kinds = draw(_KINDS_CALLS if calls else _KINDS_TEXT)
    if calls and "call" not in kinds:
        kinds.append("call")
    events: list[Any] = []
    readies: list[Any] = []
    ready_at_end = draw(st.booleans())  # OpenAI sends complete calls at the end, Anthropic as each closes
    for k, kind in enumerate(kinds):
        if kind == "text":
            events.extend(TextDelta(w) for w in draw(_TEXT))
        elif kind == "reasoning":
            events.extend(_reasoning(draw, turn, k))
        else:
            deltas, ready = _call(draw, turn, k, specs)
            events.extend(deltas)
            (readies if ready_at_end else events).append(ready)
    events.extend(readies)
    if draw(st.integers(0, 9)) < 9:
        n_in, n_out, cached = draw(_USAGE)
        events.append(FinalEvent(Usage(n_in, n_out, n_in + n_out, min(cached, n_in)), raw={"turn": turn}))
    if errors and draw(st.integers(0, 7)) == 7:
        events.insert(draw(st.integers(0, len(events))), _model_error(draw, turn))
    return events


def _model_error(draw: st.DrawFn, turn: int) -> BaseException:
    which = draw(st.integers(0, 4))
    if which == 3:
        return ConnectionResetError(f"connection reset in turn {turn}")
    if which == 4:
        return RuntimeError(f"provider bug in turn {turn}")
    return CompletionError(f"model failed in turn {turn}", status=_ERROR_STATUS[which])


def draw_script(draw: st.DrawFn, tools: Iterable[Any], *, max_turns: int, unknown_tools: bool, errors: bool) -> Script:
    specs = tool_specs(tools)
    if unknown_tools or not specs:
        specs.append((UNKNOWN_TOOL, None))
    n = draw(st.integers(1, max_turns))
    script: Script = []
    for t in range(n):
        calls = t < n - 1 or draw(st.integers(0, 3)) == 3
        script.append(_turn(draw, t, specs, calls=calls, errors=errors))
    return script


@st.composite
def turn_scripts(
    draw: st.DrawFn,
    tools: Iterable[Any] = (),
    *,
    max_turns: int = 5,
    unknown_tools: bool = True,
    errors: bool = False,
) -> Script:
    """A well-formed script for ``ScriptedModel``: 1 to ``max_turns`` provider-like turns.

    Every turn but the last calls tools (some streamed as ``ToolCallDelta`` fragments, parallel
    calls sent as each closes or all at the end), mixed with text deltas and reasoning (streamed,
    complete with a signature, both, or redacted); the last turn ends in text, or calls tools
    again. Arguments fit each tool's schema when it is known (``tools``: names, ``@tool``\\ s,
    ``ToolDefinition``\\ s, ``ToolBehaviours``), and sometimes do not; with ``unknown_tools`` a
    call sometimes names a tool that does not exist. Most turns end with ``Final`` and usage. With
    ``errors``, a model error (``CompletionError`` or a foreign exception) is sometimes raised.

    Example::

        @given(script=turn_scripts(tools=[add]))
        def test_add_agent(script):
            run = Agent(ScriptedModel(script), tools=[add]).stream_prompt("2+3?")
    """
    return draw_script(draw, tools, max_turns=max_turns, unknown_tools=unknown_tools, errors=errors)


MALFORMATIONS: Final[tuple[str, ...]] = (
    "event_after_final",
    "second_final",
    "shuffled",
    "duplicate_call_id",
    "unknown_tool",
    "bad_json_arguments",
    "model_error",
    "empty_turn",
    "not_an_event",
    "delta_after_ready",
    "wrong_typed_event",
)
"""The faults ``malformed_scripts`` injects (each one at least once over a fuzz run)."""

_BAD_JSON: Final = (
    '{"text": "ab', "{", "not json", "", "[1, 2", '{"text": }', "null", '"just a string"',
    '{"text": NaN}', '{"text": ' + "[" * 3000 + "]" * 3000 + "}",
)  # fmt: skip
"""Arguments no tool can take: truncated or invalid JSON, a ``NaN``, nesting deeper than ``json`` reads."""


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


WRONG_TYPED_EVENTS: Final[dict[str, Any]] = {
    "text_none": TextDelta(None),  # type: ignore[arg-type]
    "text_int": TextDelta(123),  # type: ignore[arg-type]
    "reasoning_none": ReasoningDelta(None),  # type: ignore[arg-type]
    "final_none": FinalEvent(None),  # type: ignore[arg-type]
    "ready_none": ToolCallReady(None, "int_bad"),  # type: ignore[arg-type]
    "call_id_none": ToolCallReady(ToolCall(None, ToolFunction(UNKNOWN_TOOL, {})), "int_bad"),  # type: ignore[arg-type]
    "deep_arguments": ToolCallReady(ToolCall("bad_deep", ToolFunction(UNKNOWN_TOOL, _nested(600))), "int_bad"),
    "nan_arguments": ToolCallReady(ToolCall("bad_nan", ToolFunction(UNKNOWN_TOOL, {"x": float("nan")})), "int_bad"),
}
"""Model events of the right class with fields of the wrong type or JSON no provider can take,
by name (a cassette records the name: these cannot round-trip through the codec). A run fed one
must end ``Failed`` with ``IllegalTransition``, its history valid."""
_JUNK: Final = ("a bare string", None, 42, {"type": "textDelta", "text": "dict, not event"})


def _stray_event(draw: st.DrawFn, turn: int) -> Any:
    stray = (
        TextDelta("late"),
        ReasoningDelta("late"),
        ToolCallDelta(f"late_{turn}", f"int_late_{turn}", arguments="{}"),
        ToolCallReady(ToolCall(f"late_{turn}", ToolFunction(UNKNOWN_TOOL, {})), f"int_late_{turn}"),
        FinalEvent(Usage(1, 1, 2)),
        Reasoning(("late",)),
    )
    return _pick(draw, stray)


def _final_index(events: list[Any]) -> int | None:
    return next((i for i, e in enumerate(events) if isinstance(e, FinalEvent) and event_problem(e) is None), None)


def _calls(events: list[Any]) -> list[int]:
    return [i for i, e in enumerate(events) if isinstance(e, ToolCallReady) and event_problem(e) is None]


def _malform(draw: st.DrawFn, events: list[Any], turn: int, fault: str) -> list[Any]:
    events = list(events)
    calls = _calls(events)
    if fault == "event_after_final":
        if _final_index(events) is None:
            events.append(FinalEvent(Usage(1, 1, 2)))
        events.append(_stray_event(draw, turn))
    elif fault == "second_final":
        events.append(FinalEvent(Usage(2, 2, 4)))
    elif fault == "shuffled":
        order = draw(st.lists(st.integers(0, 1 << 16), min_size=len(events), max_size=len(events)))
        events = [e for _, _, e in sorted(zip(order, range(len(events)), events, strict=True), key=lambda t: t[:2])]
    elif fault == "duplicate_call_id":
        if calls:
            original = events[calls[0]]
        else:
            original = ToolCallReady(ToolCall(f"dup_{turn}", ToolFunction(UNKNOWN_TOOL, {})), f"int_dup0_{turn}")
            events.append(original)
        copy = ToolCallReady(ToolCall(original.tool_call.id, ToolFunction(UNKNOWN_TOOL, {})), f"int_dup_{turn}")
        first = calls[0] + 1 if calls else len(events)
        events.insert(draw(st.integers(first, len(events))), copy)
    elif fault == "unknown_tool" and calls:
        i = _pick(draw, calls)
        call = events[i].tool_call
        events[i] = ToolCallReady(
            ToolCall(call.id, ToolFunction(UNKNOWN_TOOL, call.function.arguments)), events[i].internal_call_id
        )
    elif fault == "bad_json_arguments" and calls:
        i = _pick(draw, calls)
        ready, raw = events[i], _pick(draw, _BAD_JSON)
        function = ToolFunction(ready.tool_call.function.name, raw)
        events[i] = ToolCallReady(ToolCall(ready.tool_call.id, function), ready.internal_call_id)
        events.insert(i, ToolCallDelta(ready.tool_call.id, ready.internal_call_id, arguments=raw))
    elif fault == "model_error":
        events.insert(draw(st.integers(0, len(events))), _model_error(draw, turn))
    elif fault == "empty_turn":
        events = []
    elif fault == "not_an_event":
        events.insert(draw(st.integers(0, len(events))), _pick(draw, _JUNK))
    elif fault == "wrong_typed_event":
        events.insert(draw(st.integers(0, len(events))), WRONG_TYPED_EVENTS[_pick(draw, tuple(WRONG_TYPED_EVENTS))])
    elif fault == "delta_after_ready" and calls:
        ready = events[_pick(draw, calls)]
        events.insert(
            events.index(ready) + 1, ToolCallDelta(ready.tool_call.id, ready.internal_call_id, arguments="{}")
        )
    return events


def draw_malformed(draw: st.DrawFn, tools: Iterable[Any], *, max_turns: int) -> Script:
    script = draw_script(draw, tools, max_turns=max_turns, unknown_tools=True, errors=False)
    for _ in range(draw(st.integers(1, 3))):
        fault = _pick(draw, MALFORMATIONS)
        t = draw(st.integers(0, len(script) - 1))
        script[t] = _malform(draw, script[t], t, fault)
    return script


@st.composite
def malformed_scripts(draw: st.DrawFn, tools: Iterable[Any] = (), *, max_turns: int = 5) -> Script:
    """A script with one to three protocol faults injected into a well-formed one.

    Faults (:data:`MALFORMATIONS`): an event after ``Final``, a second ``Final``, a turn's events
    shuffled out of order, two calls with one id, a call to an unknown tool, arguments that are
    invalid or truncated JSON (or ``NaN``, or 3,000 deep), a model error anywhere (before the
    first event, mid-turn, after ``Final``), an empty turn, a value that is not a model event at
    all, a delta after its call completed, an event with fields of the wrong type
    (:data:`WRONG_TYPED_EVENTS`). Whatever the fault, a run must end cleanly: an error result,
    ``IllegalTransition`` or ``CompletionError``, with a history still valid to send back.

    Example::

        @given(script=malformed_scripts(tools=["search"]))
        def test_provider_faults_never_corrupt_history(script):
            record = run_agent(Agent(ScriptedModel(script), tools=[search]), "go")
            record.check()
    """
    return draw_malformed(draw, tools, max_turns=max_turns)
