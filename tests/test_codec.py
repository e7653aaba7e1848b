"""The one cattrs converter: rig's JSON shapes for messages, camelCase tags for items and events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_fsm import (
    AssistantMessage,
    CompletionRequest,
    Image,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolDefinition,
    ToolFunction,
    ToolOutput,
    ToolResult,
    Usage,
    UserMessage,
)
from agent_fsm.codec import CodecError, from_dict, from_json, to_dict, to_json
from agent_fsm.events import Final, ModelEvent, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem


def test_codec_reads_and_writes_the_design_examples_literally() -> None:
    user = json.loads('{"role": "user", "content": [{"type": "text", "text": "hi"}]}')
    assert from_dict(user, Message) == UserMessage((Text("hi"),))
    assert to_dict(UserMessage((Text("hi"),))) == user

    assistant = {"role": "assistant", "id": None, "content": [{"type": "text", "text": "yo"}]}
    assert from_dict(assistant, Message) == AssistantMessage((Text("yo"),))
    assert to_dict(AssistantMessage((Text("yo"),))) == assistant

    item = json.loads('{"type": "streamAssistantItem", "content": {"type": "textDelta", "text": "He"}}')
    assert from_dict(item, StreamItem) == StreamAssistantItem(TextDelta("He"))
    assert to_dict(StreamAssistantItem(TextDelta("He"))) == item

    result = ToolResult("c1", (Text("5"),))
    user_item = {"type": "streamUserItem", "toolResult": to_dict(result), "internalCallId": "i1"}
    assert to_dict(StreamUserItem(result, "i1")) == user_item
    assert from_dict(user_item, StreamItem) == StreamUserItem(result, "i1")

    final = FinalResponse("ok", Usage(1, 2, 3), (UserMessage((Text("hi"),)),))
    assert to_dict(final) == {
        "type": "finalResponse",
        "response": "ok",
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cached_input_tokens": 0},
        "history": [user],
    }


def test_codec_writes_rig_shapes_for_tool_calls_results_and_reasoning() -> None:
    assert to_dict(ToolCall("c1", ToolFunction("add", {"a": 1}))) == {
        "type": "toolcall",
        "id": "c1",
        "call_id": None,
        "function": {"name": "add", "arguments": {"a": 1}},
    }
    assert to_dict(ToolResult("c1", (Text("2"),))) == {
        "type": "toolresult",
        "id": "c1",
        "content": [{"type": "text", "text": "2"}],
    }
    assert to_dict(ToolResult("c1", (Text("bad"),), call_id="fc1", is_error=True))["is_error"] is True
    assert to_dict(Reasoning(("a", "b"), id="r1")) == {"type": "reasoning", "id": "r1", "reasoning": ["a", "b"]}
    assert to_dict(Image("QUJD", "image/png"))["data"] == {"type": "base64", "value": "QUJD"}


VALUES: list[Any] = [
    UserMessage((Text("hi"), Image("https://x/y.png", kind="url"))),
    AssistantMessage(
        (
            Reasoning(("r",), id="r1", signature="s", redacted=None),
            Text("t"),
            ToolCall("c", ToolFunction("f", [1, {"x": None}])),
        ),
        id="msg_1",
    ),
    UserMessage((ToolResult("c", (Text("x"), Image("AAAA", "image/jpeg", detail="low")), call_id="k", is_error=True),)),
    Reasoning((), redacted="opaque"),
    TextDelta("é\n"),
    ReasoningDelta("r", id=None),
    ToolCallDelta("c", "i", name="f", arguments='{"a'),
    ToolCallReady(ToolCall("c", ToolFunction("f", "not json"), signature="sig"), "i"),
    Final(Usage(1, 2, 3, 4), raw={"id": "resp_1", "nested": [1, 2.5, None]}),
    StreamAssistantItem(Final(Usage())),
    StreamUserItem(ToolResult("c", (Text("x"),)), "i"),
    FinalResponse("r", Usage(), (UserMessage((Text("hi"),)),)),
    CompletionRequest(
        UserMessage((Text("p"),)), (AssistantMessage((Text("a"),)),), "pre", (ToolDefinition("f", "d"),), 0.5, 100,
        {"seed": 1},
    ),
    ToolOutput((Text("x"),), is_error=True),
    Usage(1, 2, 3, 4),
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_codec_round_trips_every_value(value: Any) -> None:
    text = to_json(value)
    assert from_json(text, type(value)) == value
    assert to_json(from_json(text, type(value))) == text


def test_codec_reads_lists_of_mixed_items_and_unions() -> None:
    items = [v for v in VALUES if isinstance(v, StreamAssistantItem | StreamUserItem | FinalResponse)]
    assert from_json(to_json(items), list[StreamItem]) == items
    events = [v for v in VALUES if isinstance(v, TextDelta | ReasoningDelta | ToolCallDelta | ToolCallReady | Final)]
    assert from_json(to_json(events), list[ModelEvent]) == events
    messages = [v for v in VALUES if isinstance(v, UserMessage | AssistantMessage)]
    assert from_json(to_json(messages), list[Message]) == messages


def test_codec_output_is_canonical() -> None:
    a = to_json(Final(Usage(), raw={"b": 1, "a": 2}))
    b = to_json(Final(Usage(), raw={"a": 2, "b": 1}))
    assert a == b
    assert " " not in to_json(Usage())


@pytest.mark.parametrize(
    ("text", "tp", "match"),
    [
        ('{"role": "bot", "content": []}', Message, "unknown role 'bot'"),
        ('{"role": "user", "content": []}', Message, "must not be empty"),
        ('{"role": "user", "content": [{"type": "video"}]}', Message, "unknown type 'video'"),
        ('{"type": "streamAssistantItem"}', StreamItem, "missing field 'content'"),
        ("[1,", Message, "not valid JSON"),
        ('{"role": "user"}', list[Message], "expected a JSON array"),
    ],
)
def test_codec_refuses_bad_json_with_a_typed_error(text: str, tp: Any, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        from_json(text, tp)
