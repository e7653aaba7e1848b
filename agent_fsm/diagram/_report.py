"""The two HTML reports: one run (``agent-fsm report``), and a fuzz campaign (``--report``).

Both are single self-contained pages (:func:`._html.page`). The run report is byte-stable for a
given run. The campaign report shows what only a campaign knows - how long it took - and is
otherwise just as stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from attrs import frozen

from ..machine.table import EDGES
from ._html import diagram_svg, page, run_view
from ._picture import TIMES, picture
from ._steps import RunLog

if TYPE_CHECKING:
    from ..testing.record import RunRecord

__all__ = ["Campaign", "Failure", "fuzz_report", "log_of_record", "report"]


def report(log: RunLog) -> str:
    """A run as one self-contained HTML page: its path on the live diagram, stepped through with
    its timeline and its history (README, "Looking at a run").

    Args:
        log: the run, from :func:`~._steps.record_run`
            (``log = await record_run(agent.stream_prompt(...))``).

    Returns:
        The page; the same run gives the same bytes (no timestamps, nothing fetched).

    Raises:
        GraphvizNotFound: when Graphviz's ``dot`` is not installed.
        TraceError: for a trace that is not a path through the machine.
    """
    calls = sum(1 for edge, _ in log.trace if edge.trigger == "request" and edge.dest is not None)
    badge = "ok" if log.error is None else "bad" if log.failed else "paused"
    summary = (
        f'ended in <span class="badge {badge}">{log.state.value}</span> &#183; <b>{len(log.trace) + 1}</b> steps'
        f" &#183; <b>{len(log.items)}</b> items &#183; <b>{calls}</b> model calls"
        f" &#183; <b>{len(log.history)}</b> messages of history"
    )
    body = (
        f'<header class="top"><h1>{escape(log.title)}</h1><p class="summary">{summary}</p></header>\n'
        f"<main>\n{run_view(log)}\n</main>"
    )
    return page(log.title, body)


def log_of_record(record: RunRecord, title: str) -> RunLog:
    """A fuzz run's record (:class:`agent_fsm.testing.RunRecord`) as a report shows it."""
    start = record.start if record.start is not None else record.history[: record.initial + 1]
    return RunLog(start, record.items, record.trace, record.history, record.state, record.error, title)


@frozen
class Failure:
    """One failure of a campaign: what broke, the minimal case, and how to replay it."""

    title: str
    error: str
    command: str
    """The exact command that replays it."""
    cassette: str | None = None
    run: RunLog | None = None
    """The minimal case's run, shown with the run report's timeline (opens at its last step)."""


@frozen
class Campaign:
    """What a fuzz campaign report shows (made by ``agent-fsm fuzz`` and the pytest plugin)."""

    title: str
    command: str
    """The command that ran it (the same command draws the same cases)."""
    seed: int | None
    phases: tuple[tuple[str, int, int, float], ...]
    """(phase, examples, runs, seconds) each."""
    hits: tuple[int, ...]
    """Times each edge of the table was taken, by edge index."""
    runs: tuple[int, ...]
    """Runs that took each edge."""
    failures: tuple[Failure, ...] = ()


def fuzz_report(campaign: Campaign) -> str:
    """The campaign report: coverage as a heat map with never-taken edges marked, the figures,
    and each failure's minimal case with its timeline and replay command.

    Raises:
        GraphvizNotFound: when Graphviz's ``dot`` is not installed.
    """
    never = [e for e in EDGES if not campaign.hits[e.index]]
    examples = sum(p[1] for p in campaign.phases)
    seconds = sum(p[3] for p in campaign.phases)
    gate = (
        f'<span class="badge bad">FAIL: {len(campaign.failures)} failure(s)</span>'
        if campaign.failures
        else f'<span class="badge bad">FAIL: {len(never)} edge(s) never taken</span>'
        if never
        else '<span class="badge ok">PASS</span>'
    )
    figures = [
        (str(examples), "examples"),
        (str(sum(p[2] for p in campaign.phases)), "runs"),
        (f"{seconds:.1f} s", "time"),
        ("-" if campaign.seed is None else str(campaign.seed), "seed"),
        (f"{len(EDGES) - len(never)}/{len(EDGES)}", "edges taken"),
        (str(len(campaign.failures)), "failures"),
    ]
    title = f"{campaign.title}: edge coverage, {len(EDGES) - len(never)} of {len(EDGES)} edges taken"
    drawn = picture(EDGES, None, title, hits=campaign.hits)
    parts = [
        f'<header class="top"><h1>{escape(campaign.title)}</h1>'
        f'<p class="summary">gate {gate} &#183; <code>{escape(campaign.command)}</code></p></header>',
        "<main>",
        '<div class="figures">'
        + "".join(f'<div class="figure"><b>{v}</b><span>{label}</span></div>' for v, label in figures)
        + "</div>",
        _phases(campaign.phases),
        "<h2>Edge coverage</h2>",
        f'<div class="heat"><div class="pane">{diagram_svg(drawn)}</div>{_coverage(campaign)}</div>',
    ]
    if campaign.failures:
        parts.append("<h2>Failures</h2>")
        parts += [_failure(i, f) for i, f in enumerate(campaign.failures, start=1)]
    parts.append("</main>")
    return page(campaign.title, "\n".join(parts))


def _phases(phases: Sequence[tuple[str, int, int, float]]) -> str:
    rows = "".join(
        f'<tr><td>{escape(name)}</td><td class="num">{examples}</td><td class="num">{runs}</td>'
        f'<td class="num">{seconds:.1f} s</td><td class="num">{examples / seconds if seconds else 0:.0f}/s</td></tr>'
        for name, examples, runs, seconds in phases
    )
    head = "<tr><th>phase</th><th>examples</th><th>runs</th><th>time</th><th>examples/s</th></tr>"
    return f'<table class="coverage phases">{head}{rows}</table>'


def _coverage(campaign: Campaign) -> str:
    rows = []
    for edge in EDGES:
        hits, runs = campaign.hits[edge.index], campaign.runs[edge.index]
        dest = edge.dest.value if edge.dest is not None else "(stays)"
        mark = "" if hits else " never taken"
        rows.append(
            f'<tr class="{"taken" if hits else "never"}" data-edge="{edge.index}"><td class="num">{edge.index}</td>'
            f"<td>{edge.source.value}</td><td>{dest}</td><td>{escape(edge.label)}{mark}</td>"
            f'<td class="num">{TIMES}{hits}</td><td class="num">{runs}</td></tr>'
        )
    head = "<tr><th>#</th><th>from</th><th>to</th><th>edge</th><th>hits</th><th>runs</th></tr>"
    return f'<div class="pane"><table class="coverage">{head}{"".join(rows)}</table></div>'


def _failure(n: int, failure: Failure) -> str:
    parts = [
        f'<section class="failure" id="failure-{n}"><h3>failure {n}: {escape(failure.title)}</h3>',
        f'<p>replay it: <code class="command">{escape(failure.command)}</code></p>',
        f"<details open><summary>what broke</summary><pre>{escape(failure.error)}</pre></details>",
    ]
    if failure.cassette is not None:
        parts.append(
            f"<details><summary>the minimal case (cassette)</summary><pre>{escape(failure.cassette)}</pre></details>"
        )
    if failure.run is not None:
        parts.append(run_view(failure.run, failing=True))
    parts.append("</section>")
    return "\n".join(parts)
