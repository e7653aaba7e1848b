"""Compiling the machine's edges into plain function calls.

Both compilers read :data:`~agent_fsm.table.EDGES` (the edges of a live ``transitions.Machine``)
and resolve condition and callback names on the machine class, once, at import:

* :func:`compile_dispatch` gives, per trigger and source state, the candidate edges in the order
  ``transitions`` tries them. The machine picks the edge from it for every trigger, so its trace
  names the exact edge taken.
* :func:`compile_fast` gives one function per delta event for when its guarding hook is not live:
  the verdict is then always "continue", so the edge can be chosen here, once, among those whose
  guards read nothing but the verdict. Each delta then only checks that a stream is open, counts
  the edge in the trace, and runs the edge's callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

from .hooks import HookAction
from .protocol import NEXT_EVENT
from .table import EDGES, VERDICT_CONDITIONS, Edge, State

__all__ = ["Compiled", "compile_dispatch", "compile_fast"]

Fn: TypeAlias = Callable[..., Any]
Compiled: TypeAlias = tuple[int, tuple[tuple[Fn, bool], ...], "State | None", tuple[Fn, ...]]
_CONTINUE: Final = HookAction.cont()


def compile_dispatch(cls: type) -> dict[str, dict[State, tuple[Compiled, ...]]]:
    """Per trigger and source state: ``(edge index, conditions, dest, callbacks)`` candidates."""
    out: dict[str, dict[State, list[Compiled]]] = {}
    for e in EDGES:
        conditions = tuple((getattr(cls, name), target) for name, target in e.conditions)
        callbacks = tuple(getattr(cls, name) for name in e.callbacks)
        out.setdefault(e.trigger, {}).setdefault(e.source, []).append((e.index, conditions, e.dest, callbacks))
    return {trigger: {state: tuple(c) for state, c in by_state.items()} for trigger, by_state in out.items()}


def compile_fast(cls: type, events: Mapping[type, tuple[str, str]]) -> dict[type, tuple[str, Fn]]:
    """For each event type whose ``Streaming`` edge qualifies: ``(trigger, fast function)``.

    ``events`` maps an event type to its trigger and the name of the generic handler the fast
    function falls back to when no stream is open (the generic one raises the right error).
    """
    fast: dict[type, tuple[str, Fn]] = {}
    for event_type, (trigger, generic_name) in events.items():
        chosen = None
        for e in (e for e in EDGES if e.trigger == trigger and e.source is State.Streaming):
            if any(name not in VERDICT_CONDITIONS for name, _ in e.conditions):
                break
            if all(bool(getattr(cls, name)(None, _CONTINUE, None)) is target for name, target in e.conditions):
                chosen = e
                break
        if chosen is not None and chosen.internal:
            fast[event_type] = (trigger, _make_fast(cls, chosen, getattr(cls, generic_name)))
    return fast


def _make_fast(cls: type, edge: Edge, generic: Fn) -> Fn:
    index = edge.index
    callbacks = tuple(getattr(cls, name) for name in edge.callbacks)
    if len(callbacks) != 1:
        raise TypeError(f"fast-path edge {edge.label} must have exactly one callback")
    (callback,) = callbacks

    def fast(self: Any, event: Any) -> Any:
        if not self._open:
            return generic(self, event)
        last = self._trace[-1]
        if last[0] == index:
            last[1] += 1
        else:
            self._trace.append([index, 1])
        callback(self, _CONTINUE, event)
        return NEXT_EVENT

    fast.__qualname__ = fast.__name__ = f"fast_{edge.trigger}"
    return fast
