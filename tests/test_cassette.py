"""Record/replay cassettes: versioned JSONL, identical replays, loud mismatches, the replay CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_fsm import Agent, CompletionError, RecordingModel, ReplayMismatch, ReplayModel, Usage, tool
from agent_fsm.cli import main
from agent_fsm.codec import to_json
from agent_fsm.errors import ConfigurationError
from agent_fsm.events import Final, ReasoningDelta, TextDelta, ToolCallReady
from agent_fsm.messages import Reasoning, ToolCall, ToolFunction
from agent_fsm.providers.cassette import CASSETTE_VERSION, read_cassette
from agent_fsm.testing import ScriptedModel

from .support import collect


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


def script() -> list[list[Any]]:
    return [
        [ReasoningDelta("hm", id="r"), Reasoning(("hm",), id="r", signature="s"),
         ToolCallReady(ToolCall("c1", ToolFunction("shout", {"text": "hi"})), "i1"), Final(Usage(3, 2), raw={"id": 1})],
        [TextDelta("said "), TextDelta("HI"), Final(Usage(5, 2))],
    ]  # fmt: skip


async def record(path: Path, turns: list[list[Any]] | None = None) -> tuple[list[Any], Any, Any]:
    model = RecordingModel(ScriptedModel(turns or script()), path, note="test")
    run = Agent(model, preamble="be loud", tools=[shout]).stream_prompt("shout hi")
    items, outcome = await collect(run)
    return items, outcome, run


async def test_RecordingModel_writes_a_versioned_header_and_one_line_per_call(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "agent-fsm/cassette"
    assert header["version"] == CASSETTE_VERSION
    assert header["note"] == "test"
    calls = [json.loads(line) for line in lines[1:]]
    assert [c["call"] for c in calls] == [0, 1]
    assert calls[0]["events"][-1] == {"type": "final", "usage": {"input_tokens": 3, "output_tokens": 2,
                                      "total_tokens": 0, "cached_input_tokens": 0}, "raw": {"id": 1}}  # fmt: skip
    assert calls[1]["request"]["prompt"]["content"][0]["type"] == "toolresult"
    assert all(c["complete"] and c["error"] is None for c in calls)


async def test_ReplayModel_replays_the_same_items_and_history(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    items, _, run = await record(path)
    replay = Agent(ReplayModel(path), preamble="be loud", tools=[shout]).stream_prompt("shout hi")
    replayed, outcome = await collect(replay)
    assert outcome is None
    assert to_json(replayed) == to_json(items)
    assert to_json(list(replay.history)) == to_json(list(run.history))


async def test_ReplayModel_refuses_a_different_request_and_shows_the_diff(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await record(path)
    replay = Agent(ReplayModel(path), preamble="be quiet", tools=[shout]).stream_prompt("shout hi")
    _, outcome = await collect(replay)
    assert isinstance(outcome, ReplayMismatch)
    assert outcome.call == 0
    assert '-  "preamble": "be loud"' in outcome.diff
    assert '+  "preamble": "be quiet"' in outcome.diff


async def test_recorded_errors_and_early_closes_replay_the_same(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    turns: list[list[Any]] = [[TextDelta("par"), CompletionError("overloaded", status=529)]]
    _, outcome, run = await record(path, turns)
    assert isinstance(outcome, CompletionError)
    _, calls = read_cassette(path)
    assert calls[0].error is not None and calls[0].error.status == 529
    replay = Agent(ReplayModel(path), preamble="be loud", tools=[shout]).stream_prompt("shout hi")
    _, outcome2 = await collect(replay)
    assert isinstance(outcome2, CompletionError) and outcome2.status == 529
    assert replay.history == run.history


def test_read_cassette_refuses_what_is_not_a_cassette(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "other"}\n')
    with pytest.raises(ConfigurationError, match="not an agent-fsm cassette"):
        read_cassette(bad)
    bad.write_text('{"format": "agent-fsm/cassette", "version": 99}\n')
    with pytest.raises(ConfigurationError, match="version 99"):
        read_cassette(bad)


async def test_cli_replay_runs_a_recording_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.jsonl"
    await record(path)
    capsys.readouterr()
    code = await _in_thread(["replay", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "tool result <- [c1] HI" in out
    assert "final response: said HI" in out
    assert "state: Done" in out


async def _in_thread(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_a_fuzz_cassette_is_a_cassette_replay_model_plays(tmp_path: Path) -> None:
    from agent_fsm.errors import CompletionError as Failed
    from agent_fsm.testing import FuzzCase, dump_cassette

    case = FuzzCase([[TextDelta("par"), Failed("overloaded", status=529), TextDelta("never")]], max_turns=2)
    path = tmp_path / "case.jsonl"
    path.write_text(dump_cassette(case))
    header, calls = read_cassette(path)
    assert header["kind"] == "agent-fsm/fuzz-case"
    assert calls[0].events == [TextDelta("par")]
    assert calls[0].error is not None and calls[0].error.status == 529
    _, outcome = await collect(Agent(ReplayModel(path)).stream_prompt("go"))
    assert isinstance(outcome, CompletionError) and outcome.status == 529


async def test_a_recording_whose_text_holds_a_unicode_line_separator_replays(tmp_path: Path) -> None:
    # Regression: the recorder wrote U+2028 raw and its reader split lines on it (str.splitlines),
    # so the cassette no longer read. One writer escapes it; one reader splits on newlines only.
    path = tmp_path / "run.jsonl"
    turns = [[TextDelta("one\u2028two\x85three"), Final(Usage(1, 1))]]
    items, _, _ = await record(path, turns)
    assert len(path.read_text(encoding="utf-8").split("\n")) == 3  # header, one call, the last newline
    replayed, outcome = await collect(
        Agent(ReplayModel(path), preamble="be loud", tools=[shout]).stream_prompt("shout hi")
    )
    assert outcome is None
    assert to_json(replayed) == to_json(items)


def test_one_reader_one_error_for_recordings_and_fuzz_cassettes(tmp_path: Path) -> None:
    from agent_fsm.codec import CodecError
    from agent_fsm.errors import CassetteError
    from agent_fsm.testing import load_cassette

    newer = json.dumps({"format": "agent-fsm/cassette", "version": CASSETTE_VERSION + 1, "kind": "agent-fsm/fuzz-case"})
    path = tmp_path / "newer.jsonl"
    path.write_text(newer + "\n")
    with pytest.raises(CassetteError, match="version") as from_file:
        read_cassette(path)
    with pytest.raises(CassetteError, match="version") as from_text:
        load_cassette(newer)
    for caught in (from_file.value, from_text.value):  # what each caller caught before still catches it
        assert isinstance(caught, ConfigurationError) and isinstance(caught, CodecError)
