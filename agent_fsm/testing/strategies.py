"""Hypothesis strategies for fuzzing turn sequences: model scripts, hook policies, tools, agents.

Everything drawn is plain data that replays: a script is a list for
:class:`~agent_fsm.testing.ScriptedModel`; a hook is made from a :class:`HookPolicy`
(``hook.fresh()`` makes another with the same answers); tools are :class:`ToolBehaviours`; an agent
knows its :class:`~agent_fsm.testing.FuzzCase` (``agent.fresh()`` rebuilds it). So any run can be
repeated to check determinism, and a failing one is printed as a cassette. Hypothesis shrinks each
toward the plain case: short scripts, hooks that continue, tools that return.

Example - fuzz your own hook against drawn agents::

    from hypothesis import given
    from agent_fsm.testing import run_agent
    from agent_fsm.testing.strategies import agents

    @given(agent=agents(tools=[search]))
    def test_budget_hook_keeps_runs_valid(agent):
        run_agent(agent, "Plan a trip", hook=BudgetHook(limit=2)).check()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs
from hypothesis import strategies as st

from ..events import ToolCallReady
from ..hooks import HOOK_NAMES
from ..messages import AssistantMessage, Text, ToolCall, ToolFunction, ToolResult, UserMessage
from ..request import UsageLimits
from ._scripts import (
    MALFORMATIONS,
    WRONG_TYPED_EVENTS,
    Script,
    draw_malformed,
    draw_script,
    malformed_scripts,
    turn_scripts,
)
from .behaviours import ToolBehaviour, ToolBehaviours
from .case import FuzzAgent, FuzzCase
from .control import ControlStep
from .policy import HookPolicy, PolicyHook

__all__ = [
    "MALFORMATIONS",
    "SNAPSHOT_TAMPERINGS",
    "WRONG_TYPED_EVENTS",
    "tampered_snapshots",
    "HookPolicy",
    "PolicyHook",
    "Script",
    "ToolBehaviours",
    "agents",
    "fuzz_cases",
    "hook_policies",
    "malformed_scripts",
    "tool_behaviours",
    "turn_scripts",
]


_VALUES: Final = ("ok", "", "42", "Ünïcode", "line\nbreak")
_STALL_TIMEOUTS: Final = (0.001, 0.002, 0.005)


def draw_policy(
    draw: st.DrawFn,
    *,
    allow_async: bool,
    allow_raise: bool,
    allow_invalid: bool,
    hangs: bool,
    swarm: bool = False,
) -> HookPolicy:
    """A drawn :class:`HookPolicy`.

    With ``swarm``, each method first switches each of its unusual answers (terminate, skip,
    defer, not a verdict) on or off as a whole (swarm testing): the answers left on are then
    frequent, and a terminate of one method no longer cuts every run short before the others.
    """
    mask = draw(st.integers(0, (1 << len(HOOK_NAMES)) - 1))  # shrinks toward no hook methods
    chosen = [name for i, name in enumerate(HOOK_NAMES) if mask >> i & 1]
    async_mask = draw(st.integers(0, (1 << len(chosen)) - 1)) if allow_async and chosen else 0
    async_methods = frozenset(name for i, name in enumerate(chosen) if async_mask >> i & 1)
    answers: dict[str, tuple[str, ...]] = {}
    for name in chosen:
        kinds = ["continue", "none", "terminate"]
        if name == "on_tool_call":
            kinds += ["skip", "skip", "defer"]
        if allow_invalid:
            kinds.append("invalid")
        if hangs and name in async_methods:
            kinds.append("hang")
        if swarm:
            kinds = [k for k in kinds if k == "continue" or draw(st.booleans())]
        n = draw(st.integers(0, 5))
        answers[name] = tuple(kinds[draw(st.integers(0, len(kinds) - 1))] for _ in range(n))
    raises = None
    if allow_raise and chosen and draw(st.integers(0, 5)) == 5:
        raises = (chosen[draw(st.integers(0, len(chosen) - 1))], draw(st.integers(0, 3)))
    return HookPolicy(answers, raises, async_methods)


@st.composite
def hook_policies(
    draw: st.DrawFn,
    *,
    allow_async: bool = True,
    allow_raise: bool = True,
    allow_invalid: bool = True,
    hangs: bool = False,
) -> PolicyHook:
    """A ``StreamingPromptHook`` whose answer at each call of each method is drawn.

    Some methods are overridden (the rest are never asked); each answers continue, ``None``,
    terminate, skip or defer (``on_tool_call``), or - with ``allow_invalid`` - something that is not a
    verdict. With ``allow_raise`` one call may raise; with ``allow_async`` methods may be
    ``async def``; with ``hangs`` an async method may never return (only
    :func:`~agent_fsm.testing.run_agent` can end such a run: it cancels its consumer).
    ``hook.policy`` is the drawn :class:`HookPolicy`; ``hook.fresh()`` a new hook playing it.

    Example::

        @given(hook=hook_policies())
        def test_any_hook(hook):
            record = run_agent(Agent(ScriptedModel(script), tools=[add]), "go", hook=hook)
            record.check()
            check_deterministic(record, run_agent(..., hook=hook.fresh()))
    """
    policy = draw_policy(
        draw, allow_async=allow_async, allow_raise=allow_raise, allow_invalid=allow_invalid, hangs=hangs
    )
    return policy.hook()


def draw_behaviours(
    draw: st.DrawFn,
    *,
    names: Sequence[str],
    min_size: int,
    hangs: bool,
    server_errors: bool,
    server_fails: bool = False,
    mcp: bool = True,
) -> ToolBehaviours:
    """Drawn tool behaviours; with ``server_fails`` the server always fails at a drawn call; with
    ``mcp`` a quarter are served by a fake MCP server."""
    kinds = ["text", "text", "json", "raise", "stall", "stubborn"] + (["hang"] if hangs else [])
    behaviours = []
    for i, name in enumerate(names):
        if i >= min_size and not draw(st.booleans()):
            continue
        kind = kinds[draw(st.integers(0, len(kinds) - 1))]
        value = _VALUES[draw(st.integers(0, len(_VALUES) - 1))]
        timeout = _STALL_TIMEOUTS[draw(st.integers(0, 2))] if kind in ("stall", "stubborn") else None
        behaviours.append(ToolBehaviour(name, kind, value, timeout))
    fails_at = draw(st.integers(1, 4)) if server_fails or (server_errors and draw(st.integers(0, 7)) == 7) else None
    served_by = "mcp" if mcp and draw(st.integers(0, 3)) == 3 else "toolset"
    return ToolBehaviours(behaviours, fails_at, served_by)


@st.composite
def tool_behaviours(
    draw: st.DrawFn,
    *,
    names: Iterable[str] = ("lookup", "convert", "book"),
    min_size: int = 1,
    hangs: bool = False,
    server_errors: bool = True,
    mcp: bool = True,
) -> ToolBehaviours:
    """Tools that return text or JSON, raise, or stall past their timeout, as data.

    Each of ``names`` becomes a tool (the first ``min_size`` always, the rest maybe). Stalling
    tools get timeouts of 1-5 ms, so fuzzing stays fast. With ``hangs`` a tool may wait until the
    run's consumer cancels it; with ``server_errors`` the tool server itself may fail at its n-th
    call (``ToolServerError``: the run fails). With ``mcp``, a quarter of the draws serve the tools
    through a fake MCP server (:class:`~agent_fsm.testing.servers.FakeMCPServer`: an error is an
    ``isError`` result, a stall is cancelled on the server, the server failing is the server dying).

    Example::

        @given(behaviours=tool_behaviours(), script=turn_scripts(["lookup", "convert"]))
        def test_tools(behaviours, script):
            agent = Agent(ScriptedModel(script), tools=serve(behaviours))
    """
    return draw_behaviours(
        draw, names=list(names), min_size=min_size, hangs=hangs, server_errors=server_errors, mcp=mcp
    )


_TOOL_NAMES: Final = ("lookup", "convert", "book")
_CONTROL_FOCUS: Final = ("cancel", "steer", "budget")
_FOCUS: Final = (
    "plain",
    "server",
    "verdict skip",
    "verdict defer",
    *(f"stop {name}" for name in HOOK_NAMES),
    "control",
)
"""The swarm features of :func:`fuzz_cases`; a case has one (shrinking toward ``plain``). Run
control is one focus that draws one of :data:`_CONTROL_FOCUS`: the sync phase re-runs each such
case with its control moved to every item, so it needs few cases, and the rarer hook edges keep
their share."""
_PRIOR: Final = (
    UserMessage((Text("earlier question"),)),
    AssistantMessage((ToolCall("old_1", ToolFunction("lookup", {"text": "x"})),)),
    UserMessage((ToolResult("old_1", (Text("x"),)),)),
    AssistantMessage((Text("earlier answer"),)),
)


@st.composite
def fuzz_cases(
    draw: st.DrawFn,
    *,
    driver: str | None = None,
    tools: Iterable[Any] = (),
    malformed: bool = True,
    hooks: bool = True,
) -> FuzzCase:
    """A whole :class:`~agent_fsm.testing.FuzzCase`: script, hook policy, tools, limits, closing.

    Swarm testing: each case has one focus, drawn first, and switches whole features on or off
    instead of holding a bit of everything (where a terminate of one hook cuts most runs short
    before the rarer answers are asked):

    - ``plain``: a drawn script (one in four malformed), most often a hook whose methods each
      switch their unusual answers (terminate, skip, defer, not a verdict) on or off;
    - ``verdict skip`` / ``verdict defer``: the model calls tools before its last turn and
      ``on_tool_call`` answers skip or defer at its first, second or third call;
    - ``stop <method>`` (one focus per hook method): a hook with only that method, which
      terminates (or raises) at its first, second or third call; for the tool hooks the model
      calls tools before its last turn;
    - ``server``: the model calls tools and the tool server fails at one of its calls;
    - run control: ``cancel`` (the consumer cancels the run after the turn, or now - before
      iterating or after one of its first items, on the async driver often from a second task,
      which interrupts whatever the driver waits for, hanging hooks and tools included);
      ``steer`` (one to three steering messages, and text turns for them to go on with);
      ``budget`` (one small ``UsageLimits`` field, or ``on_max_turns="final_answer"``, or both).

    That reaches every edge of the table within a few hundred examples (the README's fuzz
    section has the figures).

    Args:
        driver: ``"sync"``, ``"async"``, or ``None`` to draw it. Only async cases hang.
        tools: the caller's own tools; by default tool behaviours are drawn.
        malformed: draw malformed scripts too (about one case in four).
        hooks: draw a hook policy (most cases) or never.

    Example::

        @given(case=fuzz_cases())
        def test_every_case(case):
            check_case(case)
    """
    chosen = driver if driver is not None else ("sync", "async")[draw(st.integers(0, 1))]
    is_async = chosen == "async"
    user_tools = tuple(tools)
    focus = _FOCUS[draw(st.integers(0, len(_FOCUS) - 1))]
    if focus == "control":
        focus = _CONTROL_FOCUS[draw(st.integers(0, len(_CONTROL_FOCUS) - 1))]
    calls_tools = focus in (
        "server",
        "verdict skip",
        "verdict defer",
        "stop on_tool_call",
        "stop on_tool_result",
        "cancel",
        "budget",
    )
    if user_tools:
        behaviours, offered = ToolBehaviours(), list(user_tools)
    else:
        behaviours = draw_behaviours(
            draw, names=_TOOL_NAMES, min_size=1, hangs=is_async, server_errors=True, server_fails=focus == "server"
        )
        offered = [behaviours]
    if malformed and not calls_tools and draw(st.integers(0, 3)) == 3:
        script = draw_malformed(draw, offered, max_turns=5)
    else:
        min_turns = 2 if calls_tools else 1
        script = draw_script(draw, offered, max_turns=5, unknown_tools=True, errors=True, min_turns=min_turns)
    max_turns = draw(st.integers(1, 5))
    if focus == "steer":  # a turn or two, then text turns for the steering to go on with, within budget
        script = draw_script(draw, offered, max_turns=2, unknown_tools=False, errors=False)
        script += draw_script(draw, offered, max_turns=2, unknown_tools=False, errors=False, min_turns=2)
        max_turns = len(script) - draw(st.integers(0, 1))
    if focus in _CONTROL_FOCUS:  # a second call in the first turn: a cancel can come between results
        script = [_with_second_call(script[0]), *script[1:]]
    hook = None
    if hooks and focus.startswith("verdict "):
        hook = HookPolicy({"on_tool_call": _first_calls(draw, focus.removeprefix("verdict "))})
    elif hooks and focus.startswith("stop "):
        name = focus.removeprefix("stop ")
        answers = {name: _first_calls(draw, "terminate")}
        raises = (name, len(answers[name]) - 1) if draw(st.integers(0, 2)) == 2 else None
        hook = HookPolicy(answers, raises)
    elif hooks and focus == "plain" and draw(st.integers(0, 3)) > 0:
        hook = draw_policy(draw, allow_async=is_async, allow_raise=True, allow_invalid=True, hangs=is_async, swarm=True)
    close_after = None
    if focus not in _CONTROL_FOCUS and not calls_tools and draw(st.integers(0, 2)) == 2:
        close_after = draw(st.integers(0, 12))
    limits, on_max_turns, control = _draw_control(draw, focus, is_async)
    return FuzzCase(
        script,
        max_turns=max_turns,
        tool_concurrency=draw(st.integers(1, 3)),
        hook=hook,
        tools=behaviours,
        close_after=close_after,
        driver=chosen,
        history=_PRIOR if draw(st.integers(0, 3)) == 3 else (),
        user_tools=user_tools,
        limits=limits,
        on_max_turns=on_max_turns,
        control=control,
    )


def _with_second_call(turn: Sequence[Any]) -> list[Any]:
    out = list(turn)
    calls = [i for i, e in enumerate(out) if isinstance(e, ToolCallReady)]
    if len(calls) == 1:
        ready = out[calls[0]]
        call = ready.tool_call
        twin = attrs.evolve(call, id=f"{call.id}-twin", call_id=None)
        out.insert(calls[0] + 1, ToolCallReady(twin, f"{ready.internal_call_id}-twin"))
    return out


def _draw_control(
    draw: st.DrawFn, focus: str, is_async: bool
) -> tuple[UsageLimits | None, str, tuple[ControlStep, ...]]:
    """The run-control part of a case: limits, ``on_max_turns`` and the consumer's steps."""
    if focus == "cancel":
        kind = ("cancel", "cancel_after_turn", "cancel_task" if is_async else "cancel")[draw(st.integers(0, 2))]
        return None, "error", (ControlStep(draw(st.integers(0, 12)), kind),)
    if focus == "steer":
        afters = draw(st.lists(st.integers(1, 16), min_size=1, max_size=3))
        return None, "error", tuple(ControlStep(after, "steer", n) for n, after in enumerate(sorted(afters)))
    if focus == "budget":
        limits = None
        if draw(st.integers(0, 2)) > 0:
            field = draw(st.sampled_from(("input_tokens", "output_tokens", "total_tokens", "tool_calls")))
            if field == "tool_calls":
                maximum = draw(st.integers(0, 3))
            else:  # 0 is reached before the first call; the scripts' turns use up to 700 tokens
                maximum = 0 if draw(st.integers(0, 3)) == 0 else draw(st.integers(1, 700))
            limits = UsageLimits(**{field: maximum})
        on_max_turns = "final_answer" if limits is None or draw(st.booleans()) else "error"
        return limits, on_max_turns, ()
    return None, "error", ()


