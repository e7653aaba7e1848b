"""The agent-fsm pytest plugin, registered through the ``pytest11`` entry point.

Fixtures:

- ``scripted_model`` - makes :class:`~agent_fsm.testing.ScriptedModel`\\ s:
  ``model = scripted_model([[TextDelta("hi"), Final(Usage(1, 1))]])``;
- ``fuzz_agent`` - fuzzes *your* hook and tools against drawn agents (scripts well-formed and
  not, limits, closing, tool behaviours) and checks every run: invariants, determinism. A failure
  is shrunk by hypothesis and reported with its cassette::

      def test_budget_hook(fuzz_agent):
          fuzz_agent(BudgetHook, tools=[search], prompt="Plan a trip")

Option ``--agent-fsm-examples N``: examples per ``fuzz_agent`` call; it also becomes
``max_examples`` of every hypothesis test that does not set its own, so one flag scales the
suite's fuzzing (a quick local run, a long nightly one).

Option ``--agent-fsm-report PATH``: at the end of the session, write what every ``fuzz_agent``
call ran as the fuzz campaign report (``agent-fsm fuzz --report``): edge coverage as a heat map,
the figures per test, and each failure's minimal case with its run timeline and the command that
replays it (its cassette is saved beside the report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from attrs import frozen

if TYPE_CHECKING:  # the plugin loads in every pytest session: import the kit only when used
    from ..events import ModelEvent
    from ..messages import Message
    from .coverage import EdgeCoverage
    from .record import RunRecord
    from .scripted import ScriptedModel

__all__ = ["FuzzSummary", "fuzz_agent", "pytest_addoption", "pytest_configure", "scripted_model"]

_OPTION = "agent_fsm_examples"
_REPORT = "agent_fsm_report"


@frozen
class _Call:
    """One ``fuzz_agent`` call, for the session's report."""

    nodeid: str
    examples: int
    seconds: float
    coverage: EdgeCoverage | None
    error: str | None = None
    case: Any = None


