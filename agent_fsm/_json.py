"""Whether a value from outside can travel as standard JSON (re-exported by :mod:`agent_fsm.messages`).

A module of its own, with no imports from the package, so that the compiled core (mypyc) can
compile it: every tool call's arguments pass here, twice.
"""

from __future__ import annotations

from math import isfinite
from typing import Any, Final

__all__ = ["MAX_JSON_DEPTH", "json_problem"]

MAX_JSON_DEPTH: Final = 512
"""The deepest nesting of containers a JSON value from outside may have. ``json`` itself gives
up near 1,000 (the interpreter's recursion limit); half of that leaves room for the frames of
whoever is writing it, so a history that was accepted can always be written."""


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``value`` cannot travel as standard JSON - nested deeper than ``max_depth``, or a
    ``NaN`` / ``Infinity``, which ``json`` would write as bare words no parser accepts - else
    ``None``. Walks without recursion, so any depth can be judged."""
    # Every tool call's arguments pass here (twice: the machine and the ToolSet), so the common
    # leaves are told apart by their exact type first, without isinstance over a union.
    if type(value) is dict and max_depth > 0:  # the usual arguments: one object of plain values
        for v in value.values():
            kind = type(v)
            if kind is not str and kind is not int and kind is not bool and v is not None:
                break
        else:
            return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        kind = type(v)
        if kind is str or kind is int or kind is bool or v is None:
            continue
        if isinstance(v, float):
            if not isfinite(v):
                return f"{v!r} is not a JSON number"
        elif isinstance(v, _CONTAINERS):
            if depth >= max_depth:
                return f"nested deeper than {max_depth} levels"
            depth += 1
            stack.extend([(c, depth) for c in (v.values() if isinstance(v, dict) else v)])
    return None


_CONTAINERS: Final = (dict, list, tuple)