def _first_calls(draw: st.DrawFn, answer: str) -> tuple[str, ...]:
    """``answer`` at a hook method's first, second or third call; continue before it."""
    return ("continue",) * draw(st.integers(0, 2)) + (answer,)


@st.composite
def agents(
    draw: st.DrawFn,
    tools: Iterable[Any] = (),
    *,
    malformed: bool = True,
    hooks: bool = True,
) -> FuzzAgent:
    """A ready :class:`~agent_fsm.Agent` on a ``ScriptedModel``: ``max_turns`` 1-5, a tool
    concurrency of 1-3, a drawn script (well-formed or not), a drawn default hook, and ``tools``
    (or drawn tool behaviours). ``agent.fresh()`` builds an identical agent; ``agent.case`` is its
    :class:`~agent_fsm.testing.FuzzCase`. A ``hook`` given to ``stream_prompt`` replaces the drawn
    one - that is how you fuzz your own hook.

    Example::

        @given(agent=agents(tools=[search]))
        def test_my_hook(agent):
            record = run_agent(agent, "Plan a trip", hook=MyHook())
            record.check()
            check_deterministic(record, run_agent(agent.fresh(), "Plan a trip", hook=MyHook()))
    """
    case = draw(fuzz_cases(driver="async", tools=tools, malformed=malformed, hooks=hooks))
    return case.agent()