_CALLS = pytest.StashKey[list[_Call]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agent-fsm")
    group.addoption(
        "--agent-fsm-examples",
        dest=_OPTION,
        type=int,
        default=None,
        metavar="N",
        help="examples per fuzz_agent call, and max_examples of hypothesis tests that do not set it",
    )
    group.addoption(
        "--agent-fsm-report",
        dest=_REPORT,
        default=None,
        metavar="PATH",
        help="write the fuzz_agent calls' coverage and failures as an HTML report (agent-fsm fuzz --report)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_CALLS] = []
    n = config.getoption(_OPTION, None)
    if n is not None:
        from hypothesis import settings

        settings.register_profile("agent-fsm-examples", parent=settings(), max_examples=n)
        settings.load_profile("agent-fsm-examples")


@pytest.fixture
def scripted_model() -> Callable[[Iterable[Sequence[ModelEvent | BaseException]]], ScriptedModel]:
    """Makes a ``ScriptedModel`` from a script: one list of events per model call."""

    from .scripted import ScriptedModel

    def make(turns: Iterable[Sequence[ModelEvent | BaseException]]) -> ScriptedModel:
        return ScriptedModel(turns)

    return make


@frozen
class FuzzSummary:
    """What a ``fuzz_agent`` call ran: how many examples, and which edges of the machine they took."""

    examples: int
    coverage: EdgeCoverage


@pytest.fixture
def fuzz_agent(request: pytest.FixtureRequest) -> Callable[..., FuzzSummary]:
    """Fuzzes a hook (and tools) against drawn agents; see :func:`run_fuzz_agent`."""
    default = request.config.getoption(_OPTION, None)
    calls: list[_Call] = request.config.stash.get(_CALLS, [])
    nodeid = request.node.nodeid

    def fuzz(hook: Any = None, **kwargs: Any) -> FuzzSummary:
        import time
        import traceback

        from .case import failing_case

        kwargs.setdefault("examples", default)
        start = time.perf_counter()
        try:
            summary = run_fuzz_agent(hook, **kwargs)
        except AssertionError as exc:
            text = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
            calls.append(_Call(nodeid, 0, time.perf_counter() - start, None, text, failing_case(exc)))
            raise
        calls.append(_Call(nodeid, summary.examples, time.perf_counter() - start, summary.coverage))
        return summary

    return fuzz


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption(_REPORT, None)
    if path:
        calls: list[_Call] = session.config.stash.get(_CALLS, [])
        _write_report(path, calls)


def _write_report(path: str, calls: Sequence[_Call]) -> None:
    """The session's ``fuzz_agent`` calls as a campaign report (see the module doc)."""
    import shlex
    from pathlib import Path

    from ..diagram import Campaign, Failure, fuzz_report
    from ..diagram._fuzz import case_run, failure_file
    from .coverage import EdgeCoverage

    coverage = EdgeCoverage()
    failures: list[Failure] = []
    for call in calls:
        if call.coverage is not None:
            coverage.merge(call.coverage)
        if call.error is None:
            continue
        command = shlex.join(["pytest", call.nodeid])  # hypothesis' database replays the failing example
        cassette = run = None
        if call.case is not None:
            cassette = call.case.to_cassette()
            saved = failure_file(path, len(failures) + 1)
            saved.write_text(cassette, encoding="utf-8")
            if not call.case.user_tools and call.case.user_hook is None:
                command = shlex.join(["agent-fsm", "fuzz", "--case", str(saved)])
            run = case_run(call.case, f"minimal case of {call.nodeid}")
        failures.append(Failure(call.nodeid, call.error, command, cassette, run))
    campaign = Campaign(
        "agent-fsm fuzz_agent (pytest)",
        "pytest --agent-fsm-report " + shlex.quote(path),
        None,
        tuple((c.nodeid, c.examples, 0 if c.coverage is None else c.coverage.total_runs, c.seconds) for c in calls),
        tuple(coverage.hits),
        tuple(coverage.runs),
        tuple(failures),
    )
    Path(path).write_text(fuzz_report(campaign), encoding="utf-8")


def run_fuzz_agent(
    hook: Any = None,
    *,
    tools: Iterable[Any] = (),
    prompt: str = "go",
    history: Sequence[Message] = (),
    examples: int | None = None,
    malformed: bool = True,
    check: Callable[[RunRecord], None] | None = None,
) -> FuzzSummary:
    """Run ``hook`` in agents drawn by ``strategies.agents(tools)``; check every run.

    Args:
        hook: your hook's class or factory (called once per run, since hooks keep state); an
            instance is used as it is. ``None`` fuzzes drawn hook policies instead.
        tools: your tools (``@tool`` functions); by default drawn tool behaviours.
        prompt, history: what each run is asked, after what.
        examples: how many agents to draw (default: hypothesis' ``max_examples``).
        malformed: draw malformed model scripts too.
        check: your own check of each run's :class:`~agent_fsm.testing.RunRecord`.

    Raises:
        AssertionError: for the first (shrunk) run that breaks an invariant, is not
            deterministic, or fails ``check``; its cassette is attached as a note.

    Call it from a plain (sync) test: it runs the agents on an event loop of its own.
    """
    import asyncio

    import attrs
    from hypothesis import HealthCheck, given, settings

    from .case import FuzzCase, check_case
    from .coverage import EdgeCoverage
    from .strategies import fuzz_cases

    make_hook = None if hook is None else _factory(hook)
    coverage = EdgeCoverage()
    count = [0]
    user_tools = tuple(tools)
    n = examples if examples is not None else settings().max_examples
    with asyncio.Runner() as runner:

        @settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(case=fuzz_cases(driver="async", tools=user_tools, malformed=malformed, hooks=make_hook is None))
        def fuzz(case: FuzzCase) -> None:
            case = attrs.evolve(case, user_hook=make_hook, prompt=prompt, history=tuple(history))
            record = check_case(case, runner=runner, extra_check=check)
            coverage.add(record.trace)
            count[0] += 1

        fuzz()
    return FuzzSummary(count[0], coverage)


def _factory(hook: Any) -> Callable[[], object]:
    """A class or a factory makes a fresh hook per run; a hook instance is shared."""
    from ..hooks import HOOK_NAMES

    if isinstance(hook, type) or (callable(hook) and not any(hasattr(hook, name) for name in HOOK_NAMES)):
        factory: Callable[[], object] = hook
        return factory
    return lambda: hook
