"""``agent-fsm fuzz``: the coverage table, the gate, reproducible seeds, cassettes of failures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent_fsm.cli import main
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.table import EDGES
from agent_fsm.testing import FuzzCase, HookPolicy
from agent_fsm.testing.campaign import run_fuzz

from .test_compiled import COMPILED


def fuzz(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["fuzz", "--plain", *args])
    return code, capsys.readouterr().out


def test_fuzz_prints_every_edge_with_its_hits_and_a_gate_that_matches_them(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = fuzz(capsys, "--examples", "300", "--seed", "3")
    table = out.split("edges covered:")[0]
    missing = []
    for edge in EDGES:
        row = next(line for line in table.splitlines() if line.split()[:1] == [str(edge.index)])
        assert edge.label in row, row
        if row.endswith("MISSING"):
            missing.append(edge)
        else:
            assert int(row.split()[-2]) > 0 and int(row.split()[-1]) > 0, row
    assert len(missing) <= 5, "even a tiny campaign takes nearly every edge"
    if missing:
        assert code == 1 and "gate: FAIL" in out and all(e.label in out.split("gate: FAIL")[1] for e in missing)
    else:
        assert code == 0 and f"gate: PASS - {len(EDGES)}/{len(EDGES)} edges exercised, no invariant broken" in out
    for phase in ("sync", "async", "stateful"):
        assert f"{phase}: " in out
    assert "examples/s" in out and "runs/s" in out


def test_fuzz_fails_the_gate_when_an_edge_is_never_exercised(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = fuzz(capsys, "--examples", "10", "--shares", "sync=1")
    assert code == 1
    assert "gate: FAIL" in out and "never exercised" in out
    from agent_fsm.machine.table import EDGES, State

    edge = next(e for e in EDGES if e.trigger == "illegal_event" and e.source is State.ExecutingTool)
    assert f"#{edge.index} ExecutingTool: illegal_event" in out, "only a misbehaving driver reaches it"


def test_fuzz_same_seed_same_coverage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    reports = []
    for name in ("a", "b"):
        fuzz(
            capsys,
            "--examples",
            "80",
            "--seed",
            "5",
            "--shares",
            "sync=0.6,stateful=0.4",
            "--json",
            str(tmp_path / name),
        )
        reports.append(json.loads((tmp_path / name).read_text())["coverage"])
    assert reports[0] == reports[1]
    assert reports[0]["runs"] > 80


@pytest.mark.skipif(COMPILED, reason="it patches a method of TurnMachine: a compiled class cannot be patched")
def test_fuzz_reports_a_broken_machine_with_a_cassette(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mutant that forgets the synthetic results of calls a cancelled run never executed.
    original = TurnMachine._seal

    def forgetful_seal(self: TurnMachine, why: str) -> None:
        self._batch = None
        original(self, why)

    monkeypatch.setattr(TurnMachine, "_seal", forgetful_seal)
    code, out = fuzz(capsys, "--examples", "400", "--seed", "1", "--shares", "sync=1")
    assert code == 1
    assert "FAILURE in phase sync" in out and "invariant broken" in out
    assert 'check_case(load_cassette(r"""' in out
    assert "gate: FAIL" in out


def test_fuzz_case_checks_one_cassette(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from agent_fsm.events import Final, TextDelta
    from agent_fsm.messages import Usage

    path = tmp_path / "case.jsonl"
    case = FuzzCase([[TextDelta("hi"), Final(Usage(1, 1, 2))]], hook=HookPolicy({"on_text_delta": ("continue",)}))
    path.write_text(case.to_cassette())
    assert main(["fuzz", "--case", str(path)]) == 0
    assert "ok: Done" in capsys.readouterr().out


def test_fuzz_live_progress_and_rich_table_render() -> None:
    from agent_fsm.cli import fuzz as cli

    out = io.StringIO()
    with cli._progress(True, 40, out) as on_progress:
        report = run_fuzz(40, 2, on_progress=on_progress, shares={"sync": 1.0})
    cli._print_report(report, True, out)
    text = out.getvalue()
    assert "edge coverage:" in text and "│ 28 │ ExecutingTool      │ (stays)           │ tool_verdict" in text
    assert "examples/s" in text


def test_fuzz_rejects_an_unknown_phase() -> None:
    with pytest.raises(SystemExit, match="unknown phase"):
        main(["fuzz", "--shares", "everything=1"])


def test_fuzz_jobs_split_the_examples_and_merge_what_the_workers_found(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = fuzz(capsys, "--examples", "60", "--seed", "2", "--jobs", "2", "--shares", "sync=1")
    assert "2 jobs" in out
    assert "    sync: 60 examples" in out and "total: 60 examples" in out
    covered = int(out.split("edges covered: ")[1].split("/")[0])
    assert covered >= 25, "both workers' coverage is merged"
    assert code == 1 and "never exercised" in out, "no stateful phase: the illegal_event edges stay untaken"


def test_500_examples_exercise_every_edge_of_the_table() -> None:
    """The issue's CI budget: swarm testing reaches every edge within 500 examples (README, fuzz)."""
    report = run_fuzz(500, 1)
    assert report.failures == []
    assert [e.label for e in report.coverage.missing] == []
