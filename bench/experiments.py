"""Measured proposals for code outside the benchmark owner's files (``machine.py``, ``driver.py``,
``tools.py``): each is applied here as a monkeypatch, and S1/S2/S4 are timed with and without it,
interleaved, against the same hand-written loop. Nothing here is used by the library.

``python bench/experiments.py`` (project venv). The proposals:

* ``edges`` - ``TurnMachine._fire`` takes *external* edges (``request``, ``stream_end``,
  ``tools_done``, ``finish``, the endings) through callbacks compiled from the live
  ``transitions.Machine`` (before, source exit, set state, dest enter, after), as it already does
  for internal edges, instead of ``Event.trigger``. ``transitions`` re-resolves every condition
  and callback by name, re-checks the conditions ``_fire`` just checked, builds an ``EventData``
  and logs at DEBUG on each trigger. With ``fast_path=False`` the machine would still route every
  edge through ``transitions`` (the property tests compare both).
* ``tools`` - ``ToolSet.call`` skips ``asyncio.timeout`` while the tool's coroutine has not
  suspended: the coroutine is stepped once by hand; only if it suspends is it wrapped in a task
  under the timeout. An ``echo`` that returns at once then costs no timer handle.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine
from timing import interleaved, paired, summary

from agent_fsm import machine as M
from agent_fsm import tools as T
from agent_fsm.table import EDGES, State

# ------------------------------------------------------------------------------- compiled edges


def _compile_external() -> dict[int, tuple[tuple[Any, ...], tuple[Any, ...], State, tuple[Any, ...], tuple[Any, ...]]]:
    fsm = M._FSM
    cls = M.TurnMachine
    machine_wide = (fsm.prepare_event, fsm.before_state_change, fsm.after_state_change, fsm.finalize_event)
    if any(machine_wide) or fsm.on_exception or fsm.on_final:
        raise TypeError("machine-wide callbacks are not compiled")
    found = {}
    for trigger, event in fsm.events.items():
        for source_name, transitions in event.transitions.items():
            for t in transitions:
                if t.dest is None:
                    continue
                conditions = tuple((str(c.func), bool(c.target)) for c in t.conditions)
                source, dest = fsm.get_state(source_name), fsm.get_state(t.dest)
                found[(trigger, State[source_name], State[t.dest], conditions)] = (
                    tuple(getattr(cls, n) for n in t.before),
                    tuple(getattr(cls, n) for n in source.on_exit),
                    State[t.dest],
                    tuple(getattr(cls, n) for n in dest.on_enter),
                    tuple(getattr(cls, n) for n in t.after),
                )
    return {e.index: found[(e.trigger, e.source, e.dest, e.conditions)] for e in EDGES if e.dest is not None}


_EXTERNAL = _compile_external()
_ORIGINAL_FIRE = M.TurnMachine._fire


def _fire(self: Any, trigger: str, verdict: Any, payload: Any, *, must: bool = True) -> bool:
    """``TurnMachine._fire`` with external edges compiled (the proposal; same lines otherwise)."""
    state = self.state
    candidates = M._DISPATCH[trigger].get(state)
    if candidates is None:
        raise self._illegal(trigger, f"{state.value} has no {trigger} edge")
    for edge in candidates:
        if all(bool(cond(self, verdict, payload)) is target for cond, target in edge[1]):
            break
    else:
        if not must:
            return False
        raise self._illegal(trigger, M._refusal(trigger, payload))
    index, _, dest, callbacks = edge
    last = self._trace[-1]
    if last[0] == index:
        last[1] += 1
    else:
        self._trace.append([index, 1])
    if not self._fast:
        if dest is not None:
            self._open = False
        M._EVENTS[trigger].trigger(self, verdict, payload)
    elif dest is None:
        for callback in callbacks:
            callback(self, verdict, payload)
    else:
        self._open = False
        before, exits, new_state, enters, afters = _EXTERNAL[index]
        for cb in before:
            cb(self, verdict, payload)
        for cb in exits:
            cb(self, verdict, payload)
        self.state = new_state
        for cb in enters:
            cb(self, verdict, payload)
        for cb in afters:
            cb(self, verdict, payload)
    return True


# ------------------------------------------------------------------------------- tools

_ORIGINAL_CALL = T.ToolSet.call


async def _call(self: Any, name: str, arguments: Any) -> Any:
    """``ToolSet.call``: an async tool that finishes without suspending runs with no timer."""
    t = self._tools.get(name)
    if t is None or not t.is_async:
        return await _ORIGINAL_CALL(self, name, arguments)
    try:
        args, kwargs = t.signature.bind(arguments)
    except T.ArgumentError:
        return await _ORIGINAL_CALL(self, name, arguments)
    coro = t.fn(*args, **kwargs)
    try:
        coro.send(None)
    except StopIteration as done:
        return T.to_output(done.value)
    except Exception as exc:
        return t._raised(exc)
    # It suspended: the proposal would hand the started coroutine to a task under the timeout.
    # Not needed for ``echo``; a real implementation must not lose the suspended step.
    coro.close()
    raise NotImplementedError("experiment only: the tool suspended")


# ------------------------------------------------------------------------------- harness

PATCHES: dict[str, list[tuple[Any, str, Any, Any]]] = {
    "edges": [(M.TurnMachine, "_fire", _fire, _ORIGINAL_FIRE)],
    "tools": [(T.ToolSet, "call", _call, _ORIGINAL_CALL)],
}


@contextmanager
def patched(names: tuple[str, ...]) -> Iterator[None]:
    for name in names:
        for owner, attr, new, _ in PATCHES[name]:
            setattr(owner, attr, new)
    try:
        yield
    finally:
        for name in names:
            for owner, attr, _, old in PATCHES[name]:
                setattr(owner, attr, old)


def with_patches(sample: Callable[[], Any], names: tuple[str, ...]) -> Callable[[], Any]:
    async def run() -> float:
        with patched(names):
            result: float = await sample()
            return result

    return run


VARIANTS: dict[str, tuple[str, ...]] = {"as is": (), "edges": ("edges",), "edges+tools": ("edges", "tools")}


async def main(rounds: int = 21) -> None:
    for scenario, (script, batch) in engine.SCENARIOS.items():
        samples = {name: with_patches(engine.engine_sample(script, batch), p) for name, p in VARIANTS.items()}
        samples["baseline"] = engine.baseline_sample(script, batch)
        times = await interleaved(samples, rounds)
        per = engine.per_run_events(script) * batch
        for name in VARIANTS:
            us = summary(times[name], per)["median_us"]
            print(f"{scenario} {name:12} {us:7.3f} us/event  {paired(times[name], times['baseline'])['ratio']:.2f}x")
        print(f"{scenario} {'baseline':12} {statistics.median(times['baseline']) / per * 1e6:7.3f} us/event")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 21))
