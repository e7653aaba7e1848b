"""``agent-fsm run`` as a user meets it: a real subprocess against a real HTTP server on 127.0.0.1.

What it prints (tool calls and results on their own lines, turns apart, a final newline), how a
failed run reads at the default verbosity (one line) and with ``-v`` (the logs too), what Ctrl-C
does (the run is closed, what streamed is kept, exit 130, no traceback) and what ``--help`` says.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from .wire_server import Reply, WireServer

TOOLS_MODULE = '''
from agent_fsm import tool

@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''


def sse(*chunks: dict[str, object]) -> bytes:
    frames = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(frames).encode()


def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


USAGE = {"id": "c1", "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
CALL = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
TOOL_TURN = sse(chunk({"role": "assistant", "content": "Let me add."}), chunk({"tool_calls": [CALL]}),
                chunk({}, "tool_calls"), USAGE)  # fmt: skip
TEXT_TURN = sse(chunk({"role": "assistant", "content": "It is 5."}), chunk({}, "stop"), USAGE)


def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "cli_tools.py").write_text(TOOLS_MODULE)
    keep = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return {**keep, "PYTHONPATH": str(tmp_path), "NO_COLOR": "1"}


async def agent_fsm(*argv: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent_fsm", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # a guard against hanging, not a timing
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_run_shows_tool_calls_and_results_on_their_own_lines_and_separates_turns(tmp_path: Path) -> None:
    async with WireServer() as server:
        server.queue(Reply(body=TOOL_TURN), Reply(body=TEXT_TURN))
        proc = await agent_fsm(
            "run", "--model", "openai:m", "--base-url", f"{server.url}/v1", "--tools", "cli_tools:add", "2+3?",
            env=env(tmp_path),
        )  # fmt: skip
        code, out, err = await finish(proc)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "assistant: Let me add.",
        'tool call -> add [call_1] {"a": 2, "b": 3}',
        "  ready: add({'a': 2, 'b': 3})",
        "  [turn done: 3 in / 2 out tokens]",
        "tool result <- [call_1] 5",
        "assistant: It is 5.",
        "  [turn done: 3 in / 2 out tokens]",
    ]
    assert out.endswith("\n")


async def test_a_failed_run_is_one_line_by_default_and_the_logs_come_with_v(tmp_path: Path) -> None:
    failing = Reply(400, b'{"error": {"message": "no such model"}}', "application/json")
    async with WireServer() as server:
        server.queue(failing)
        quiet = await finish(await agent_fsm("run", "--model", "openai:m", "--base-url", f"{server.url}/v1", "hi",
                                             env=env(tmp_path)))  # fmt: skip
        server.queue(failing)
        loud = await finish(await agent_fsm("-v", "run", "--model", "openai:m", "--base-url", f"{server.url}/v1", "hi",
                                            env=env(tmp_path)))  # fmt: skip
    code, out, err = quiet
    assert code == 1
    assert out == ""
    assert err.startswith("agent-fsm run: APIStatusError: ") and err.count("\n") == 1
    assert f"POST {server.url}/v1/chat/completions" in err
    code, _, err = loud
    assert code == 1
    events = [json.loads(line)["event"] for line in err.splitlines()[:-1]]
    assert {"model call failed", "run ended"} <= set(events)
    assert err.splitlines()[-1].startswith("agent-fsm run: APIStatusError: ")


async def test_partial_text_of_a_failed_run_ends_with_a_newline(tmp_path: Path) -> None:
    body = sse(chunk({"role": "assistant", "content": "Half a"}))[: -len("data: [DONE]\n\n")]
    async with WireServer() as server:
        server.queue(Reply(body=body))
        code, out, err = await finish(
            await agent_fsm("run", "--model", "openai:m", "--base-url", f"{server.url}/v1", "hi", env=env(tmp_path))
        )
    assert code == 1
    assert out == "assistant: Half a\n"
    assert err.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_ctrl_c_closes_the_run_prints_what_streamed_and_exits_130(tmp_path: Path) -> None:
    first = f"data: {json.dumps(chunk({'role': 'assistant', 'content': 'Hel'}))}\n\n".encode()
    body = first + sse(chunk({"content": "lo"}), chunk({}, "stop"), USAGE)
    async with WireServer() as server:
        server.queue(Reply(body=body, stall_after=len(first), stall_for=60))  # streams slowly: stalls after "Hel"
        proc = await agent_fsm("run", "--model", "openai:m", "--base-url", f"{server.url}/v1", "hi", env=env(tmp_path))
        assert proc.stdout is not None
        seen = b""
        while b"Hel" not in seen:
            piece = await asyncio.wait_for(proc.stdout.read(64), 60)
            assert piece, "the process ended before streaming"
            seen += piece
        proc.send_signal(signal.SIGINT)
        code, rest, err = await finish(proc)
        await asyncio.wait_for(server.client_gone.wait(), 60)  # the run closed its HTTP stream
    assert code == 130
    assert seen.decode() + rest == "assistant: Hel\n"
    assert "Traceback" not in err
    assert err == ""


async def test_run_help_is_plain_and_names_the_environment_variables(tmp_path: Path) -> None:
    code, out, err = await finish(await agent_fsm("run", "--help", env=env(tmp_path)))
    assert (code, err) == (0, "")
    assert "``" not in out
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OLLAMA_HOST"):
        assert name in out
    assert "130" in out
