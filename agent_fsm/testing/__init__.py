"""The testing kit: a scripted model, invariant checks, runners, fuzz cases, hypothesis strategies.

It ships with the package because users test their own hooks, tools and models with it, the way
``trio.testing`` ships with trio:

- :class:`ScriptedModel` - the first-class test double for a model;
- :func:`check_history_invariants`, :func:`check_run`, :func:`check_ending`, :func:`check_trace`
  - DESIGN §4's invariants, each failure naming the invariant;
- :func:`run_agent` / :func:`arun_agent` - consume a run and return a :class:`RunRecord`
  (``record.check()``), :func:`check_deterministic` - same inputs, same bytes;
- :class:`FuzzCase`, :func:`run_case`, :func:`check_case`, :func:`load_cassette` /
  :func:`dump_cassette` - replayable fuzz cases, printed as cassettes when they fail;
- :mod:`agent_fsm.testing.strategies` - hypothesis strategies (needs ``hypothesis``);
- :class:`EdgeCoverage` - which edges of the machine's table runs took;
- :class:`FakeMCPServer` - tool behaviours served as an MCP server serves them, with no server;
- a pytest plugin (fixtures ``scripted_model``, ``fuzz_agent``; option ``--agent-fsm-examples``).

Names are loaded lazily: importing the sync driver pulls in neither asyncio nor hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import strategies
    from .behaviours import ToolBehaviour, ToolBehaviours
    from .case import FuzzAgent, FuzzCase, check_case, run_case
    from .cassette import dump_cassette, load_cassette
    from .coverage import EdgeCoverage
    from .fake_mcp import FakeMCPServer
    from .invariants import check_ending, check_history_invariants, check_run, check_trace
    from .policy import HookPolicy, PolicyHook
    from .record import RunRecord, arun_agent, check_deterministic, run_agent
    from .scripted import ScriptedModel

_EXPORTS: dict[str, str] = {
    "ScriptedModel": "scripted",
    "check_history_invariants": "invariants",
    "check_run": "invariants",
    "check_ending": "invariants",
    "check_trace": "invariants",
    "RunRecord": "record",
    "run_agent": "record",
    "arun_agent": "record",
    "check_deterministic": "record",
    "FuzzCase": "case",
    "FuzzAgent": "case",
    "run_case": "case",
    "check_case": "case",
    "load_cassette": "cassette",
    "dump_cassette": "cassette",
    "HookPolicy": "policy",
    "PolicyHook": "policy",
    "ToolBehaviour": "behaviours",
    "ToolBehaviours": "behaviours",
    "EdgeCoverage": "coverage",
    "FakeMCPServer": "fake_mcp",
}

__all__ = [
    "EdgeCoverage",
    "FakeMCPServer",
    "FuzzAgent",
    "FuzzCase",
    "HookPolicy",
    "PolicyHook",
    "RunRecord",
    "ScriptedModel",
    "ToolBehaviour",
    "ToolBehaviours",
    "arun_agent",
    "check_case",
    "check_deterministic",
    "check_ending",
    "check_history_invariants",
    "check_run",
    "check_trace",
    "dump_cassette",
    "load_cassette",
    "run_agent",
    "run_case",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name == "strategies":
        return importlib.import_module(f"{__name__}.strategies")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
