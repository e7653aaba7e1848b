"""One system of ``make bench-peers``, in its own process: S1 and S2, paired with the hand-written loop.

``python bench/peer_worker.py SYSTEM`` (in ``bench/.venv-peers``) sets the system up, prints one
JSON line ``{"ready": ..., "version": ...}``, then answers each line ``S1`` or ``S2`` on stdin with
one JSON line ``{"system": seconds per run, "baseline": seconds per run}``: one batch of the
system, one of the hand-written loop of :mod:`scenarios` (the order alternating), timed back to
back in this process. ``quit`` ends it.

Every system is fed the same logical script (S1: one turn of 2,000 deltas of ``"abcd"`` and usage;
S2: nine turns that each call ``echo``, then 50 deltas), prebuilt as that library's own event
objects and played by a bare async generator - the peer's equivalent of ``MinimalModel`` - so no
system pays for building its model's events. Each is consumed the way its users stream: every
streamed item iterated.

* ``agent_fsm`` - this engine, exactly as in ``make bench``.
* ``pydantic_ai`` - ``FunctionModel(stream_function=...)`` yielding ``str`` deltas and
  ``DeltaToolCalls``; ``agent.run_stream_events(...)`` iterated; ``echo`` a ``tool_plain``.
* ``openai_agents`` - a ``Model`` subclass whose ``stream_response`` yields prebuilt Responses
  stream events (``output_item.added``, ``output_text.delta`` x N, ``output_item.done``,
  ``response.completed`` with usage; for a call, the function-call item and its argument events);
  ``Runner.run_streamed(...).stream_events()`` iterated; ``echo`` a ``function_tool``; tracing off
  (it would export to OpenAI).
* ``langgraph`` - ``langgraph.prebuilt.create_react_agent`` over a ``GenericFakeChatModel``
  subclass whose ``_astream`` yields prebuilt ``ChatGenerationChunk``\\s (text chunks; a
  ``tool_call_chunks`` chunk for a call; usage on the last chunk), ``bind_tools`` returning the
  model; ``graph.astream(..., stream_mode="messages")`` iterated; ``echo`` a LangChain ``@tool``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine
from scenarios import (
    S1_DELTA_TEXT,
    S1_DELTAS,
    S2_FINAL_DELTAS,
    S2_TURNS,
    MinimalModel,
    consume,
    echo,
    handwritten,
    s1_script,
    s2_script,
)

RunFn = Callable[[], Awaitable[int]]
ECHO_CALLS = [0]


async def counted_echo(text: str) -> str:
    """``echo``, counted, so each peer can be checked to run the tool as often as the script says."""
    ECHO_CALLS[0] += 1
    return await echo(text)


# (S1 runs, S2 runs) per timed batch: each batch lasts tens of ms.
BATCH = {"agent_fsm": (8, 60), "pydantic_ai": (1, 3), "openai_agents": (1, 4), "langgraph": (1, 3)}
BASELINE_BATCH = (8, 60)


def turn_plan(scenario: str) -> list[tuple[str, Any]]:
    """The logical script: ``("text", n_deltas)`` or ``("call", (call_id, arguments))`` per turn."""
    if scenario == "S1":
        return [("text", S1_DELTAS)]
    return [("call", (f"call_{t}", {"text": f"ping {t}"})) for t in range(1, S2_TURNS)] + [("text", S2_FINAL_DELTAS)]


# ------------------------------------------------------------------------------------ agent-fsm


def setup_agent_fsm(scenario: str) -> tuple[RunFn, str]:
    script = s1_script() if scenario == "S1" else s2_script()
    agent = engine.make_agent(script)

    async def run() -> int:
        return await consume(agent.stream_prompt("go"))

    return run, version("agent-fsm")


# ------------------------------------------------------------------------------------ pydantic-ai


def setup_pydantic_ai(scenario: str) -> tuple[RunFn, str]:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse
    from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

    turns: list[list[Any]] = []
    for kind, arg in turn_plan(scenario):
        if kind == "text":
            turns.append([S1_DELTA_TEXT] * arg)
        else:
            call_id, args = arg
            turns.append([{0: DeltaToolCall(name="echo", json_args=json.dumps(args), tool_call_id=call_id)}])

    async def stream_function(messages: list[Any], info: AgentInfo) -> AsyncIterator[Any]:
        turn = sum(1 for m in messages if isinstance(m, ModelResponse))
        for item in turns[turn]:
            yield item

    agent = Agent(FunctionModel(stream_function=stream_function))

    @agent.tool_plain(name="echo")
    async def echo_tool(text: str) -> str:
        """Echo the text back."""
        return await counted_echo(text)

    async def run() -> int:
        n = 0
        async with agent.run_stream_events("go") as events:
            async for _ in events:
                n += 1
        return n

    return run, version("pydantic-ai-slim")


# ------------------------------------------------------------------------------------ openai-agents


def setup_openai_agents(scenario: str) -> tuple[RunFn, str]:
    from agents import Agent, Model, RunConfig, Runner, function_tool, set_tracing_disabled
    from openai.types.responses import (
        Response,
        ResponseCompletedEvent,
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseFunctionCallArgumentsDoneEvent,
        ResponseFunctionToolCall,
        ResponseOutputItemAddedEvent,
        ResponseOutputItemDoneEvent,
        ResponseOutputMessage,
        ResponseOutputText,
        ResponseTextDeltaEvent,
        ResponseUsage,
    )
    from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

    set_tracing_disabled(True)

    def response(output: list[Any], n_out: int) -> Response:
        usage = ResponseUsage(
            input_tokens=10,
            output_tokens=n_out,
            total_tokens=10 + n_out,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        )
        return Response(
            id="resp_1", created_at=0, model="scripted", object="response", output=output, tool_choice="auto",
            tools=[], top_p=None, parallel_tool_calls=False, usage=usage,
        )  # fmt: skip

    turns: list[list[Any]] = []
    for kind, arg in turn_plan(scenario):
        if kind == "text":
            text = S1_DELTA_TEXT * arg
            part = ResponseOutputText(type="output_text", text=text, annotations=[])
            done = ResponseOutputMessage(
                id="msg_1", type="message", role="assistant", status="completed", content=[part]
            )
            opened = ResponseOutputMessage(
                id="msg_1", type="message", role="assistant", status="in_progress", content=[]
            )
            events: list[Any] = [
                ResponseOutputItemAddedEvent(type="response.output_item.added", item=opened, output_index=0,
                                             sequence_number=0),
                *(ResponseTextDeltaEvent(type="response.output_text.delta", item_id="msg_1", output_index=0,
                                         content_index=0, delta=S1_DELTA_TEXT, logprobs=[], sequence_number=i + 1)
                  for i in range(arg)),
                ResponseOutputItemDoneEvent(type="response.output_item.done", item=done, output_index=0,
                                            sequence_number=arg + 1),
                ResponseCompletedEvent(type="response.completed", response=response([done], arg),
                                       sequence_number=arg + 2),
            ]  # fmt: skip
        else:
            call_id, args = arg
            raw = json.dumps(args)
            call = ResponseFunctionToolCall(
                id=f"fc_{call_id}",
                call_id=call_id,
                name="echo",
                arguments=raw,
                type="function_call",
                status="completed",
            )
            events = [
                ResponseOutputItemAddedEvent(type="response.output_item.added", item=call, output_index=0,
                                             sequence_number=0),
                ResponseFunctionCallArgumentsDeltaEvent(type="response.function_call_arguments.delta",
                                                        item_id=call.id, output_index=0, delta=raw, sequence_number=1),
                ResponseFunctionCallArgumentsDoneEvent(type="response.function_call_arguments.done", item_id=call.id,
                                                       output_index=0, arguments=raw, name="echo", sequence_number=2),
                ResponseOutputItemDoneEvent(type="response.output_item.done", item=call, output_index=0,
                                            sequence_number=3),
                ResponseCompletedEvent(type="response.completed", response=response([call], 5), sequence_number=4),
            ]  # fmt: skip
        turns.append(events)

    class ScriptModel(Model):
        """Plays the prebuilt events of the turn the input has reached (two items per earlier turn)."""

        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("streaming only")

        def stream_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
            turn = 0 if isinstance(input, str) else (len(input) - 1) // 2
            return _play(turns[turn])

    @function_tool(name_override="echo")
    async def echo_tool(text: str) -> str:
        """Echo the text back."""
        return await counted_echo(text)

    agent = Agent(name="bench", instructions=None, model=ScriptModel(), tools=[echo_tool])
    config = RunConfig(tracing_disabled=True)

    async def run() -> int:
        n = 0
        result = Runner.run_streamed(agent, "go", max_turns=10, run_config=config)
        async for _ in result.stream_events():
            n += 1
        return n

    return run, version("openai-agents")


async def _play(events: list[Any]) -> AsyncGenerator[Any, None]:
    for event in events:
        yield event


# ------------------------------------------------------------------------------------ LangGraph


def setup_langgraph(scenario: str) -> tuple[RunFn, str]:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessageChunk, ToolMessage
    from langchain_core.outputs import ChatGenerationChunk
    from langchain_core.tools import tool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

    turns: list[list[Any]] = []
    for t, (kind, arg) in enumerate(turn_plan(scenario)):
        mid = f"msg_{t}"
        last = AIMessageChunk(
            content="", id=mid, chunk_position="last",
            usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        )  # fmt: skip
        if kind == "text":
            chunks = [AIMessageChunk(content=S1_DELTA_TEXT, id=mid) for _ in range(arg)]
        else:
            call_id, args = arg
            chunk = {"name": "echo", "args": json.dumps(args), "id": call_id, "index": 0, "type": "tool_call_chunk"}
            chunks = [AIMessageChunk(content="", id=mid, tool_call_chunks=[chunk])]
        turns.append([ChatGenerationChunk(message=m) for m in (*chunks, last)])

    class ScriptedChatModel(GenericFakeChatModel):
        """Streams the prebuilt chunks of the turn the conversation has reached."""

        async def _astream(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            turn = sum(1 for m in messages if isinstance(m, ToolMessage))
            for chunk in turns[turn]:
                yield chunk

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    @tool("echo")
    async def echo_tool(text: str) -> str:
        """Echo the text back."""
        return await counted_echo(text)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = create_react_agent(ScriptedChatModel(messages=iter(())), [echo_tool])
    inputs = {"messages": [("user", "go")]}

    async def run() -> int:
        n = 0
        async for _ in graph.astream(inputs, stream_mode="messages"):
            n += 1
        return n

    return run, version("langgraph")


SETUPS = {
    "agent_fsm": setup_agent_fsm,
    "pydantic_ai": setup_pydantic_ai,
    "openai_agents": setup_openai_agents,
    "langgraph": setup_langgraph,
}


def baseline_run(scenario: str) -> RunFn:
    model = MinimalModel(s1_script() if scenario == "S1" else s2_script())

    async def run() -> int:
        return await consume(handwritten(model, "go", engine.TOOLS))

    return run


async def timed(run: RunFn, batch: int) -> tuple[float, int]:
    gc.collect()
    t = time.perf_counter()
    n = 0
    for _ in range(batch):
        n = await run()
    return (time.perf_counter() - t) / batch, n


async def serve(system: str) -> None:
    runs: dict[str, tuple[RunFn, RunFn]] = {}
    ver = ""
    items: dict[str, int] = {}
    for i, scenario in enumerate(("S1", "S2")):
        run, ver = SETUPS[system](scenario)
        runs[scenario] = (run, baseline_run(scenario))
        ECHO_CALLS[0] = 0
        _, items[scenario] = await timed(run, 1)
        expected = 0 if scenario == "S1" else S2_TURNS - 1
        if system != "agent_fsm" and ECHO_CALLS[0] != expected:
            raise AssertionError(f"{system} {scenario}: echo ran {ECHO_CALLS[0]} times, expected {expected}")
        for _ in range(2):  # warm-up
            await timed(run, 1)
            await timed(runs[scenario][1], BASELINE_BATCH[i])
    print(json.dumps({"ready": system, "version": ver, "items": items}), flush=True)
    count = 0
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "quit":
            return
        i = 0 if line == "S1" else 1
        run, base = runs[line]
        if count % 2 == 0:
            s, _ = await timed(run, BATCH[system][i])
            b, _ = await timed(base, BASELINE_BATCH[i])
        else:
            b, _ = await timed(base, BASELINE_BATCH[i])
            s, _ = await timed(run, BATCH[system][i])
        count += 1
        print(json.dumps({"system": s, "baseline": b}), flush=True)


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