def _drop_results(d: dict[str, Any]) -> None:
    if d["tools"] is None:  # the results message goes: its calls become orphans
        d["history"] = [*d["history"][:-1], {"role": "user", "content": [{"type": "text", "text": "again"}]}]
    else:
        d["tools"]["results"] = []
        d["tools"]["calls"] = d["tools"]["calls"][:-1]


def _orphan_result(d: dict[str, Any]) -> None:
    orphan = {"type": "toolresult", "id": "orphan", "content": [{"type": "text", "text": "x"}]}
    target = d["history"][-1] if d["tools"] is None else d["history"][0]
    target["content"].append(orphan)


def _deep(d: dict[str, Any]) -> None:
    d["history"][0]["content"] = [{"type": "toolresult", "id": "x", "content": [[[[]]]] * 2}]


SNAPSHOT_TAMPERINGS: Final[dict[str, Any]] = {
    "orphan_call": _drop_results,
    "orphan_result": _orphan_result,
    "negative_turns": lambda d: d.update(turns=-3),
    "turns_over_budget": lambda d: d.update(turns=d["max_turns"] + 4),
    "negative_usage": lambda d: d["usage"].update(input_tokens=-5),
    "negative_items": lambda d: d.update(items_emitted=-1),
    "bool_turns": lambda d: d.update(turns=True),
    "unknown_state": lambda d: d.update(state="Streaming"),
    "stage_in_wrong_state": lambda d: (
        d.update(tools={"calls": [], "results": [], "decisions": []})
        if d["tools"] is None
        else d.update(state="AwaitingCompletion")
    ),
    "stage_ids": lambda d: d["tools"] and d["tools"]["calls"][0]["toolCall"].update(id="other"),
    "extra_decision": lambda d: d["tools"] and d["tools"]["decisions"].extend([{"kind": "defer", "reason": ""}] * 3),
    "v1_without_calls": lambda d: d["tools"] and (d.update(version=1), d["tools"].pop("calls")),
    "nan_arguments": lambda d: d["history"].insert(
        0,
        {
            "role": "assistant",
            "content": [{"type": "toolcall", "id": "n", "function": {"name": "f", "arguments": {"x": float("nan")}}}],
        },
    ),
    "malformed_history": _deep,
    "non_utf8": None,  # the text itself: bytes that are not UTF-8
    "deep_json": None,  # the text itself: nesting deeper than ``json`` reads
}
"""Ways to tamper with a snapshot, each of which ``Snapshot.from_json`` must refuse with
``SnapshotError`` (never resume, never a raw exception). Stage tamperings apply to a snapshot of
the tool stage; on another they leave it as it is (the strategy skips them there)."""

_STAGE_ONLY: Final = frozenset({"stage_ids", "extra_decision", "v1_without_calls"})


@st.composite
def tampered_snapshots(draw: st.DrawFn, snapshot_json: str) -> tuple[str, str | bytes]:
    """One of :data:`SNAPSHOT_TAMPERINGS` applied to a real snapshot's JSON: ``(name, text)``."""
    import json

    data = json.loads(snapshot_json)
    names = sorted(n for n in SNAPSHOT_TAMPERINGS if data["tools"] is not None or n not in _STAGE_ONLY)
    name = draw(st.sampled_from(names))
    if name == "non_utf8":
        return name, snapshot_json.encode()[:-1] + b'\xff"}'
    if name == "deep_json":
        return name, snapshot_json[:-1] + ',"x":' + "[" * 100_000 + "]" * 100_000 + "}"
    SNAPSHOT_TAMPERINGS[name](data)
    return name, json.dumps(data)
