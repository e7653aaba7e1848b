"""``agent-fsm fuzz``: fuzz the turn loop and gate on invariants and transition coverage.

Runs a campaign (:mod:`agent_fsm.testing.campaign`), prints a coverage table of every edge of the
machine's table (hits per edge, by label) and exits non-zero if an invariant failed or an edge was
never exercised. On a terminal, with ``rich`` installed (``pip install agent-fsm[fuzz]``), it shows
live progress; otherwise - in CI - it prints plain lines.

``--report FILE`` also writes the campaign as a self-contained HTML page: coverage as a heat map,
the figures, and each failure's minimal case with its run timeline and replay command (its
cassette is saved beside the report). ``agent-fsm fuzz --case FILE`` checks one cassette instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

__all__ = ["register", "run"]

PLAIN_EVERY = 10.0
"""Seconds between progress lines in plain output."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fuzz",
        help="fuzz the turn loop; print edge coverage; fail on a broken invariant or an unexercised edge",
        description=(
            "Fuzz the turn loop: drawn cases on the sync and async drivers and a misbehaving step-API "
            "driver. Prints every edge of the machine's table with its hits; exits 1 if an invariant "
            "broke or an edge was never exercised."
        ),
    )
    p.add_argument("--examples", type=int, default=2000, metavar="N", help="examples over all phases (default 2000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="the seed: same seed, same cases (default 0)")
    p.add_argument(
        "--shares",
        default=None,
        metavar="SPEC",
        help="how examples split over phases, e.g. sync=0.75,async=0.1,stateful=0.15",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1; the gate uses 1)")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    p.add_argument("--json", metavar="FILE", help="also write the report (coverage, speed, failures) as JSON")
    p.add_argument(
        "--report",
        metavar="FILE",
        help="also write an HTML report: coverage heat map, figures, each failure's minimal case and replay command",
    )
    p.add_argument("--case", metavar="FILE", help="check one cassette instead of fuzzing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _quiet_logs(args.verbose)
    try:
        from ..testing import campaign
    except ModuleNotFoundError as exc:  # hypothesis is an extra
        print(f"agent-fsm fuzz needs {exc.name}: pip install 'agent-fsm[fuzz]'", file=sys.stderr)
        return 2
    if args.case:
        return _check_one(Path(args.case))
    shares = _parse_shares(args.shares) if args.shares else campaign.DEFAULT_SHARES
    out = sys.stdout
    fancy = not args.plain and out.isatty() and _has_rich()
    print(
        f"agent-fsm fuzz: {args.examples} examples, seed {args.seed}"
        + (f", {args.jobs} jobs" if args.jobs > 1 else "")
        + f" ({', '.join(f'{k} {v:.0%}' for k, v in shares.items())})",
        file=out,
        flush=True,
    )
    with _progress(fancy, args.examples, out) as on_progress:
        if args.jobs > 1:
            from ..testing.parallel import run_fuzz_parallel

            report = run_fuzz_parallel(args.examples, args.seed, args.jobs, on_progress=on_progress, shares=shares)
        else:
            report = campaign.run_fuzz(args.examples, args.seed, on_progress=on_progress, shares=shares)
    _print_report(report, fancy, out)
    if args.json:
        Path(args.json).write_text(json.dumps(_report_json(report), indent=2, sort_keys=True) + "\n")
    if args.report and not _write_report(report, args, out):
        return 2
    return 0 if report.ok else 1


def _write_report(report: Any, args: argparse.Namespace, out: TextIO) -> bool:
    """The HTML report (``--report``); False, with the reason on stderr, when it cannot be drawn."""
    from ..diagram import GraphvizError, fuzz_report
    from ..diagram._fuzz import campaign_of

    command = ["agent-fsm", "fuzz", "--examples", str(args.examples), "--seed", str(args.seed)]
    if args.shares:
        command += ["--shares", args.shares]
    if args.jobs > 1:
        command += ["--jobs", str(args.jobs)]
    try:
        html = fuzz_report(campaign_of(report, command, args.report))
    except GraphvizError as exc:
        print(f"agent-fsm fuzz: --report: {exc}", file=sys.stderr)
        return False
    Path(args.report).write_text(html, encoding="utf-8")
    print(f"report: {args.report}", file=out)
    return True


def _quiet_logs(verbosity: int) -> None:
    """Tools that fail on purpose log a warning each: thousands of lines nobody asked for."""
    if verbosity <= 0:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
        logging.getLogger("agent_fsm").setLevel(logging.CRITICAL)


def _parse_shares(spec: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for part in spec.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in ("sync", "async", "stateful"):
            raise SystemExit(f"--shares: unknown phase {name!r} (sync, async, stateful)")
        shares[name.strip()] = float(value)
    return shares


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@contextmanager
def _progress(fancy: bool, total: int, out: TextIO) -> Iterator[Callable[[Any], None]]:
    """A progress callback: a live rich bar on a terminal, a plain line every few seconds else."""
    if not fancy:
        last = [0.0]

        def plain(p: Any) -> None:
            now = time.perf_counter()
            if now - last[0] >= PLAIN_EVERY:
                last[0] = now
                print(
                    f"  {p.phase}: {p.done}/{p.total} examples, {p.rate:.0f} examples/s, {p.runs} runs, "
                    f"{p.covered}/{p.edges} edges covered, {p.elapsed:.0f} s",
                    file=out,
                    flush=True,
                )

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.fields[phase]:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.0f} ex/s"),
        TextColumn("{task.fields[runs]:>8} runs"),
        TextColumn("edges {task.fields[covered]}/{task.fields[edges]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(file=out)) as bar:
        task = bar.add_task("fuzz", total=total, phase="", rate=0.0, runs=0, covered=0, edges=0)

        def fancy_update(p: Any) -> None:
            bar.update(
                task, completed=p.done, phase=p.phase, rate=p.rate, runs=p.runs, covered=p.covered, edges=p.edges
            )

        yield fancy_update


def _print_report(report: Any, fancy: bool, out: TextIO) -> None:
    cov = report.coverage
    if fancy:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"edge coverage: {cov.covered}/{len(cov.edges)} over {cov.total_runs} runs")
        for name, justify in (("#", "right"), ("from", "left"), ("to", "left"), ("edge", "left"), ("hits", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        table.add_column("runs", justify="right")
        for edge, hits, runs in cov.rows():
            dest = edge.dest.value if edge.dest is not None else "(stays)"
            style = None if hits else "bold red"
            table.add_row(str(edge.index), edge.source.value, dest, edge.label, str(hits), str(runs), style=style)
        Console(file=out).print(table)
    else:
        print(cov.table(), file=out)
    print(file=out)
    for p in report.phases:
        print(
            f"{p.name:>8}: {p.examples} examples in {p.seconds:.1f} s = {p.rate:.1f} examples/s; "
            f"{p.runs} runs = {p.run_rate:.0f} runs/s" + ("  FAILED" if p.failure else ""),
            file=out,
        )
    print(
        f"   total: {report.examples} examples, {report.runs} runs in {report.seconds:.1f} s "
        f"= {report.examples / max(report.seconds, 1e-9):.1f} examples/s",
        file=out,
    )
    for failure in report.failures:
        print(f"\nFAILURE in {failure}", file=out)
    missing = cov.missing
    if missing:
        names = "; ".join(f"#{e.index} {e.source.value}: {e.label}" for e in missing)
        print(f"\ngate: FAIL - {len(missing)} edge(s) never exercised: {names}", file=out)
    elif report.failures:
        print(f"\ngate: FAIL - {len(report.failures)} invariant failure(s) (cassettes above)", file=out)
    else:
        print(f"\ngate: PASS - {cov.covered}/{len(cov.edges)} edges exercised, no invariant broken", file=out)


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "seed": report.seed,
        "ok": report.ok,
        "coverage": report.coverage.to_json_value(),
        "phases": [
            {"name": p.name, "examples": p.examples, "runs": p.runs, "seconds": p.seconds, "failure": p.failure}
            for p in report.phases
        ],
    }


def _check_one(path: Path) -> int:
    from ..testing import check_case, load_cassette

    case = load_cassette(path.read_text())
    try:
        record = check_case(case)
    except AssertionError as exc:
        print(f"FAIL: {exc}", file=sys.stdout)
        return 1
    print(f"ok: {record.state.value}, {len(record.items)} items, {len(record.trace)} steps", file=sys.stdout)
    return 0
