"""The sans-IO parsers alone, fed frames by hand: the cases no recording covers (truncated tool
calls in every format, in-band errors, bodies that end early, Ollama tool calls) and the
properties every parser keeps (no I/O imports, determinism, Final last)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from agent_fsm.events import Final, ModelEvent, Reasoning, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.messages import ToolCall, ToolFunction, Usage
from agent_fsm.providers import replay
from agent_fsm.providers.errors import InBandError, IncompleteStreamError, IncompleteToolCallError, ProtocolError
from agent_fsm.providers.replay import decode_frames, new_parser
from agent_fsm.providers.wire import (
    AnthropicParser,
    OllamaParser,
    OpenAIChatParser,
    OpenAIResponsesParser,
    StreamParser,
    parse_arguments,
)

from .wire_server import WIRE_DIR, load_manifest


def feed(parser: StreamParser, frames: list[tuple[str, Any]]) -> list[ModelEvent]:
    events: list[ModelEvent] = []
    for event, data in frames:
        events.extend(parser.feed(event, data if isinstance(data, str) else json.dumps(data)))
    events.extend(parser.finish())
    return events


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> tuple[str, dict[str, Any]]:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return "message", {"id": "r1", "model": "m", "choices": [choice], **extra}


def test_the_parsers_import_neither_httpx_nor_asyncio() -> None:
    code = "import sys, agent_fsm.providers.wire; print(sorted({'httpx', 'asyncio', 'httpx_sse'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_parse_arguments() -> None:
    assert parse_arguments("") == {}
    assert parse_arguments("  ") == {}
    assert parse_arguments('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_arguments('{"a": 1') == '{"a": 1'  # passed through for the tool layer to report


# ---------------------------------------------------------------------- OpenAI Chat


def test_chat_parallel_calls_are_ready_in_index_order_whatever_the_arrival_order() -> None:
    events = feed(
        OpenAIChatParser(),
        [
            chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x"'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
            chunk(finish="tool_calls"),
            ("message", "[DONE]"),
        ],
    )
    ready = [e for e in events if isinstance(e, ToolCallReady)]
    assert ready == [
        ToolCallReady(ToolCall("a", ToolFunction("f", {"x": 1})), "r1:0"),
        ToolCallReady(ToolCall("b", ToolFunction("g", {})), "r1:1"),
    ]
    assert events[0] == ToolCallDelta("b", "r1:1", name="g")
    assert isinstance(events[-1], Final)


def test_chat_finish_reason_length_inside_a_tool_call_emits_no_ready_call() -> None:
    parser = OpenAIChatParser()
    events: list[ModelEvent] = []
    events += parser.feed(*_dump(chunk({"content": "Writing the file."})))
    events += parser.feed(
        *_dump(
            chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "write", "arguments": '{"t": "ab'}}]})
        )
    )
    with pytest.raises(IncompleteToolCallError, match="finish_reason=length") as caught:
        parser.feed(*_dump(chunk(finish="length")))
    assert (caught.value.tool_name, caught.value.tool_call_id) == ("write", "c")
    assert not any(isinstance(e, ToolCallReady) for e in events)


def test_chat_length_without_tool_calls_is_a_normal_truncated_answer() -> None:
    events = feed(OpenAIChatParser(), [chunk({"content": "Once upon"}), chunk(finish="length"), ("message", "[DONE]")])
    assert events[0] == TextDelta("Once upon")
    assert isinstance(events[-1], Final)
    assert events[-1].raw["finish_reason"] == "length"


def test_chat_done_without_finish_reason_still_emits_calls_and_missing_ids_are_derived() -> None:
    events = feed(
        OpenAIChatParser(),
        [chunk({"tool_calls": [{"function": {"name": "f", "arguments": "not json"}}]}), ("message", "[DONE]")],
    )
    ready = [e for e in events if isinstance(e, ToolCallReady)]
    assert ready == [ToolCallReady(ToolCall("r1:0", ToolFunction("f", "not json")), "r1:0")]


def test_chat_reasoning_closes_when_text_starts_and_keeps_its_signature() -> None:
    details = [{"type": "reasoning.text", "signature": "sig"}]
    events = feed(
        OpenAIChatParser(),
        [
            chunk({"reasoning_content": "think "}),
            chunk({"reasoning": "more", "reasoning_details": details}),
            chunk({"content": "answer"}),
            chunk(finish="stop"),
        ],
    )
    assert events[:4] == [
        ReasoningDelta("think ", "r1:reasoning-0"),
        ReasoningDelta("more", "r1:reasoning-0"),
        Reasoning(("think more",), "r1:reasoning-0", "sig"),
        TextDelta("answer"),
    ]


def test_chat_content_sent_as_a_list_of_parts() -> None:
    events = feed(OpenAIChatParser(), [chunk({"content": [{"type": "text", "text": "Hi"}]}), chunk(finish="stop")])
    assert events[0] == TextDelta("Hi")


def test_chat_usage_with_cached_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    events = feed(OpenAIChatParser(), [chunk(finish="stop"), ("message", {"id": "r1", "choices": [], "usage": usage})])
    assert events[-1] == Final(
        Usage(100, 5, 105, 64), {"id": "r1", "model": "m", "finish_reason": "stop", "usage": usage}
    )


def test_chat_ended_before_finish_is_incomplete_and_bad_json_is_a_protocol_error() -> None:
    parser = OpenAIChatParser()
    parser.feed(*_dump(chunk({"content": "Hel"})))
    with pytest.raises(IncompleteStreamError):
        parser.finish()
    with pytest.raises(ProtocolError, match="not valid JSON"):
        OpenAIChatParser().feed("message", "{oops")
    with pytest.raises(ProtocolError, match="not a JSON object"):
        OpenAIChatParser().feed("message", "[1, 2]")


def test_chat_error_objects() -> None:
    with pytest.raises(InBandError) as caught:
        OpenAIChatParser("Groq").feed(
            "error", '{"error": {"message": "x", "type": "server_error", "status_code": 503}}'
        )
    assert (caught.value.status, caught.value.retryable, caught.value.error_type) == (503, True, "server_error")
    with pytest.raises(InBandError, match="bare"):
        OpenAIChatParser().feed("error", '{"message": "bare"}')


# ---------------------------------------------------------------------- Anthropic

MSG = {
    "type": "message_start",
    "message": {"id": "msg", "model": "c", "usage": {"input_tokens": 10, "output_tokens": 1}},
}


def a(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}


def test_anthropic_interleaved_thinking_and_parallel_tool_use() -> None:
    events = feed(
        AnthropicParser(),
        [
            ("message_start", MSG),
            a("content_block_start", index=0, content_block={"type": "thinking", "thinking": "", "signature": ""}),
            a("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "plan"}),
            a("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "s0"}),
            a("content_block_stop", index=0),
            a("content_block_start", index=1, content_block={"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
            a("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"a": 1}'}),
            a("content_block_stop", index=1),
            a("content_block_start", index=2, content_block={"type": "tool_use", "id": "t2", "name": "g", "input": {}}),
            a("content_block_stop", index=2),
            a("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 30}),
            a("message_stop"),
        ],
    )
    assert events == [
        ReasoningDelta("plan", "msg:0"),
        Reasoning(("plan",), "msg:0", "s0"),
        ToolCallDelta("t1", "msg:1", name="f"),
        ToolCallDelta("t1", "msg:1", arguments='{"a": 1}'),
        ToolCallReady(ToolCall("t1", ToolFunction("f", {"a": 1})), "msg:1"),
        ToolCallDelta("t2", "msg:2", name="g"),
        ToolCallReady(ToolCall("t2", ToolFunction("g", {})), "msg:2"),
        Final(
            Usage(10, 30, 40),
            {"id": "msg", "model": "c", "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 30}},
        ),
    ]


def test_anthropic_usage_counts_cache_reads_and_writes_as_input() -> None:
    start = {
        **MSG["message"],
        "usage": {"input_tokens": 5, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 10},
    }
    events = feed(
        AnthropicParser(),
        [
            ("message_start", {"type": "message_start", "message": start}),
            a("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 7}),
            a("message_stop"),
        ],
    )
    assert events[-1].usage == Usage(105, 7, 112, 90)  # type: ignore[union-attr]


def test_anthropic_server_tool_blocks_are_never_client_calls() -> None:
    events = feed(
        AnthropicParser(),
        [
            ("message_start", MSG),
            a(
                "content_block_start",
                index=0,
                content_block={"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
            ),
            a("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"q": 1}'}),
            a("content_block_stop", index=0),
            a(
                "content_block_start",
                index=1,
                content_block={"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
            ),
            a("content_block_stop", index=1),
            a("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 3}),
            a("message_stop"),
        ],
    )
    assert len(events) == 1
    assert isinstance(events[0], Final)


def test_anthropic_ended_before_message_delta_is_incomplete() -> None:
    parser = AnthropicParser()
    parser.feed(*_dump(("message_start", MSG)))
    with pytest.raises(IncompleteStreamError):
        parser.finish()


# ---------------------------------------------------------------------- OpenAI Responses


def r(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}


CREATED = r("response.created", response={"id": "resp", "model": "m", "status": "in_progress"})
CALL = {"type": "function_call", "id": "fc", "call_id": "call", "name": "f", "arguments": ""}


def test_responses_incomplete_inside_a_function_call_raises() -> None:
    parser = OpenAIResponsesParser()
    events: list[ModelEvent] = []
    for frame in [
        CREATED,
        r("response.output_item.added", output_index=0, item=CALL),
        r("response.function_call_arguments.delta", item_id="fc", output_index=0, delta='{"x": '),
    ]:
        events += parser.feed(*_dump(frame))
    assert events == [ToolCallDelta("call", "resp:0", name="f"), ToolCallDelta("call", "resp:0", arguments='{"x": ')]
    incomplete = r(
        "response.incomplete", response={"id": "resp", "incomplete_details": {"reason": "max_output_tokens"}}
    )
    with pytest.raises(IncompleteToolCallError, match="max_output_tokens"):
        parser.feed(*_dump(incomplete))


def test_responses_an_incomplete_item_is_never_ready() -> None:
    parser = OpenAIResponsesParser()
    parser.feed(*_dump(CREATED))
    with pytest.raises(IncompleteToolCallError):
        parser.feed(*_dump(r("response.output_item.done", output_index=0, item={**CALL, "status": "incomplete"})))


def test_responses_failed_and_error_frames() -> None:
    failed = r("response.failed", response={"id": "resp", "error": {"code": "server_error", "message": "melted"}})
    with pytest.raises(InBandError, match="melted") as caught:
        feed(OpenAIResponsesParser(), [CREATED, failed])
    assert caught.value.retryable
    with pytest.raises(InBandError, match="too many"):
        feed(OpenAIResponsesParser(), [r("error", code="rate_limit_exceeded", message="too many")])


def test_responses_ended_before_completed_is_incomplete() -> None:
    with pytest.raises(IncompleteStreamError):
        feed(OpenAIResponsesParser(), [CREATED])


# ---------------------------------------------------------------------- Ollama


def o(content: str = "", done: bool = False, **message: Any) -> tuple[str, dict[str, Any]]:
    line: dict[str, Any] = {
        "model": "m",
        "created_at": "T",
        "message": {"role": "assistant", "content": content, **message},
    }
    line["done"] = done
    if done:
        line.update(done_reason="stop", prompt_eval_count=7, eval_count=3)
    return "", line


def test_ollama_thinking_and_tool_calls() -> None:
    events = feed(
        OllamaParser(),
        [
            o(thinking="hmm"),
            o(tool_calls=[{"function": {"name": "f", "arguments": {"a": 1}}}, {"id": "x", "function": {"name": "g"}}]),
            o(done=True),
        ],
    )
    assert events == [
        ReasoningDelta("hmm", "ollama:T:reasoning-0"),
        Reasoning(("hmm",), "ollama:T:reasoning-0"),
        ToolCallDelta("ollama:T:0", "ollama:T:0", name="f"),
        ToolCallDelta("ollama:T:0", "ollama:T:0", arguments='{"a": 1}'),
        ToolCallDelta("x", "ollama:T:1", name="g"),
        ToolCallDelta("x", "ollama:T:1", arguments="{}"),
        ToolCallReady(ToolCall("ollama:T:0", ToolFunction("f", {"a": 1})), "ollama:T:0"),
        ToolCallReady(ToolCall("x", ToolFunction("g", {})), "ollama:T:1"),
        Final(
            Usage(7, 3, 10),
            {"model": "m", "created_at": "T", "done_reason": "stop", "prompt_eval_count": 7, "eval_count": 3},
        ),
    ]


def test_ollama_error_line_and_missing_done() -> None:
    with pytest.raises(InBandError, match="model not found"):
        feed(OllamaParser(), [("", {"error": "model not found"})])
    with pytest.raises(IncompleteStreamError):
        feed(OllamaParser(), [o("Hi")])


# ---------------------------------------------------------------------- replay (the benchmark entry)


@pytest.mark.skipif(not WIRE_DIR.exists(), reason=f"the shared recordings are absent ({WIRE_DIR})")
def test_replay_is_deterministic_and_frames_can_be_decoded_once() -> None:
    for entry in load_manifest():
        wire_format = entry["file"].split("/")[0]
        body = (WIRE_DIR / entry["file"]).read_bytes()
        frames = decode_frames(wire_format, body)
        assert frames
        try:
            first = replay(wire_format, body)
        except Exception as exc:
            with pytest.raises(type(exc)):
                replay(wire_format, body)
            continue
        assert replay(wire_format, body) == first
        parser = new_parser(wire_format)
        again = [e for frame in frames for e in parser.feed(*frame)] + list(parser.finish())
        assert again == first


def test_new_parser_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown wire format"):
        new_parser("gemini")  # type: ignore[arg-type]


def _dump(frame: tuple[str, Any]) -> tuple[str, str]:
    return frame[0], json.dumps(frame[1])


# ---------------------------------------------------------------------- cut tool calls, whatever the frame order


def test_anthropic_a_tool_use_block_stopped_before_a_max_tokens_stop_reason_is_cut() -> None:
    frames = [
        ("message_start", MSG),
        a("content_block_start", index=0, content_block={"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
        a("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"a": '}),
        a("content_block_stop", index=0),  # LiteLLM closes the cut block first
        a("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 30}),
        a("message_stop"),
    ]
    assert_cut_before_ready(AnthropicParser(), frames, "max_tokens", "t1")


def test_anthropic_a_complete_call_followed_by_text_cut_at_max_tokens_stays_ready() -> None:
    events = feed(
        AnthropicParser(),
        [
            ("message_start", MSG),
            a("content_block_start", index=0, content_block={"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
            a("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"a": 1}'}),
            a("content_block_stop", index=0),
            a("content_block_start", index=1, content_block={"type": "text", "text": ""}),
            a("content_block_delta", index=1, delta={"type": "text_delta", "text": "and"}),
            a("content_block_stop", index=1),
            a("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 30}),
            a("message_stop"),
        ],
    )
    assert ToolCallReady(ToolCall("t1", ToolFunction("f", {"a": 1})), "msg:0") in events
    assert isinstance(events[-1], Final)


def test_responses_a_call_done_as_completed_before_response_incomplete_is_cut() -> None:
    done = {**CALL, "arguments": '{"x": ', "status": "completed"}
    frames = [
        CREATED,
        r("response.output_item.added", output_index=0, item=CALL),
        r("response.function_call_arguments.delta", item_id="fc", output_index=0, delta='{"x": '),
        r("response.output_item.done", output_index=0, item=done),
        r("response.incomplete", response={"id": "resp", "incomplete_details": {"reason": "max_output_tokens"}}),
    ]
    assert_cut_before_ready(OpenAIResponsesParser(), frames, "max_output_tokens", "call")


def assert_cut_before_ready(parser: StreamParser, frames: list[tuple[str, Any]], reason: str, call_id: str) -> None:
    """Feeding ``frames`` raises IncompleteToolCallError for ``call_id``, with no call emitted ready."""
    events: list[ModelEvent] = []
    error: IncompleteToolCallError | None = None
    for frame in frames:
        try:
            events += parser.feed(*_dump(frame))
        except IncompleteToolCallError as exc:
            error = exc
            break
    assert error is not None
    assert reason in str(error)
    assert error.tool_call_id == call_id
    assert not any(isinstance(e, ToolCallReady) for e in events)


def test_responses_a_call_followed_by_another_item_is_ready_even_if_the_response_is_incomplete() -> None:
    parser = OpenAIResponsesParser()
    done = {**CALL, "arguments": '{"x": 1}', "status": "completed"}
    message = {"type": "message", "id": "m", "content": []}
    events: list[ModelEvent] = []
    for frame in [
        CREATED,
        r("response.output_item.added", output_index=0, item=CALL),
        r("response.output_item.done", output_index=0, item=done),
        r("response.output_item.added", output_index=1, item=message),
        r("response.output_text.delta", item_id="m", output_index=1, delta="so"),
        r("response.incomplete", response={"id": "resp", "incomplete_details": {"reason": "max_output_tokens"}}),
    ]:
        events += parser.feed(*_dump(frame))
    assert ToolCallReady(ToolCall("call", ToolFunction("f", {"x": 1}), call_id="fc"), "resp:0") in events
    assert isinstance(events[-1], Final)


@pytest.mark.parametrize("code", ["500", "503", 502])
def test_an_in_band_error_whose_code_is_a_5xx_status_is_retryable_even_as_a_string(code: Any) -> None:
    body = json.dumps({"error": {"message": "upstream failed", "type": None, "code": code}})
    with pytest.raises(InBandError, match="upstream failed") as caught:
        OpenAIChatParser().feed("", body)
    assert (caught.value.status, caught.value.retryable) == (int(code), True)


def test_an_in_band_error_with_a_4xx_string_code_is_not_retryable() -> None:
    body = json.dumps({"error": {"message": "bad", "type": None, "code": "400"}})
    with pytest.raises(InBandError) as caught:
        OpenAIChatParser().feed("", body)
    assert (caught.value.status, caught.value.retryable) == (400, False)
