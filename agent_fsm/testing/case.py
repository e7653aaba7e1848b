"""One fuzz case - a script, a hook policy, tool behaviours, limits - and how to run and check it.

A :class:`FuzzCase` is plain data: it can be drawn (``strategies.fuzz_cases()``), written down as a
cassette (:func:`dump_cassette`), loaded back (:func:`load_cassette`), and run any number of times, on the
async driver (the real :class:`~agent_fsm.Agent`) or the sync one (the machine's step API with no
event loop, ~10x faster). :func:`check_case` runs it, checks every invariant, runs it again for
determinism and, where both drivers can run it, on the other driver too; on failure the error
carries the case as a cassette, ready to paste into a regression test.

A fuzz cassette is a cassette of the one format (:mod:`agent_fsm.providers.cassette`, which reads
it): a header whose ``kind`` is ``agent-fsm/fuzz-case``, keys sorted, as every line::

    {"calls": 2, "close_after": null, "driver": "sync", "format": "agent-fsm/cassette",
     "history": [], "hook": HOOK, "kind": "agent-fsm/fuzz-case", "max_turns": 3, "prompt": "go", "tool_concurrency": 1,
     "tools": TOOLS, "user_hook": null, "user_tools": [], "version": 1}

- ``calls``: how many model-call lines follow; ``history``: messages in the codec's JSON;
- ``HOOK``: ``null``, or ``{"answers": {"on_tool_call": ["skip", "continue"]}, "raises":
  ["on_text_delta", 2] | null, "async": ["on_tool_call"]}`` (see :class:`~.policy.HookPolicy`);
- ``TOOLS``: ``{"behaviours": [{"name": "t0", "kind": "text" | "json" | "raise" | "stall" | "stubborn" |
  "hang", "value": "...", "timeout": 0.002 | null}], "server_fails_at": 3 | null}``;
- ``user_tools`` / ``user_hook``: the names of the caller's own tools and hook, which the
  cassette cannot hold: pass them to :func:`load_cassette`;
- run control (absent from older cassettes, which mean none): ``limits`` (``null`` or the
  ``UsageLimits`` fields), ``on_max_turns`` (``"error"`` | ``"final_answer"``) and ``control``,
  a list of ``[after_items, kind, n]`` steps (see :mod:`~.control`).

then one line per model call, ``{"call": 0, "events": [...]}``, whose entries are events,
``modelError``, ``notAnEvent`` or ``wrongTypedEvent`` (one of :data:`~._scripts.WRONG_TYPED_EVENTS`;
see the format). ``ReplayModel`` plays a fuzz cassette's calls
too, all but ``notAnEvent`` entries.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal

import attrs
from attrs import frozen

from ..agent import Agent
from ..codec import from_dict, to_dict
from ..errors import CassetteError, CompletionError
from ..events import ModelEvent
from ..hooks import live_hooks
from ..machine import TurnMachine
from ..messages import Message, Text, UserMessage
from ..providers.cassette import (
    CASSETTE_VERSION,
    FORMAT,
    NotAnEvent,
    WrongTypedEvent,
    cassette_line,
    parse_cassette,
    read_entry,
)
from ..request import UsageLimits
from ..run.sync_driver import CONSUMER_CLOSED, SyncScript, iter_sync
from ..tools import ToolServer, ToolSet
from ._scripts import WRONG_TYPED_EVENTS
from .behaviours import ToolBehaviours
from .control import ControlStep, apply_controls
from .policy import HookPolicy, PolicyHook
from .record import RunRecord, check_deterministic, played_usage, run_agent
from .scripted import ScriptedModel
from .servers import serve

__all__ = ["FuzzAgent", "FuzzCase", "attach_case", "check_case", "failing_case", "run_case"]

Driver = Literal["sync", "async"]


def _script(value: Sequence[Sequence[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(turn) for turn in value)


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


def _steps(value: Iterable[ControlStep]) -> tuple[ControlStep, ...]:
    return tuple(value)


def _tools(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen(eq=False)
class FuzzCase:
    """Everything that decides a run: same case, same bytes.

    Args:
        script: one sequence per model call (events, exceptions to raise, or junk).
        max_turns, tool_concurrency: the agent's limits.
        hook: the hook policy (``None``: no hook).
        tools: the tool behaviours and how the tool server fails.
        close_after: the consumer closes the run after this many items (0: before iterating).
        driver: ``"sync"`` or ``"async"``.
        prompt, history: what the run is asked, after what.
        user_tools: the caller's own tools instead of ``tools`` (named in a cassette, not saved).
        user_hook: makes the caller's own hook for each run, instead of ``hook``.
        limits, on_max_turns: the agent's run-control settings.
        control: what the consumer does to the run as it iterates (steer, cancel).
    """

    script: tuple[tuple[Any, ...], ...] = attrs.field(converter=_script)
    max_turns: int = 5
    tool_concurrency: int = 1
    hook: HookPolicy | None = None
    tools: ToolBehaviours = attrs.field(factory=ToolBehaviours)
    close_after: int | None = None
    driver: str = attrs.field(default="sync", validator=attrs.validators.in_(("sync", "async")))
    prompt: str = "go"
    history: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    user_tools: tuple[Any, ...] = attrs.field(default=(), converter=_tools)
    user_hook: Callable[[], object] | None = None
    limits: UsageLimits | None = None
    on_max_turns: str = "error"
    control: tuple[ControlStep, ...] = attrs.field(default=(), converter=_steps)

    @property
    def sync_runnable(self) -> bool:
        """Whether the sync driver can run it: nothing hangs, no caller's own tools or hook, no
        cancel from a second task."""
        hangs = self.tools.hangs or (self.hook is not None and self.hook.hangs)
        second_task = any(step.kind == "cancel_task" for step in self.control)
        return not hangs and not second_task and not self.user_tools and self.user_hook is None

    def on(self, driver: Driver) -> FuzzCase:
        """The same case on another driver."""
        return attrs.evolve(self, driver=driver)

    def fresh_script(self) -> list[list[Any]]:
        """The script with fresh exception instances: a run mutates the one it raises (the
        driver sets its ``history``), which must not leak into the next run."""
        return [[copy.copy(e) if isinstance(e, BaseException) else e for e in turn] for turn in self.script]

    def make_hook(self, *, sync: bool = False) -> object | None:
        if self.user_hook is not None:
            return self.user_hook()
        if self.hook is None:
            return None
        policy = attrs.evolve(self.hook, async_methods=frozenset()) if sync else self.hook
        return policy.hook()

    def agent(self) -> FuzzAgent:
        """A fresh agent on a fresh ``ScriptedModel`` playing this case."""
        return FuzzAgent(self)

    def to_cassette(self) -> str:
        """This case as a cassette (:func:`dump_cassette`)."""
        return dump_cassette(self)


class FuzzAgent(Agent):
    """An :class:`~agent_fsm.Agent` drawn by ``strategies.agents()``: it knows its case, so
    :meth:`fresh` builds an identical one (same script, a new model, a new hook) to re-run."""

    model: ScriptedModel

    def __init__(self, case: FuzzCase) -> None:
        self.case = case
        tools: Any = serve(case.tools)
        if len(case.user_tools) == 1 and isinstance(case.user_tools[0], ToolServer):
            tools = case.user_tools[0]
        elif case.user_tools:
            tools = ToolSet(case.user_tools)
        super().__init__(
            ScriptedModel(case.fresh_script()),
            tools=tools,
            max_turns=case.max_turns,
            hook=case.make_hook(),
            tool_concurrency=case.tool_concurrency,
            limits=case.limits,
            on_max_turns=case.on_max_turns,  # type: ignore[arg-type]
        )

    def fresh(self) -> FuzzAgent:
        """An identical agent that has run nothing."""
        return FuzzAgent(self.case)

    def __repr__(self) -> str:
        return f"FuzzAgent(<cassette>\n{self.case.to_cassette()})"


def run_case(case: FuzzCase, *, runner: asyncio.Runner | None = None, fast_path: bool = True) -> RunRecord:
    """Run ``case`` once on its driver and record it.

    Args:
        runner: an event loop to reuse for async cases (default: a new one per run).
        fast_path: sync driver only: take the machine's compiled fast path, or route every edge
            through ``transitions`` (the two must agree).
    """
    if case.driver == "async":
        agent = case.agent()
        return run_agent(
            agent, case.prompt, case.history, close_after=case.close_after, runner=runner, control=case.control
        )
    return _run_sync(case, fast_path=fast_path)


def sync_machine(case: FuzzCase, hook: object | None, server: ToolServer, *, fast_path: bool = True) -> TurnMachine:
    """The machine that runs ``case`` on the sync driver, with ``hook`` and the tools of ``server``."""
    return TurnMachine(
        case.prompt,
        case.history,
        max_turns=case.max_turns,
        live_hooks=live_hooks(hook).keys(),
        tool_concurrency=case.tool_concurrency,
        tools=server.definitions(),
        fast_path=fast_path,
        limits=case.limits,
        on_max_turns=case.on_max_turns,
    )


def _run_sync(case: FuzzCase, *, fast_path: bool) -> RunRecord:
    if not case.sync_runnable:
        raise ValueError("this case hangs or uses the caller's own tools or hook: run it on the async driver")
    hook = case.make_hook(sync=True)
    server = serve(case.tools)
    model = SyncScript(case.fresh_script())
    m = sync_machine(case, hook, server, fast_path=fast_path)
    items: list[Any] = []
    steered: list[UserMessage] = []
    outcome: BaseException | None = None
    ended_by: str | None = None
    cancelled = False
    if case.close_after == 0:
        m.close(CONSUMER_CLOSED)
        ended_by = "close"
    else:
        cancelled = apply_controls(case.control, 0, m, steered=steered)
        gen = iter_sync(m, model, hook=hook, run_tool=lambda c: server.call_sync(c.function.name, c.function.arguments))
        try:
            for item in gen:
                items.append(item)
                cancelled |= apply_controls(case.control, len(items), m, steered=steered)
                if case.close_after is not None and len(items) >= case.close_after:
                    gen.close()
                    ended_by = "close"
                    break
        except Exception as exc:
            outcome = exc  # the machine's own error, unless the driver broke
    if outcome is None:
        outcome = m.error
    undelivered = len(m.outbox)  # emitted in the step the consumer closed on, never yielded
    m.close(CONSUMER_CLOSED)  # a no-op once ended: ``after_end`` sees whether it emitted anything
    return RunRecord.of(
        m,
        items,
        outcome,
        initial=len(case.history),
        model_calls=model.calls,
        played_usage=played_usage(model.played),
        ended_by_consumer=ended_by,
        after_end=len(m.outbox) - undelivered,
        hook_calls=tuple(hook.calls) if isinstance(hook, PolicyHook) else None,
        start=(*case.history, UserMessage((Text(case.prompt),))),
        steered=tuple(steered),
        pending_steering=m.pending_steering,
        cancelled_by_consumer=cancelled,
    )


def check_case(
    case: FuzzCase,
    *,
    runner: asyncio.Runner | None = None,
    determinism: bool = True,
    other_driver: bool = True,
    extra_check: Callable[[RunRecord], None] | None = None,
) -> RunRecord:
    """Run ``case``, check every invariant, re-run it for determinism and on the other driver.

    Args:
        runner: an event loop to reuse for async runs.
        determinism: run the case twice and compare canonical JSON bytes.
        other_driver: when both drivers can run the case, run it on the other one too and
            compare (the sync driver must give what the async one gives).
        extra_check: the caller's own check of the first record.

    Returns:
        The first run's record.

    Raises:
        AssertionError: naming the broken invariant, with the case attached as a cassette
            (an exception note, which pytest and hypothesis print with the failure).
    """
    try:
        first = run_case(case, runner=runner)
        first.check()
        if extra_check is not None:
            extra_check(first)
        if determinism:
            check_deterministic(first, run_case(case, runner=runner))
        if other_driver and case.sync_runnable:
            other = case.on("async" if case.driver == "sync" else "sync")
            check_deterministic(first, run_case(other, runner=runner), what="the sync and async drivers")
    except Exception as exc:
        attach_case(exc, case)
        raise
    return first


_CASE = "agent_fsm_case"


def attach_case(exc: BaseException, case: FuzzCase) -> None:
    """Attach the failing case to ``exc``: as a cassette note, which pytest and hypothesis print
    with the failure, and as itself, which :func:`failing_case` finds for reports."""
    exc.add_note(cassette_note(case))
    setattr(exc, _CASE, case)


def failing_case(exc: BaseException) -> FuzzCase | None:
    """The case :func:`attach_case` attached to ``exc``, if any."""
    case = getattr(exc, _CASE, None)
    return case if isinstance(case, FuzzCase) else None


def cassette_note(case: FuzzCase) -> str:
    """How a failing case is reported: its cassette, and how to turn it into a regression test."""
    body = case.to_cassette()
    return (
        "The failing case as a cassette; paste it into a regression test:\n\n"
        "    from agent_fsm.testing import check_case, load_cassette\n\n"
        "    def test_fuzz_bug_NAME() -> None:\n"
        '        check_case(load_cassette(r"""\n' + body + '"""))\n'
    )


CASSETTE_KIND: Final = "agent-fsm/fuzz-case"
_WRONG_TYPED_NAMES: Final = {id(e): name for name, e in WRONG_TYPED_EVENTS.items()}
_EVENT_TYPES: Final = frozenset({"textDelta", "reasoningDelta", "reasoning", "toolCallDelta", "toolCallReady", "final"})


def dump_cassette(case: FuzzCase) -> str:
    """The case as a cassette: a header line, then one line per model call (see the module doc)."""
    header = {
        "format": FORMAT,
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
        "limits": to_dict(case.limits) if case.limits is not None else None,
        "on_max_turns": case.on_max_turns,
        "control": [step.to_json_value() for step in case.control],
    }
    calls = ({"call": i, "events": [_entry(e) for e in turn]} for i, turn in enumerate(case.script))
    return "\n".join(cassette_line(line, sort_keys=True) for line in (header, *calls)) + "\n"


def _entry(entry: Any) -> Any:
    wrong = _WRONG_TYPED_NAMES.get(id(entry))
    if wrong is not None:
        return {"type": "wrongTypedEvent", "name": wrong}
    if isinstance(entry, BaseException):
        message = entry.message if isinstance(entry, CompletionError) else str(entry)
        out: dict[str, Any] = {"type": "modelError", "error": type(entry).__name__, "message": message}
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


def _name(obj: Any) -> str:
    definition = getattr(obj, "definition", None)
    return str(getattr(definition, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)


def load_cassette(
    text: str,
    *,
    tools: Iterable[Any] = (),
    hook: Callable[[], object] | None = None,
) -> FuzzCase:
    """Read a cassette back into a runnable :class:`FuzzCase`.

    Indentation and blank lines are ignored, so a cassette pasted into a test as a raw
    triple-quoted string loads as it is.

    Args:
        tools: the caller's own tools, when the cassette names ``user_tools``.
        hook: makes the caller's own hook, when the cassette names a ``user_hook``.

    Raises:
        CassetteError: for a cassette that is not valid, of another kind, or of an unknown version
            (a :class:`~agent_fsm.codec.CodecError`).
    """
    header, calls = parse_cassette(text)
    if header.get("kind") != CASSETTE_KIND:
        raise CassetteError(f"not a fuzz cassette: its header's kind is not {CASSETTE_KIND!r}")
    if header.get("calls", len(calls)) != len(calls):
        raise CassetteError(f"the header announces {header.get('calls')} model calls, {len(calls)} follow")
    user_tools = tuple(tools)
    if header.get("user_tools") and not user_tools:
        raise CassetteError(f"the cassette uses the caller's tools {header['user_tools']}: pass them as tools=")
    if header.get("user_hook") and hook is None:
        raise CassetteError(f"the cassette uses the caller's hook {header['user_hook']!r}: pass a factory as hook=")
    script = [[_played(read_entry(e)) for e in call.get("events", ())] for call in calls]
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
        limits=_limits(header.get("limits")),
        on_max_turns=header.get("on_max_turns", "error"),
        control=tuple(_control(step) for step in header.get("control", ())),
    )


def _limits(value: Any) -> UsageLimits | None:
    if value is None:
        return None
    try:
        return UsageLimits(**value)
    except (TypeError, ValueError) as exc:
        raise CassetteError(f"the header's limits are not UsageLimits: {exc}") from None


def _control(value: Any) -> ControlStep:
    try:
        return ControlStep.from_json_value(value)
    except (TypeError, ValueError) as exc:
        raise CassetteError(f"the header's control has a bad step: {exc}") from None


def _played(entry: ModelEvent | BaseException | NotAnEvent | WrongTypedEvent) -> Any:
    """What the scripted model does with an entry: yield it, raise it, or yield the junk value."""
    if isinstance(entry, WrongTypedEvent):
        if entry.name not in WRONG_TYPED_EVENTS:
            known = sorted(WRONG_TYPED_EVENTS)
            raise CassetteError(f"unknown wrong-typed event {entry.name!r}; expected one of {known}")
        return WRONG_TYPED_EVENTS[entry.name]
    return entry.value if isinstance(entry, NotAnEvent) else entry
