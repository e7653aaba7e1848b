"""A fuzz campaign's findings as a :class:`~._report.Campaign`, for ``agent-fsm fuzz --report`` and
the pytest plugin's ``--agent-fsm-report``.

A failure's minimal case is run once more to show its timeline (the run report's view, opening
at its last step: where the broken invariant was checked). Its cassette is saved beside the
report, so the replay command the report prints is exact: ``agent-fsm fuzz --case FILE``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._report import Campaign, Failure, log_of_record
from ._steps import RunLog

if TYPE_CHECKING:
    from ..testing.campaign import FuzzReport
    from ..testing.case import FuzzCase

__all__ = ["campaign_of", "case_run", "failure_file"]


def case_run(case: FuzzCase, title: str) -> RunLog | None:
    """The case's run on its own driver, or ``None`` when running it raises (the failure then
    is the crash itself, shown in the failure's text)."""
    from ..testing.case import run_case

    try:
        return log_of_record(run_case(case), title)
    except Exception:
        return None


def failure_file(report_path: str | Path, n: int) -> Path:
    """Where the ``n``-th failure's cassette is saved: beside the report, named after it."""
    path = Path(report_path)
    return path.with_name(f"{path.stem}.failure-{n}.jsonl")


def campaign_of(report: FuzzReport, command: Sequence[str], report_path: str | Path) -> Campaign:
    """A campaign's report, saving each failing case's cassette beside ``report_path``.

    Args:
        report: what the campaign found.
        command: the command line that ran it (it draws the same cases again).
        report_path: where the report goes.
    """
    from ..testing.case import load_cassette

    again = shlex.join(command)
    failures = []
    for phase in report.phases:
        if phase.failure is None:
            continue
        title = f"phase {phase.name}"
        if phase.case is None:
            failures.append(Failure(title, phase.failure, again))
            continue
        saved = failure_file(report_path, len(failures) + 1)
        saved.write_text(phase.case, encoding="utf-8")
        run = case_run(load_cassette(phase.case), f"minimal case of {title}")
        replay = shlex.join(["agent-fsm", "fuzz", "--case", str(saved)])
        failures.append(Failure(title, phase.failure, replay, phase.case, run))
    return Campaign(
        "agent-fsm fuzz",
        again,
        report.seed,
        tuple((p.name, p.examples, p.runs, p.seconds) for p in report.phases),
        tuple(report.coverage.hits),
        tuple(report.coverage.runs),
        tuple(failures),
    )
