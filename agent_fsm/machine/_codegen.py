"""Writing :mod:`agent_fsm.machine._fire`, the machine's edges as straight-line code, from the table.

``python -m agent_fsm.machine._codegen`` (``make codegen``) writes the module; ``--check`` says
whether the committed one is what the table gives (``tests/test_codegen.py`` runs it, so a table
changed without regenerating fails the tests).

Why generate code: choosing an edge by walking a list of candidates and calling each condition and
step through a tuple of functions costs a few microseconds per transition in Python, and in the
compiled core (mypyc) every such call goes through the generic call protocol. Written out per
trigger - one ``if`` per candidate edge, in table order, each condition and step a direct method
call - the same choice is plain code, which mypyc compiles to direct calls. Nothing is decided
here that the table does not say: the candidates and their order come from ``EDGES`` (read back
from the live ``transitions.Machine``), the steps from :func:`~.fastpath.edge_step_names`, and the
verdict conditions from ``VERDICT_CONDITIONS``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .fastpath import edge_step_names
from .table import EDGES, GUARD_WORDS, STATES, VERDICT_CONDITIONS, Edge, State

__all__ = ["TARGET", "render"]

TARGET = Path(__file__).with_name("_fire.py")
"""Where the generated module lives."""

_HEADER = '''"""The machine's edges as straight-line code: one method per trigger. GENERATED - do not edit.

Written from the table by ``python -m agent_fsm.machine._codegen`` (``make codegen``; see that
module for why); ``tests/test_codegen.py`` fails when this file is not what the table gives.

:class:`Edges` is the base of :class:`~agent_fsm.machine.TurnMachine`. Its ``fire_<trigger>(verdict,
payload, must)`` takes the first edge of the trigger from the machine's state whose conditions
hold, in table order (as ``transitions`` tries them): it counts the edge in the machine's path,
then runs what ``transitions`` runs for it, as direct calls - or, with ``fast_path=False``, has
``transitions`` take it (``_reference``). It returns whether an edge was taken. When no edge's
conditions hold it raises ``IllegalTransition`` if ``must``, else returns False; a state with no
edge of the trigger at all always raises. The guards and callbacks the table names are declared
here and written by the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mypy_extensions import mypyc_attr

from ..errors import IllegalTransition
from ..hooks import Verdict
from ._path import Path
from .table import State

__all__ = ["FIRE", "Edges"]

'''

_PREAMBLE = '''

