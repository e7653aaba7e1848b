"""Compiling the machine's edges into plain function calls.

Everything here reads the live ``transitions.Machine`` built from the table (its events, their
transitions, its states' ``on_enter`` / ``on_exit``) and resolves names on the machine class, once,
at import:

* :func:`edge_step_names` gives, per edge, everything ``transitions`` runs when it takes the
  edge: for an internal edge its ``before`` and ``after`` callbacks; for an external one
  ``before``, the source's ``on_exit``, the state change, the destination's ``on_enter``,
  ``after`` - the order of ``Transition.execute``. :mod:`agent_fsm.machine._codegen` writes them
  out, per trigger, as the straight-line code of :mod:`agent_fsm.machine._fire`: taking an edge is
  then a few direct calls, where ``Event.trigger`` re-resolves every name and re-checks every
  condition on each call (about 8 us a transition on these machines, more than a whole
  hand-written turn of a tool loop).
* :func:`compile_fast` gives one function per delta event for when its guarding hook is not
  live: the verdict is then always "continue", so the edge is chosen here, once, among those
  whose guards read nothing but the verdict. Each delta then only checks that a stream is open
  and the event well-formed, counts the edge in the trace, runs the edge's callback and hands
  back the one item it emitted. For the hottest edge (a text delta) the machine class writes
  that function itself, all inline (``written_fast``); this module tells it its edge.

``TurnMachine(fast_path=False)`` takes every edge through ``transitions`` instead; property tests
hold the two to identical items, history, states and traces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from ..events import problem_check
from ..hooks import CONTINUE
from .table import EDGES, VERDICT_CONDITIONS, Edge, State, build_machine

__all__ = ["Step", "compile_fast", "edge_step_names", "fast_edge"]

Fn: TypeAlias = Callable[..., Any]


Step: TypeAlias = "str | State"
"""One thing taking an edge does: a callback, by name, or (a ``State``) the change to that state."""


def edge_step_names(machine: Any = None) -> dict[int, tuple[Step, ...]]:
    """Per edge index, what ``transitions`` does when it takes the edge, in its order.

    ``machine`` is the live ``transitions.Machine`` to read the edges' and states' callbacks from
    (default: one built from the table). An internal edge runs its ``before`` then ``after``
    callbacks. An external one runs ``before``, the source state's ``on_exit``, the change of
    state, the destination's ``on_enter``, then ``after`` (``Transition.execute`` and
    ``_change_state``). Conditions are left out: whoever takes the edge has chosen it by them.

    Raises:
        TypeError: if the machine has machine-wide callbacks (``prepare_event``,
            ``before_state_change``, ``on_exception``...), which are not compiled.
    """
    if machine is None:
        machine = build_machine()
    machine_wide = ("prepare_event", "before_state_change", "after_state_change", "finalize_event", "on_final")
    if any(getattr(machine, name, None) for name in (*machine_wide, "on_exception")):
        raise TypeError("edge_step_names: machine-wide callbacks are not compiled")
    by_key: dict[tuple[str, State, State | None, tuple[tuple[str, bool], ...]], tuple[Step, ...]] = {}
    for trigger, event in machine.events.items():
        for source_name, transitions in event.transitions.items():
            source = State[source_name]
            for t in transitions:
                dest = State[str(t.dest)] if t.dest is not None else None
                conditions = tuple((str(c.func), bool(c.target)) for c in t.conditions)
                steps: list[Step] = [str(name) for name in t.before]
                if dest is not None:
                    steps += [str(name) for name in machine.get_state(source_name).on_exit]
                    steps.append(dest)
                    steps += [str(name) for name in machine.get_state(dest.name).on_enter]
                steps += [str(name) for name in t.after]
                by_key[(trigger, source, dest, conditions)] = tuple(steps)
    return {e.index: by_key[(e.trigger, e.source, e.dest, e.conditions)] for e in EDGES}


def compile_fast(cls: type, events: Mapping[type, tuple[str, str]]) -> dict[type, tuple[str, Fn]]:
    """For each event type whose ``Streaming`` edge qualifies: ``(trigger, fast function)``.

    ``events`` maps an event type to its trigger and the name of the generic handler the fast
    function falls back to when no stream is open or the event is malformed (the generic one
    raises the right error).
    """
    fast: dict[type, tuple[str, Fn]] = {}
    for event_type, (trigger, generic_name) in events.items():
        chosen = fast_edge(trigger)
        if chosen is not None:
            fast[event_type] = (trigger, _make_fast(cls, chosen, getattr(cls, generic_name), problem_check(event_type)))
    return fast


def fast_edge(trigger: str) -> Edge | None:
    """The internal ``Streaming`` edge a delta of ``trigger`` takes when its guarding hook is not
    asked (the verdict is then always "continue"), chosen as ``transitions`` would, among edges
    whose guards read nothing but the verdict; ``None`` if that is not decided by the verdict alone."""
    for e in (e for e in EDGES if e.trigger == trigger and e.source is State.Streaming):
        if any(name not in VERDICT_CONDITIONS for name, _ in e.conditions):
            return None
        if all((VERDICT_CONDITIONS[name] == CONTINUE.kind) is target for name, target in e.conditions):
            return e if e.internal else None
    return None


def _make_fast(cls: type, edge: Edge, generic: Fn, problem: Callable[[Any], str | None]) -> Fn:
    index = edge.index
    callbacks = tuple(getattr(cls, name) for name in edge.callbacks)
    if len(callbacks) != 1:
        raise TypeError(f"fast-path edge {edge.label} must have exactly one callback")
    (callback,) = callbacks
    # The class may write an edge's whole fast function itself (``written_fast``: callback name ->
    # method), for the hottest edge: every check, the count and the callback's work inline in one
    # call (it reads its edge from :func:`fast_edge`); the property tests hold it to what
    # ``transitions`` does, like the rest.
    written = getattr(cls, "written_fast", {}).get(callback.__name__)
    if written is not None:
        fn: Fn = getattr(cls, written)
        return fn

    def fast(self: Any, event: Any) -> Any:
        if not self._open or problem(event) is not None:
            return generic(self, event)  # it raises the right error
        path = self._path
        if path.edge == index:
            path.count += 1
        else:
            path.take(index)
        callback(self, CONTINUE, event)
        return self.outbox.pop()  # the one item the edge emitted, handed over directly

    fast.__qualname__ = fast.__name__ = f"fast_{edge.trigger}"
    return fast
