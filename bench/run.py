"""``make bench``: the engine against a hand-written loop - S1, S2, S3, S4 - and the parse cost.

Every figure is a median of interleaved rounds and every ratio is paired (system / baseline in
the same round of the same process). Results go to ``bench/results/core.json``; ``RESULTS.md``
is then rendered from the result files (``report.py``). See ``RESULTS.md`` for what each scenario
and baseline is. ``BENCH_QUICK=1`` runs few rounds (a smoke test of the harness, not a result).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import breakdown
import engine
import report
from timing import BENCH, ROOT, WIRE, interleaved, machine, paired, summary, versions, write_result

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 5 if QUICK else 25
S3_ROUNDS = 1 if QUICK else 2
MIN_ROUNDS = 3 if QUICK else 21  # the slower sections: parse cost, measured proposals
SDK_PYTHON = BENCH / ".venv-sdk" / "bin" / "python"
PURE_PYTHON = ROOT / ".venv" / "bin" / "python"


def say(text: str) -> None:
    print(text, flush=True)


async def s1_s2() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (script, batch) in engine.SCENARIOS.items():
        await engine.check_same_work(script)
        samples = {"engine": engine.engine_sample(script, batch), "baseline": engine.baseline_sample(script, batch)}
        if name == "S2":  # what the default observer costs while nothing listens at INFO (no logging set up)
            samples["engine_unobserved"] = engine.engine_sample(script, batch, observers=())
        times = await interleaved(samples, ROUNDS)
        events = engine.per_run_events(script)
        per = events * batch
        out[name] = {
            "events_per_run": events,
            "runs_per_sample": batch,
            "rounds": ROUNDS,
            "engine": summary(times["engine"], per),
            "baseline": summary(times["baseline"], per),
            **paired(times["engine"], times["baseline"]),
        }
        if "engine_unobserved" in times:
            out[name]["unobserved"] = summary(times["engine_unobserved"], per)
            out[name]["observers"] = paired(times["engine"], times["engine_unobserved"])
        row = out[name]
        say(
            f"{name}: engine {row['engine']['median_us']:.3f} us/event, hand-written "
            f"{row['baseline']['median_us']:.3f} us/event, ratio {row['ratio']:.2f}x"
        )
        if "observers" in row:
            say(f"{name}: default observers / observers=() {row['observers']['ratio']:.3f}x")
    return out


def s4_throughput() -> dict[str, Any]:
    # The scripts are drawn by the project's own venv (see s4.py for why), the same for both builds.
    scripts = ROOT / "build" / "bench" / "s4-scripts.pickle"
    scripts.parent.mkdir(parents=True, exist_ok=True)
    drawer = PURE_PYTHON if PURE_PYTHON.exists() else Path(sys.executable)
    subprocess.run([str(drawer), str(BENCH / "s4.py"), "--draw", str(scripts)], check=True)
    out = subprocess.run(
        [sys.executable, str(BENCH / "s4.py"), str(ROUNDS), str(scripts)], capture_output=True, text=True, check=True
    )
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    say(
        f"S4: {row['engine_runs_per_s']:.0f} runs/s, {row['engine_events_per_s']:.0f} events/s "
        f"({row['scripts']} fuzz scripts, {row['events']} events);"
        f" ratio to the sync hand-written loop {row['ratio']:.2f}x"
    )
    return row


def s3_concurrent() -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"engine": [], "baseline": []}
    order = ["engine", "baseline"]
    for r in range(S3_ROUNDS):
        for system in order if r % 2 == 0 else order[::-1]:
            out = subprocess.run(
                [sys.executable, str(BENCH / "s3.py"), system, "1" if r == 0 else "0"],
                capture_output=True,
                text=True,
                check=True,
            )
            results[system].append(json.loads(out.stdout.strip().splitlines()[-1]))
    row: dict[str, Any] = {"runs": results["engine"][0]["runs"], "rounds": S3_ROUNDS}
    for system, rs in results.items():
        walls = [w for r in rs for w in r["walls_s"]]
        traced = [r["traced_per_live_run_bytes"] for r in rs if r["traced_per_live_run_bytes"] is not None]
        row[system] = {
            "wall_s": sorted(walls)[len(walls) // 2],
            "wall_samples": len(walls),
            "rss_per_live_run_bytes": sorted(r["rss_per_live_run_bytes"] for r in rs)[len(rs) // 2],
            "traced_per_live_run_bytes": sorted(traced)[len(traced) // 2],
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
            "start_rss_bytes": min(r["start_rss_bytes"] for r in rs),
        }
    ratios = [
        e / b
        for re, rb in zip(results["engine"], results["baseline"], strict=True)
        for e, b in zip(re["walls_s"], rb["walls_s"], strict=True)
    ]
    row["ratio"] = sorted(ratios)[len(ratios) // 2]
    e = row["engine"]
    say(
        f"S3: {row['runs']} concurrent S2 runs: {e['wall_s']:.3f} s wall"
        f" (hand-written {row['baseline']['wall_s']:.3f} s),"
        f" peak RSS {e['peak_rss_bytes'] / 2**20:.1f} MiB, {e['traced_per_live_run_bytes'] / 1024:.1f} KiB per live run"
        f" (tracemalloc), {e['rss_per_live_run_bytes'] / 1024:.1f} KiB (RSS)"
    )
    return row


def parse_cost() -> dict[str, Any] | None:
    if not (WIRE / "manifest.json").exists():
        say(f"parse: skipped, no recordings at {WIRE} (the shared/ folder beside the repository)")
        return None
    python = str(SDK_PYTHON) if SDK_PYTHON.exists() else sys.executable
    out = subprocess.run(
        [python, "-W", "ignore", str(BENCH / "parse.py"), str(MIN_ROUNDS), "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["sdk_venv"] = SDK_PYTHON.exists()
    for fmt, row in result["formats"].items():
        sdk = f", SDK {row['sdk_us']:.1f} us ({row['sdk_ratio']:.1f}x ours)" if "sdk_us" in row else ""
        say(f"parse {fmt}: {row['parse_us']:.2f} us/event parsing, {row['bytes_us']:.2f} us from bytes{sdk}")
    return result


def build() -> str:
    """Which build of the package this interpreter imports: ``compiled`` (the wheel built with
    mypyc) or ``pure``; the one asked for on the command line must be the one found."""
    import importlib.machinery

    import agent_fsm.machine._machine as core

    found = "compiled" if str(core.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) else "pure"
    asked = sys.argv[sys.argv.index("--build") + 1] if "--build" in sys.argv else found
    if asked != found:
        raise SystemExit(f"bench/run.py --build {asked}: this interpreter imports the {found} build ({core.__file__})")
    return found


def main() -> None:
    started = time.perf_counter()
    which = build()
    info = machine()
    load = info["load_average_at_start"]
    say(f"make bench ({which} build) on {info['cores']} cores ({info['cpu']}), Python {info['python']}, load {load}")
    result: dict[str, Any] = {
        "machine": info,
        "build": which,
        "versions": versions("agent-fsm", "transitions", "attrs", "cattrs", "httpx", "httpx-sse"),
        "quick": QUICK,
    }
    result.update(asyncio.run(s1_s2()))
    result["breakdown"] = breakdown.measure(MIN_ROUNDS)
    b = result["breakdown"]
    say(
        f"where the time goes: S1 machine {b['S1']['machine_us']:.3f} us/delta of {b['S1']['full_us']:.3f};"
        f" S2 machine {b['S2']['machine_us']:.0f} us, tools {b['S2']['tools_us']:.0f} us,"
        f" driver {b['S2']['driver_us']:.0f} us of {b['S2']['full_us']:.0f} us per run"
    )
    result["S4"] = s4_throughput()
    if which == "compiled":  # the pure build is measured for comparison: the scenarios above and S4
        result["S3"] = s3_concurrent()
        result["parse"] = parse_cost()
    result["seconds"] = round(time.perf_counter() - started, 1)
    if QUICK:
        say("BENCH_QUICK=1: a smoke test; results not written")
        return
    name = "core" if which == "compiled" else "core-pure"
    write_result(name, result)
    report.write()
    say(f"wrote bench/results/{name}.json and bench/RESULTS.md in {result['seconds']} s")


if __name__ == "__main__":
    main()
