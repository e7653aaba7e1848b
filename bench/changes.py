"""``make bench-changes``: what each change of a series bought, measured side by side.

Each commit of a series (``SERIES``) is exported (``git archive``, its ``agent_fsm`` only) to a
temporary folder - and, for a row of the compiled build, compiled there with mypyc - and measured
in a process of its own with today's harness (``breakdown.measure``: S1 and S2
against the hand-written loop, S2's machine, tools and driver). The commits take turns, one
process each per round, the order rotating, so a burst of load moves single samples, not one
commit's figures; each figure is the median over rounds. Results go to
``bench/results/changes-<series>.json``; ``RESULTS.md`` shows every series measured (``report.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import BENCH, ROOT, load_average, write_result

SERIES: dict[str, list[tuple[str, str, str]]] = {
    # name: (commit, build, what it changed), in order; "compiled" rows are built with mypyc first
    "first": [
        ("52505ca", "pure", "before (main with the issue-14 layout)"),
        ("5239b4c", "pure", "one task per tool call, not two; the wait is one future, not `asyncio.wait`"),
        ("c705d49", "pure", "a log nobody reads at INFO binds no context and builds no call records"),
        ("268f678", "pure", "each event handler checks its event; the driver's per-event `check_event` call goes"),
        ("c302e4c", "pure", "3.11: a tool call's task takes its first step in one loop pass; no timer if it is done"),
        ("3727949", "pure", "the text delta's fast path hands its item back directly (no outbox round trip)"),
        ("dedcc24", "pure", "the sync driver dispatches through `event_handlers` (machine-only figures)"),
        (
            "6790efd",
            "pure",
            "the text delta's fast path is one method; `json_problem` by exact type; no `aclose` when done",
        ),
        ("2a5122e", "pure", "no observers: no model call record; the history's length read off the request"),
        ("e4c6502", "pure", "only failures listened for: a model call's record is built only if the call failed"),
        ("06192a6", "pure", "the machine holds its handlers unbound: no reference cycle, a finished run freed at once"),
        ("6d2d29f", "pure", "the path is one flat list of ints, not a list per entry (half a live run's objects)"),
        ("f98bdff", "pure", "merged with main: issue 16's run control (cancel, steer, limits, final answer)"),
    ],
    "second": [
        ("9945f95", "pure", "before (main after the first session)"),
        ("f69054e", "compiled", "the same core compiled with mypyc (the machine, its collaborators, the sync driver)"),
        ("d94167a", "compiled", "the edges as code generated from the table; a machine shares what most runs share"),
        ("0fe97b6", "compiled", "the event and JSON checks in modules of their own, compiled too"),
        ("a3d0151", "compiled", "each handler calls its event's check directly; the text delta's edge a constant"),
        ("6e6bcbc", "compiled", "the path's last entry is two attributes: the same edge again is one increment"),
        ("c47d276", "compiled", "the names the hot paths read are Final: C statics, not a dict lookup per use"),
        ("1b77791", "compiled", "fewer allocations per turn (a list for running calls, reasoning slots on demand)"),
        (
            "6c85a39",
            "pure",
            "(the driver branch, on the first session's main) a tool call ~2 us: plain parameters"
            " without cattrs, a tool that cannot wait run at once",
        ),
        ("411f6b5", "compiled", "merged: the driver branch (tool calls, the driver per turn and per delta, observers)"),
        ("f4d20aa", "compiled", "observers of failures only cost no call per model call; no run-end record unheard"),
        ("f4d20aa", "pure", "the same source, not compiled"),
    ],
}
"""The series ``make bench-changes`` can measure (``BENCH_CHANGES_SERIES``, default the last)."""
ROUNDS = int(os.environ.get("BENCH_CHANGES_ROUNDS", "5"))
FIELDS = ("S1_ratio", "S2_ratio", "S2_full_us", "S2_machine_us", "S2_tool_call_us", "S2_driver_us")


def measure_here() -> dict[str, float]:
    """One sample, of the ``agent_fsm`` first on ``sys.path`` (run in the exported commit)."""
    import breakdown

    b = breakdown.measure(3)
    s1, s2 = b["S1"], b["S2"]
    return {
        "S1_ratio": s1["full_us"] / s1["handwritten_us"],
        "S2_ratio": s2["full_us"] / s2["handwritten_us"],
        "S2_full_us": s2["full_us"],
        "S2_machine_us": s2["machine_us"],
        "S2_tool_call_us": s2["tool_call_us"],
        "S2_driver_us": s2["driver_us"],
    }


def export(commit: str, build: str, into: Path) -> Path:
    """The commit's ``agent_fsm`` in a folder of its own; for a compiled row, compiled in place with
    mypyc, the modules the commit's own ``pyproject.toml`` lists."""
    where = into / f"{commit}-{build}"
    where.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "agent_fsm"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    if build == "compiled":
        import tomllib

        config = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:pyproject.toml"], capture_output=True, text=True, check=True
        ).stdout
        modules = tomllib.loads(config)["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]["include"]
        subprocess.run(
            [sys.executable, "-m", "mypyc", "--ignore-missing-imports", *modules],
            cwd=where,
            capture_output=True,
            check=True,
        )
    return where


def main() -> None:
    load = load_average()
    series = os.environ.get("BENCH_CHANGES_SERIES") or list(SERIES)[-1]
    changes = SERIES[series]
    samples: dict[str, list[dict[str, float]]] = {f"{c}-{b}": [] for c, b, _ in changes}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {f"{c}-{b}": export(c, b, Path(tmp)) for c, b, _ in changes}
        commits = list(trees)
        for r in range(ROUNDS):
            k = r % len(commits)
            for commit in commits[k:] + commits[:k]:
                env = {**os.environ, "PYTHONPATH": str(trees[commit])}
                out = subprocess.run(
                    [sys.executable, str(BENCH / "changes.py"), "--sample"], env=env, capture_output=True, text=True
                )
                if out.returncode != 0:
                    raise RuntimeError(f"{commit}: {out.stderr[-2000:]}")
                sample = json.loads(out.stdout.strip().splitlines()[-1])
                if not sample.pop("from").startswith(str(trees[commit])):
                    raise RuntimeError(f"{commit}: measured another agent_fsm than the exported one")
                samples[commit].append(sample)
            print(f"round {r + 1}/{ROUNDS} done", flush=True)
    rows = []
    for commit, build, label in changes:
        row: dict[str, Any] = {"commit": commit, "build": build, "change": label}
        row.update({f: statistics.median(s[f] for s in samples[f"{commit}-{build}"]) for f in FIELDS})
        rows.append(row)
        print(f"{commit} S1 {row['S1_ratio']:.2f}x S2 {row['S2_ratio']:.2f}x {row['S2_full_us']:.0f} us", flush=True)
    write_result(f"changes-{series}", {"series": series, "rounds": ROUNDS, "load_average_at_start": load,
                                       "python": sys.version.split()[0], "rows": rows})  # fmt: skip
    import report

    report.write()


if __name__ == "__main__":
    if sys.argv[1:] == ["--sample"]:
        import agent_fsm

        print(json.dumps({**measure_here(), "from": agent_fsm.__file__}))
    else:
        main()