@mypyc_attr(allow_interpreted_subclasses=True)
class Edges:
    """Taking the table's edges; the machine supplies the state, the path and every named step."""

    state: State
    _path: Path
    _open: bool
    _fast: bool

    def _reference(self, trigger: str, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def _refused(self, trigger: str, payload: Any) -> IllegalTransition:
        raise NotImplementedError

    def _illegal(self, event: str, detail: str) -> IllegalTransition:
        raise NotImplementedError
'''


def _condition(name: str, target: bool) -> str:
    kind = VERDICT_CONDITIONS.get(name)
    if kind is not None:
        return f'verdict.kind {"==" if target else "!="} "{kind}"'
    call = f"self.{name}(verdict, payload)"
    return call if target else f"not {call}"


def _edge_comment(edge: Edge) -> str:
    dest = edge.dest.name if edge.dest is not None else "(stays)"
    return f"# edge {edge.index}: {edge.trigger}, {edge.source.name} -> {dest}"


def _take(edge: Edge, steps: tuple[str | State, ...], indent: str) -> list[str]:
    i = edge.index
    lines = [
        f"{indent}{_edge_comment(edge)}",
        f"{indent}path = self._path",
        f"{indent}if path.edge == {i}:",
        f"{indent}    path.count += 1",
        f"{indent}else:",
        f"{indent}    path.take({i})",
    ]
    if edge.dest is not None:
        lines.append(f"{indent}self._open = False")
    body = [
        f"self.state = _{step.name}" if isinstance(step, State) else f"self.{step}(verdict, payload)" for step in steps
    ]
    if body:
        lines.append(f"{indent}if self._fast:")
        lines += [f"{indent}    {b}" for b in body]
        lines.append(f"{indent}else:")
        lines.append(f'{indent}    self._reference("{edge.trigger}", verdict, payload)')
    else:  # an edge that runs nothing: the reference mode has transitions take it all the same
        lines.append(f"{indent}if not self._fast:")
        lines.append(f'{indent}    self._reference("{edge.trigger}", verdict, payload)')
    lines.append(f"{indent}return True")
    return lines


def _method(trigger: str, steps: dict[int, tuple[str | State, ...]]) -> list[str]:
    lines = [
        "",
        f"    def fire_{trigger}(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:",
        "        state = self.state",
    ]
    sources: list[State] = []
    for e in EDGES:
        if e.trigger == trigger and e.source not in sources:
            sources.append(e.source)
    for source in sources:
        lines.append(f"        if state is _{source.name}:")
        unconditional = False
        kinds: set[str] = set()  # verdict kinds an edge is taken for whatever else holds
        for e in (e for e in EDGES if e.trigger == trigger and e.source is source):
            if not e.conditions:
                lines += _take(e, steps[e.index], "            ")
                unconditional = True
                break
            lines.append(f"            if {' and '.join(_condition(n, t) for n, t in e.conditions)}:")
            lines += _take(e, steps[e.index], "                ")
            if len(e.conditions) == 1 and e.conditions[0][1] and e.conditions[0][0] in VERDICT_CONDITIONS:
                kinds.add(VERDICT_CONDITIONS[e.conditions[0][0]])
        if not unconditional:
            # every kind of verdict taken: only a verdict of no kind (which its type rules out) is refused
            every_kind = kinds == set(VERDICT_CONDITIONS.values())
            lines += [
                "            if must:" + ("  # type: ignore[unreachable]" if every_kind else ""),
                f'                raise self._refused("{trigger}", payload)',
                "            return False",
            ]
    lines.append(f'        raise self._illegal("{trigger}", f"{{state.value}} has no {trigger} edge")')
    return lines


def render() -> str:
    """The source of :mod:`agent_fsm.machine._fire` for the table as it is."""
    steps = edge_step_names()
    conditions = sorted({n for e in EDGES for n, _ in e.conditions} - set(VERDICT_CONDITIONS))
    for name in conditions:
        if name not in GUARD_WORDS:  # every condition has words; a typo in the table shows here
            raise ValueError(f"condition {name!r} of the table has no entry in GUARD_WORDS")
    callbacks = sorted({step for e in EDGES for step in steps[e.index] if not isinstance(step, State)})
    triggers = list(dict.fromkeys(e.trigger for e in EDGES))
    lines = [_HEADER.rstrip("\n")]
    lines += [f"_{s['name'].name}: Final = State.{s['name'].name}" for s in STATES]
    lines.append(_PREAMBLE.rstrip("\n"))
    for what, names, returns in (("guards", conditions, "bool"), ("callbacks", callbacks, "None")):
        lines += ["", f"    # the table's {what}"]
        for name in names:
            signature = f"    def {name}(self, verdict: Verdict, payload: Any) -> {returns}:"
            lines += ["", signature, "        raise NotImplementedError"]
    lines += ["", "    # the triggers"]
    for trigger in triggers:
        lines += _method(trigger, steps)
    lines += ["", "", "FIRE: Final[dict[str, Callable[[Edges, Verdict, Any, bool], bool]]] = {"]
    lines += [f'    "{t}": Edges.fire_{t},' for t in triggers]
    lines += ["}", '"""Each trigger\'s method, for a trigger known only at run time (a hook\'s answer)."""', ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_fsm.machine._codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed module is stale")
    args = parser.parse_args(argv)
    source = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != source:
            print(f"{TARGET} is stale: run `make codegen`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(source)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
