"""Interleaved, paired timing; the machine's description; result files.

Noise on a shared 2-core machine comes in bursts (another process's test run). So each round
times every system back to back, the order rotating from round to round, and each round gives a
*paired* ratio (system / baseline, timed seconds apart). The reported figure is the median of
those ratios, with the medians of the raw timings beside it; bursts then move single rounds, not
the result.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
WIRE = ROOT.parent / "shared" / "wire"

Sample = Callable[[], Awaitable[float]]
"""Runs one batch of a scenario and returns the seconds it took."""


async def interleaved(samples: Mapping[str, Sample], rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Time each sample once per round, rotating the order; return every system's timings."""
    names = list(samples)
    for _ in range(warmup):
        for name in names:
            await samples[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            times[name].append(await samples[name]())
    return times


def summary(times: list[float], per: float) -> dict[str, float]:
    """Median and quartiles of ``times``, divided by ``per`` (e.g. events per batch), in us."""
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {"median_us": statistics.median(times) / per * 1e6, "q1_us": q[0] / per * 1e6, "q3_us": q[2] / per * 1e6}


def paired(system: list[float], baseline: list[float]) -> dict[str, float]:
    """Median and quartiles of the per-round ratios system / baseline."""
    ratios = [s / b for s, b in zip(system, baseline, strict=True)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"ratio": statistics.median(ratios), "ratio_q1": q[0], "ratio_q3": q[2]}


def timer() -> float:
    return time.perf_counter()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "agent_fsm"], capture_output=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    """Where and when: cores, CPU model, Python, load average at start, date, commit."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_at_start": load_average(),
        "commit": git_commit(),
    }


def versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def write_result(name: str, data: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
