"""The testing kit: a scripted model, invariant checks, runners, fuzz cases, hypothesis strategies.

It ships with the package because users test their own hooks, tools and models with it, the way
``trio.testing`` ships with trio:

- :class:`ScriptedModel` - the first-class test double for a model; :class:`StatelessScriptedModel`
  plays the same script but knows which call it is from the request (for runs that change process);
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

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from . import strategies as strategies
    from .behaviours import ToolBehaviour as ToolBehaviour
    from .behaviours import ToolBehaviours as ToolBehaviours
    from .case import FuzzAgent as FuzzAgent
    from .case import FuzzCase as FuzzCase
    from .case import check_case as check_case
    from .case import dump_cassette as dump_cassette
    from .case import load_cassette as load_cassette
    from .case import run_case as run_case
    from .coverage import EdgeCoverage as EdgeCoverage
    from .invariants import check_ending as check_ending
    from .invariants import check_history_invariants as check_history_invariants
    from .invariants import check_run as check_run
    from .invariants import check_trace as check_trace
    from .policy import HookPolicy as HookPolicy
    from .policy import PolicyHook as PolicyHook
    from .record import RunRecord as RunRecord
    from .record import arun_agent as arun_agent
    from .record import check_deterministic as check_deterministic
    from .record import run_agent as run_agent
    from .scripted import ScriptedModel as ScriptedModel
    from .scripted import StatelessScriptedModel as StatelessScriptedModel
    from .scripted import turn_of as turn_of
    from .servers import FakeMCPServer as FakeMCPServer


__all__, __getattr__, __dir__ = lazy_exports(__name__, __file__)
