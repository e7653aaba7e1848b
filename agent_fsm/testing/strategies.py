"""Hypothesis strategies for fuzzing turn sequences: model scripts, hook policies, tools, agents.

Each strategy draws values a test can replay: a script is plain data for
:class:`~agent_fsm.testing.ScriptedModel`, a hook policy can make fresh hooks with the same
answers (:meth:`PolicyHook.fresh`), so a run can be repeated to check determinism.

Example::

    from hypothesis import given
    from agent_fsm.testing import ScriptedModel, check_run
    from agent_fsm.testing.strategies import hook_policies, turn_scripts

    @given(script=turn_scripts(tools=["echo"]), hook=hook_policies())
    async def test_my_agent(script, hook):
        ...
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from ..errors import CompletionError
from ..events import Final, ModelEvent, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from ..hooks import HOOK_NAMES, HookAction, StreamingPromptHook, ToolCallHookAction
from ..messages import Reasoning, ToolCall, ToolFunction, Usage

__all__ = ["PolicyHook", "hook_policies", "turn_scripts"]

Script = list[list[ModelEvent | BaseException]]

_WORDS = st.sampled_from(["The", " answer", " is", " 42", ".", " Let", " me", " check", "", " é", "\n"])
_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.text(max_size=6))


def _names(tools: Iterable[Any]) -> list[str]:
    out = []
    for t in tools:
        out.append(t if isinstance(t, str) else getattr(t, "name", None) or t.__name__)
    return out


@st.composite
def _text(draw: st.DrawFn) -> list[ModelEvent]:
    return [TextDelta(w) for w in draw(st.lists(_WORDS, min_size=1, max_size=4))]


@st.composite
def _reasoning(draw: st.DrawFn, turn: int, k: int) -> list[ModelEvent]:
    block_id = draw(st.sampled_from([f"rs_{turn}_{k}", None]))
    pieces = draw(st.lists(st.sampled_from(["think", " step", " then", " act"]), min_size=1, max_size=3))
    events: list[ModelEvent] = []
    if draw(st.booleans()):
        events.extend(ReasoningDelta(p, id=block_id) for p in pieces)
    if not events or draw(st.booleans()):
        signature = draw(st.sampled_from([f"sig_{turn}_{k}", None]))
        events.append(Reasoning(("".join(pieces),), id=block_id, signature=signature))
    return events


@st.composite
def _arguments(draw: st.DrawFn, name: str) -> dict[str, Any]:
    if name == "echo" and draw(st.booleans()):
        return {"text": draw(st.text(max_size=8))}
    keys = st.sampled_from(["text", "a", "b", "x"])
    return draw(st.dictionaries(keys, _JSON_SCALARS, max_size=2))


@st.composite
def _tool_call(draw: st.DrawFn, turn: int, k: int, names: Sequence[str], unknown: bool) -> list[ModelEvent]:
    choices = list(names) + (["no_such_tool"] if unknown or not names else [])
    name = draw(st.sampled_from(choices))
    args = draw(_arguments(name))
    call_id, internal = f"call_{turn}_{k}", f"int_{turn}_{k}"
    events: list[ModelEvent] = []
    if draw(st.booleans()):
        text = json.dumps(args)
        cut = draw(st.integers(0, len(text)))
        events.append(ToolCallDelta(call_id, internal, name=name))
        events.extend(ToolCallDelta(call_id, internal, arguments=piece) for piece in (text[:cut], text[cut:]) if piece)
    events.append(ToolCallReady(ToolCall(call_id, ToolFunction(name, args)), internal))
    return events


@st.composite
def _turn(draw: st.DrawFn, turn: int, names: Sequence[str], unknown: bool, errors: bool) -> list[Any]:
    kinds = draw(st.lists(st.sampled_from(["text", "reasoning", "call", "call"]), max_size=5))
    events: list[Any] = []
    for k, kind in enumerate(kinds):
        if kind == "text":
            events.extend(draw(_text()))
        elif kind == "reasoning":
            events.extend(draw(_reasoning(turn, k)))
        else:
            events.extend(draw(_tool_call(turn, k, names, unknown)))
    if draw(st.integers(0, 9)) > 0:
        n_in, n_out = draw(st.integers(0, 500)), draw(st.integers(0, 200))
        cached = draw(st.integers(0, n_in))
        events.append(Final(Usage(n_in, n_out, n_in + n_out, cached), raw={"turn": turn}))
    if errors and draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(events)))
        events.insert(at, CompletionError(f"model failed in turn {turn}", status=500))
    return events


@st.composite
def turn_scripts(
    draw: st.DrawFn,
    tools: Iterable[Any] = (),
    *,
    max_turns: int = 5,
    unknown_tools: bool = True,
    errors: bool = False,
) -> Script:
    """A script for ``ScriptedModel``: 1 to ``max_turns`` turns, each a provider-like sequence.

    Turns mix text deltas, reasoning (streamed, complete with a signature, or both), tool calls
    (streamed as deltas or not, parallel calls) naming ``tools`` (tools or their names) and,
    with ``unknown_tools``, sometimes a tool that does not exist; most turns end with ``Final``.
    With ``errors``, a model error is sometimes raised mid-turn.
    """
    names = _names(tools)
    n = draw(st.integers(1, max_turns))
    return [draw(_turn(t, names, unknown_tools, errors)) for t in range(n)]


class PolicyHook(StreamingPromptHook):
    """A hook whose answers were drawn: the i-th call of a method answers ``answers[name][i]``.

    Calls past the list continue. ``raises`` names a method and the call index at which it
    raises instead. Only the methods with answers are overridden (the rest are never asked).
    """

    answers: dict[str, tuple[str, ...]]
    raises: tuple[str, int] | None

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def fresh(self) -> PolicyHook:
        """A new hook with the same policy and no calls made."""
        return type(self)()

    def _answer(self, name: str, args: tuple[Any, ...]) -> HookAction | ToolCallHookAction | None:
        i = self.counts.get(name, 0)
        self.counts[name] = i + 1
        self.calls.append((name, args))
        if self.raises == (name, i):
            raise RuntimeError(f"{name} raised on call {i}")
        seq = self.answers.get(name, ())
        kind = seq[i] if i < len(seq) else "continue"
        if kind == "none":
            return None
        if kind == "terminate":
            return HookAction.terminate(f"{name} said stop at call {i}")
        if kind == "skip":
            return ToolCallHookAction.skip(f"skipped by policy at call {i}")
        return HookAction.cont()

    def __repr__(self) -> str:
        return f"PolicyHook(answers={self.answers!r}, raises={self.raises!r}, async={self.is_async})"

    is_async = False


def _method(name: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def amethod(self: PolicyHook, *args: Any) -> Any:
            return self._answer(name, args)

        return amethod

    def method(self: PolicyHook, *args: Any) -> Any:
        return self._answer(name, args)

    return method


@st.composite
def hook_policies(draw: st.DrawFn, *, allow_async: bool = True, allow_raise: bool = True) -> PolicyHook:
    """A ``StreamingPromptHook`` whose answer at each callback is drawn (continue, skip,
    terminate) and which may raise. Hypothesis shrinks it toward "continue everywhere"."""
    chosen = draw(st.lists(st.sampled_from(HOOK_NAMES), unique=True))
    answers: dict[str, tuple[str, ...]] = {}
    for name in chosen:
        kinds = ["continue", "none", "terminate"] + (["skip", "skip"] if name == "on_tool_call" else [])
        answers[name] = tuple(draw(st.lists(st.sampled_from(kinds), max_size=6)))
    raises = None
    if allow_raise and chosen and draw(st.integers(0, 5)) == 0:
        raises = (draw(st.sampled_from(chosen)), draw(st.integers(0, 3)))
    is_async = allow_async and draw(st.booleans())
    methods: dict[str, Any] = {name: _method(name, is_async) for name in chosen}
    cls = type("PolicyHook", (PolicyHook,), {**methods, "answers": answers, "raises": raises, "is_async": is_async})
    hook: PolicyHook = cls()
    return hook
