"""``make bench-peers``: S1 and S2 for agent-fsm, pydantic-ai, openai-agents and LangGraph.

Each system runs in its own process (``peer_worker.py``, in ``bench/.venv-peers``). All four start
and warm up first; then, round after round, this parent asks each process in turn (the order
rotating) for one paired sample: a batch of the system, and a batch of the hand-written loop in
that same process. Only one process works at a time, and every system sees the same stretches
of machine load. Results go to ``bench/results/peers.json``; ``RESULTS.md`` is re-rendered.
``BENCH_QUICK=1`` runs 3 rounds (a smoke test; nothing written).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from scenarios import S1_DELTAS, S2_FINAL_DELTAS, S2_TURNS
from timing import BENCH, machine, paired, write_result

SYSTEMS = ("agent_fsm", "pydantic_ai", "openai_agents", "langgraph")
QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 3 if QUICK else 21
EVENTS = {"S1": S1_DELTAS + 1, "S2": 2 * (S2_TURNS - 1) + S2_FINAL_DELTAS + 1}


class Worker:
    def __init__(self, system: str) -> None:
        self.system = system
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", str(BENCH / "peer_worker.py"), system],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.system}: worker exited ({self.proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, scenario: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(scenario + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    started = time.perf_counter()
    info = machine()
    print(f"make bench-peers on {info['cores']} cores, load {info['load_average_at_start']}", flush=True)
    workers = [Worker(s) for s in SYSTEMS]
    try:
        for w in workers:
            w.ready = w.read()
            print(f"{w.system} {w.ready['version']} ready: items per run {w.ready['items']}", flush=True)
        samples: dict[str, dict[str, list[dict[str, float]]]] = {s: {"S1": [], "S2": []} for s in SYSTEMS}
        for r in range(ROUNDS):
            k = r % len(workers)
            for scenario in ("S1", "S2"):
                for w in workers[k:] + workers[:k]:
                    samples[w.system][scenario].append(w.ask(scenario))
            print(f"round {r + 1}/{ROUNDS}", flush=True)
    finally:
        for w in workers:
            w.close()

    systems: dict[str, Any] = {}
    for w in workers:
        row: dict[str, Any] = {"version": w.ready["version"], "items": w.ready["items"]}
        for scenario in ("S1", "S2"):
            xs = samples[w.system][scenario]
            sys_t = [x["system"] for x in xs]
            base_t = [x["baseline"] for x in xs]
            row[scenario] = {
                "system_us_per_run": statistics.median(sys_t) * 1e6,
                "system_us_per_event": statistics.median(sys_t) / EVENTS[scenario] * 1e6,
                "baseline_us_per_run": statistics.median(base_t) * 1e6,
                **paired(sys_t, base_t),
            }
        systems[w.system] = row
        print(
            f"{w.system}: S1 {row['S1']['system_us_per_event']:.2f} us/event ({row['S1']['ratio']:.1f}x hand-written),"
            f" S2 {row['S2']['system_us_per_run']:.0f} us/run ({row['S2']['ratio']:.1f}x)",
            flush=True,
        )
    result = {
        "machine": info,
        "rounds": ROUNDS,
        "systems": systems,
        "versions": {
            "pydantic-ai-slim": systems["pydantic_ai"]["version"],
            "openai-agents": systems["openai_agents"]["version"],
            "langgraph": systems["langgraph"]["version"],
            **_versions("langchain-core", "openai", "pydantic"),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    if QUICK:
        print("BENCH_QUICK=1: a smoke test; results not written")
        return
    write_result("peers", result)
    report.write()
    print(f"wrote bench/results/peers.json and bench/RESULTS.md in {result['seconds']} s")


def _versions(*packages: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, json; from importlib.metadata import version as v; "
         "print(json.dumps({p: v(p) for p in sys.argv[1:]}))", *packages],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    versions: dict[str, str] = json.loads(out.stdout)
    return versions


if __name__ == "__main__":
    main()
