"""Measured proposals for code outside the benchmark owner's files (``machine.py``, ``driver.py``,
``tools.py``): each is applied here as a monkeypatch, and S1/S2/S4 are timed with and without it,
interleaved, against the same hand-written loop. Nothing here is used by the library.

``python bench/experiments.py`` (project venv). The proposals:

* ``edges`` - ``TurnMachine._fire`` takes *external* edges (``request``, ``stream_end``,
  ``tools_done``, ``finish``, the endings) by running the steps ``fastpath.edge_steps``
  compiles for them from the live ``transitions.Machine`` (before, source exit, set state, dest
  enter, after), as it already does for internal edges, instead of ``Event.trigger``.
  ``transitions`` re-resolves every condition and callback by name, re-checks the conditions
  ``_fire`` just checked, builds an ``EventData`` and logs at DEBUG on each trigger. With
  ``fast_path=False`` every edge still goes through ``transitions`` (the property tests compare
  both: they pass with this ``_fire`` patched in).
* ``guards`` - on top of ``edges``: ``_fire`` checks each candidate's conditions with a plain
  loop instead of ``all()`` over a generator (an unguarded edge then costs no generator at all:
  ``tool_output``, ``tools_done``, ``finish``...).
* ``items`` - the text-delta fast path hands its item straight back (no outbox round trip, the
  edge's one callback inlined) and the driver yields it: ``_drive`` is copied here with only
  that change in its inner loop (``if type(action) is StreamAssistantItem: yield action``).
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

from agent_fsm import driver as D
from agent_fsm import machine as M
from agent_fsm import tools as T
from agent_fsm.events import TextDelta
from agent_fsm.fastpath import edge_steps
from agent_fsm.items import StreamAssistantItem
from agent_fsm.table import EDGES

# ------------------------------------------------------------------------------- compiled edges

_ORIGINAL_FIRE = M.TurnMachine._fire
_STEPS = edge_steps(M.TurnMachine, M._FSM)


def _fire(self: Any, trigger: str, verdict: Any, payload: Any, *, must: bool = True) -> bool:
    """``TurnMachine._fire`` as proposed: the same lines, but with the fast path on, every edge -
    external ones too - runs the steps ``fastpath.edge_steps`` compiled for it."""
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
    index, _, dest, _ = edge
    last = self._trace[-1]
    if last[0] == index:
        last[1] += 1
    else:
        self._trace.append([index, 1])
    if dest is not None:
        self._open = False
    if self._fast:
        for step in _STEPS[index]:
            step(self, verdict, payload)
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
    index, _, dest, _ = chosen
    trace = self._trace
    last = trace[-1]
    if last[0] == index:
        last[1] += 1
    else:
        trace.append([index, 1])
    if dest is not None:
        self._open = False
    if self._fast:
        for step in _STEPS[index]:
            step(self, verdict, payload)
    else:
        M._EVENTS[trigger].trigger(self, verdict, payload)
    return True


# ------------------------------------------------------------------------------- items

_TEXT_EDGE = next(e.index for e in EDGES if e.trigger == "text_delta" and e.dest is None)


def _text_item(self: Any, event: Any) -> Any:
    """The text-delta fast path returning its item (``emit_text`` inlined, no outbox)."""
    if not self._open:
        return self._on_text_delta(event)
    last = self._trace[-1]
    if last[0] == _TEXT_EDGE:
        last[1] += 1
    else:
        self._trace.append([_TEXT_EDGE, 1])
    turn = self._turn
    run = turn._text_run
    if run is None:
        turn.add_text(event.text)
    else:
        run.append(event.text)
    return StreamAssistantItem(event)


_ORIGINAL_DRIVE = D.AgentRun._drive


async def _drive(self: Any) -> Any:
    """``AgentRun._drive`` copied from driver.py, with the ``items`` change (marked)."""
    m = self._m
    out = m.outbox
    if m._fast and "on_text_delta" not in m.live:  # proposal: the machine would install this itself
        m._on_event[TextDelta] = _text_item.__get__(m)
    self._log = log = D.get_logger(run_id=self.run_id, agent=self.agent_name)
    self._verbose = verbose = D.enabled(log, D.logging.DEBUG)
    closed_reason = "the run was closed by its consumer"
    try:
        action = m.start()
        while True:
            while out:
                item = out.popleft()
                if type(item) is D.FinalResponse:
                    self._result = item
                yield item
            if verbose:
                self._log_steps()
            if action is D.STOP:
                break
            kind = type(action)
            if kind is D.SendRequest:
                try:
                    stream = await self._open(action.request)
                except Exception as exc:
                    action = m.model_failed(exc)
                    continue
                self._stream = stream
                anext_ = stream.__anext__
                handlers = m.event_handlers
                model_event = m.model_event
                while True:
                    try:
                        event = await anext_()
                    except StopAsyncIteration:
                        action = m.model_end()
                        break
                    except Exception as exc:
                        action = m.model_failed(exc)
                        break
                    handler = handlers.get(type(event))
                    action = handler(event) if handler is not None else model_event(event)
                    if type(action) is StreamAssistantItem:  # proposal: a fast-path delta's item
                        yield action
                        continue
                    while out:
                        yield out.popleft()
                    if action is not D.NEXT_EVENT:
                        while type(action) is D.CallHook:
                            action = await self._call_hook(action)
                            while out:
                                yield out.popleft()
                        if action is not D.NEXT_EVENT:
                            break
                self._stream = None
                await D._aclose(stream)
            elif kind is D.CallHook:
                action = await self._call_hook(action)
            elif kind is D.RunTools:
                self._start_tools(action.calls)
                action = await self._next_tool_output()
            elif action is D.NEXT_TOOL_OUTPUT:
                action = await self._next_tool_output()
            else:
                raise AssertionError(f"unknown action {action!r}")
    except asyncio.CancelledError:
        closed_reason = "the run's task was cancelled"
        raise
    finally:
        await self._cleanup(closed_reason)
    if m.error is not None:
        raise m.error


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
    "items": [(D.AgentRun, "_drive", _drive, _ORIGINAL_DRIVE)],
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
    "guards+tools": ("guards", "tools"),
    "items": ("items",),
    "all": ("guards", "tools", "items"),
}


async def measure(rounds: int = 21) -> dict[str, Any]:
    """Per scenario and variant: us/event and the paired ratio to the hand-written loop."""
    out: dict[str, Any] = {
        "rounds": rounds,
        "variants": {k: list(v) for k, v in VARIANTS.items()},
        "order": list(VARIANTS),
    }
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
