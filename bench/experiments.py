"""Measured proposals for code outside the benchmark owner's files (``machine.py``, ``driver.py``,
``tools.py``): each is applied here as a monkeypatch, and S1/S2/S4 are timed with and without it,
interleaved, against the same hand-written loop. Nothing here is used by the library.

``python bench/experiments.py`` (project venv). The proposals:

* ``edges`` - ``TurnMachine._fire`` takes *external* edges (``request``, ``stream_end``,
  ``tools_done``, ``finish``, the endings) by running the steps ``fastpath.compile_dispatch``
  compiled for them from the live ``transitions.Machine`` (before, source exit, set state, dest
  enter, after), as it already does for internal edges, instead of ``Event.trigger``.
  ``transitions`` re-resolves every condition and callback by name, re-checks the conditions
  ``_fire`` just checked, builds an ``EventData`` and logs at DEBUG on each trigger. With
  ``fast_path=False`` every edge still goes through ``transitions`` (the property tests compare
  both: they pass with this ``_fire`` patched in).
* ``guards`` - on top of ``edges``: ``_fire`` checks each candidate's conditions with a plain
  loop instead of ``all()`` over a generator (an unguarded edge then costs no generator at all:
  ``tool_output``, ``tools_done``, ``finish``...).
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

# ------------------------------------------------------------------------------- compiled edges

_ORIGINAL_FIRE = M.TurnMachine._fire


def _fire(self: Any, trigger: str, verdict: Any, payload: Any, *, must: bool = True) -> bool:
    """``TurnMachine._fire`` as proposed: the same lines, but with the fast path on, every edge -
    external ones too - runs the steps ``compile_dispatch`` compiled for it (``fastpath.edge_steps``)."""
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
    if dest is not None:
        self._open = False
    if self._fast:
        for callback in callbacks:
            callback(self, verdict, payload)
    else:
        M._EVENTS[trigger].trigger(self, verdict, payload)
    return True


def _fire_guards(self: Any, trigger: str, verdict: Any, payload: Any, *, must: bool = True) -> bool:
    """``_fire`` of ``edges``, with the guard loop unrolled (the ``guards`` proposal)."""
    state = self.state
    candidates = M._DISPATCH[trigger].get(state)
    if candidates is None:
        raise self._illegal(trigger, f"{state.value} has no {trigger} edge")
    chosen = None
    for edge in candidates:
        for cond, target in edge[1]:
            if bool(cond(self, verdict, payload)) is not target:
                break
        else:
            chosen = edge
            break
    if chosen is None:
        if not must:
            return False
        raise self._illegal(trigger, M._refusal(trigger, payload))
    index, _, dest, callbacks = chosen
    trace = self._trace
    last = trace[-1]
    if last[0] == index:
        last[1] += 1
    else:
        trace.append([index, 1])
    if dest is not None:
        self._open = False
    if self._fast:
        for callback in callbacks:
            callback(self, verdict, payload)
    else:
        M._EVENTS[trigger].trigger(self, verdict, payload)
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
    "guards": [(M.TurnMachine, "_fire", _fire_guards, _ORIGINAL_FIRE)],
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


VARIANTS: dict[str, tuple[str, ...]] = {
    "as is": (),
    "edges": ("edges",),
    "edges+tools": ("edges", "tools"),
    "guards+tools": ("guards", "tools"),
}


async def measure(rounds: int = 21) -> dict[str, Any]:
    """Per scenario and variant: us/event and the paired ratio to the hand-written loop."""
    out: dict[str, Any] = {"rounds": rounds, "variants": {k: list(v) for k, v in VARIANTS.items()}}
    for scenario, (script, batch) in engine.SCENARIOS.items():
        samples = {name: with_patches(engine.engine_sample(script, batch), p) for name, p in VARIANTS.items()}
        samples["baseline"] = engine.baseline_sample(script, batch)
        times = await interleaved(samples, rounds)
        per = engine.per_run_events(script) * batch
        out[scenario] = {
            name: {"us_per_event": summary(times[name], per)["median_us"], **paired(times[name], times["baseline"])}
            for name in VARIANTS
        }
        out[scenario]["baseline_us_per_event"] = statistics.median(times["baseline"]) / per * 1e6
    return out


def main(rounds: int) -> None:
    result = asyncio.run(measure(rounds))
    for scenario in engine.SCENARIOS:
        for name in VARIANTS:
            r = result[scenario][name]
            print(f"{scenario} {name:12} {r['us_per_event']:7.3f} us/event  {r['ratio']:.2f}x")
        print(f"{scenario} {'baseline':12} {result[scenario]['baseline_us_per_event']:7.3f} us/event")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
