"""Hooks whose answers are data: what ``hook_policies()`` draws and a fuzz cassette records.

A :class:`HookPolicy` says, for each hook method, what its 1st, 2nd, ... call answers, which call
raises, and which methods are ``async``. It is plain data, so a failing case can be written down
and replayed; :meth:`HookPolicy.hook` makes a fresh :class:`PolicyHook` from it for every run, so a
run can be repeated exactly (a hook's call counters are state).

Answer kinds: ``continue``; ``none`` (returns ``None``, which also means continue); ``terminate``;
``skip`` and ``defer`` (``on_tool_call`` only); ``invalid`` (returns something that is not a verdict, which the
run must treat as a failing hook); ``hang`` (``async`` methods only: the hook never returns, and
the consumer of the run cancels it - see :data:`STALLED`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
from attrs import frozen

from ..hooks import HOOK_NAMES, HookAction, StreamingPromptHook, ToolCallHookAction

if TYPE_CHECKING:
    import asyncio

__all__ = ["ANSWER_KINDS", "STALLED", "HookPolicy", "PolicyHook", "hang"]

AnswerKind = Literal["continue", "none", "terminate", "skip", "defer", "invalid", "hang"]
ANSWER_KINDS: Final[tuple[str, ...]] = ("continue", "none", "terminate", "skip", "defer", "invalid", "hang")

STALLED: Final[ContextVar[asyncio.Event | None]] = ContextVar("agent_fsm_testing_stalled", default=None)
"""Set by the kit's async runner: a hook or tool that hangs sets this event and waits forever;
the runner then cancels its consumer, as a user pressing Ctrl-C would. Outside such a runner a
hang raises instead, so nothing can block a test forever."""


async def hang(what: str) -> None:
    """Wait forever, after telling the runner (through :data:`STALLED`) that we are stuck.

    Raises:
        RuntimeError: when no kit runner is watching, instead of blocking forever.
    """
    import asyncio

    stalled = STALLED.get()
    if stalled is None:
        raise RuntimeError(f"{what} hangs, and no agent_fsm.testing runner is there to cancel it")
    stalled.set()
    await asyncio.sleep(3600)
    raise RuntimeError(f"{what} hung for an hour and nobody cancelled it")


def _answers(value: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {name: tuple(kinds) for name, kinds in value.items()}


def _raises(value: Any) -> tuple[str, int] | None:
    return None if value is None else (str(value[0]), int(value[1]))


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@frozen
class HookPolicy:
    """What each hook method answers, call by call; methods not named are never overridden.

    Args:
        answers: per method name, the answer kind of its 1st, 2nd, ... call; calls past the end
            continue.
        raises: ``(method, call index)``: that call raises ``RuntimeError`` instead of answering.
        async_methods: the methods that are ``async def``.
    """

    answers: dict[str, tuple[str, ...]] = attrs.field(converter=_answers, factory=dict)
    raises: tuple[str, int] | None = attrs.field(default=None, converter=_raises)
    async_methods: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def __attrs_post_init__(self) -> None:
        for name, kinds in self.answers.items():
            if name not in HOOK_NAMES:
                raise ValueError(f"not a hook method: {name!r}")
            for kind in kinds:
                if kind not in ANSWER_KINDS:
                    raise ValueError(f"{name}: unknown answer kind {kind!r}")
                if kind in ("skip", "defer") and name != "on_tool_call":
                    raise ValueError(f"{name} cannot answer {kind} (only on_tool_call can)")
                if kind == "hang" and name not in self.async_methods:
                    raise ValueError(f"{name} answers hang but is not async")
        if self.raises is not None and self.raises[0] not in self.answers:
            raise ValueError(f"raises names {self.raises[0]!r}, which has no answers")
        if not self.async_methods <= set(self.answers):
            raise ValueError("async_methods must name methods that have answers")

    @property
    def hangs(self) -> bool:
        """Whether some answer hangs (only the async runner can end such a run)."""
        return any("hang" in kinds for kinds in self.answers.values())

    def hook(self) -> PolicyHook:
        """A fresh hook playing this policy, with no calls made."""
        return _hook_class(tuple(sorted(self.answers)), self.async_methods)(self)

    def to_json_value(self) -> dict[str, Any]:
        """The policy as plain JSON data (for cassettes)."""
        return {
            "answers": {name: list(kinds) for name, kinds in sorted(self.answers.items())},
            "raises": list(self.raises) if self.raises is not None else None,
            "async": sorted(self.async_methods),
        }

    @classmethod
    def from_json_value(cls, data: Mapping[str, Any]) -> HookPolicy:
        raises = data.get("raises")
        return cls(data.get("answers", {}), tuple(raises) if raises is not None else None, data.get("async", ()))


class PolicyHook(StreamingPromptHook):
    """A hook that plays a :class:`HookPolicy`; ``calls`` records every call in order."""

    def __init__(self, policy: HookPolicy) -> None:
        self.policy = policy
        self.counts: dict[str, int] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @property
    def answers(self) -> dict[str, tuple[str, ...]]:
        return self.policy.answers

    @property
    def raises(self) -> tuple[str, int] | None:
        return self.policy.raises

    @property
    def is_async(self) -> bool:
        """Whether any of its methods is ``async``."""
        return bool(self.policy.async_methods)

    def fresh(self) -> PolicyHook:
        """A new hook with the same policy and no calls made."""
        return self.policy.hook()

    def _next(self, name: str, args: tuple[Any, ...]) -> str:
        i = self.counts.get(name, 0)
        self.counts[name] = i + 1
        self.calls.append((name, args))
        if self.policy.raises == (name, i):
            raise RuntimeError(f"{name} raised on call {i}")
        seq = self.policy.answers.get(name, ())
        return seq[i] if i < len(seq) else "continue"

    def _verdict(self, name: str, kind: str) -> Any:
        i = self.counts[name] - 1
        if kind == "none":
            return None
        if kind == "terminate":
            return HookAction.terminate(f"{name} said stop at call {i}")
        if kind == "skip":
            return ToolCallHookAction.skip(f"skipped by policy at call {i}")
        if kind == "defer":
            return ToolCallHookAction.defer(f"deferred by policy at call {i}")
        if kind == "invalid":
            return f"not a verdict (call {i})"
        return HookAction.cont()

    def __repr__(self) -> str:
        return f"PolicyHook({self.policy!r})"


def _method(name: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def amethod(self: PolicyHook, *args: Any) -> Any:
            kind = self._next(name, args)
            if kind == "hang":
                await hang(f"hook {name}")
            return self._verdict(name, kind)

        amethod.__name__ = name
        return amethod

    def method(self: PolicyHook, *args: Any) -> Any:
        return self._verdict(name, self._next(name, args))

    method.__name__ = name
    return method


_CLASSES: dict[tuple[tuple[str, ...], frozenset[str]], type[PolicyHook]] = {}


def _hook_class(names: tuple[str, ...], async_methods: frozenset[str]) -> type[PolicyHook]:
    """The subclass overriding exactly ``names`` (a hook method not overridden is never asked).

    Cached: a fuzz run makes thousands of hooks from a few dozen shapes.
    """
    key = (names, async_methods)
    cls = _CLASSES.get(key)
    if cls is None:
        methods = {name: _method(name, name in async_methods) for name in names}
        cls = _CLASSES[key] = type("PolicyHook", (PolicyHook,), methods)
    return cls
