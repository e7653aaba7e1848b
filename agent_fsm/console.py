"""Printing a run as it streams (rig's ``stream_to_stdout``)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterable
from typing import TextIO

from .events import Reasoning, ReasoningDelta, TextDelta
from .items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem

__all__ = ["print_run", "stream_to_stdout"]


async def stream_to_stdout(run: AsyncIterable[StreamItem], *, file: TextIO | None = None) -> FinalResponse | None:
    """Print the run's text and reasoning as they stream; return its ``FinalResponse``.

    Unlike rig's, it does not swallow the run's ending error: a cancelled or failed run raises
    its typed error, which carries the history.
    """
    out = file if file is not None else sys.stdout
    final: FinalResponse | None = None
    streamed_reasoning = False  # a complete block repeats what its deltas already printed
    async for item in run:
        if type(item) is StreamAssistantItem:
            content = item.content
            if type(content) is TextDelta:
                out.write(content.text)
                out.flush()
            elif type(content) is ReasoningDelta:
                streamed_reasoning = True
                out.write(content.reasoning)
                out.flush()
            elif type(content) is Reasoning:
                if not streamed_reasoning:
                    out.write(content.text)
                    out.flush()
                streamed_reasoning = False
        elif type(item) is FinalResponse:
            final = item
    out.write("\n")
    out.flush()
    return final


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


async def print_run(
    run: AsyncIterable[StreamItem], *, file: TextIO | None = None, color: bool | None = None, final: bool = True
) -> FinalResponse | None:
    """Print every item of a run legibly as it arrives: reasoning, text, tool calls and their
    arguments as they stream, tool results, each turn's usage; return the ``FinalResponse``.

    Each kind of item starts on its own line, and the output always ends with a newline, also
    when the run raises or is cancelled (the error then propagates): a shell prompt never
    follows partial text.

    Args:
        final: also print the final response and the run's usage at the end (its text was
            already printed as it streamed).
    """
    from .events import Final, ToolCallDelta, ToolCallReady

    out = file if file is not None else sys.stdout
    style = _Style(out.isatty() if color is None else color)
    result: FinalResponse | None = None
    at_line_start = True
    mode = ""

    def write(text: str) -> None:
        nonlocal at_line_start
        out.write(text)
        out.flush()
        if text:
            at_line_start = text.endswith("\n")

    def newline() -> None:
        if not at_line_start:
            write("\n")

    try:
        async for item in run:
            if isinstance(item, StreamAssistantItem):
                c = item.content
                if isinstance(c, ReasoningDelta):
                    if mode != "reasoning":
                        newline()
                        write(style("thinking: ", "2;3"))
                        mode = "reasoning"
                    write(style(c.reasoning, "2;3"))
                elif isinstance(c, Reasoning):
                    if mode != "reasoning":
                        newline()
                        write(style(f"thinking: {c.text}", "2;3"))
                    newline()
                    signed = "signed" if c.signature else "unsigned"
                    write(style(f"  [reasoning block {c.id or '-'}: {len(c.text)} chars, {signed}]\n", "2"))
                    mode = ""
                elif isinstance(c, TextDelta):
                    if mode != "text":
                        newline()
                        write(style("assistant: ", "1;36"))
                        mode = "text"
                    write(c.text)
                elif isinstance(c, ToolCallDelta):
                    if c.name is not None:
                        newline()
                        write(style(f"tool call -> {c.name}", "2;33") + style(f" [{c.id}] ", "2"))
                        mode = "call"
                    else:
                        write(style(c.arguments, "2;33"))
                elif isinstance(c, ToolCallReady):
                    newline()
                    write(style(f"  ready: {c.tool_call.function.name}({c.tool_call.function.arguments})\n", "2"))
                    mode = ""
                elif isinstance(c, Final):
                    newline()
                    u = c.usage
                    write(style(f"  [turn done: {u.input_tokens} in / {u.output_tokens} out tokens]\n", "2"))
                    mode = ""
            elif isinstance(item, StreamUserItem):
                newline()
                r = item.tool_result
                flag = style(" (error)", "31") if r.is_error else ""
                write(style(f"tool result <- [{r.id}]{flag} ", "2;32") + style(r.text, "2") + "\n")
                mode = ""
            elif isinstance(item, FinalResponse):
                newline()
                result = item
                if final:
                    u = item.usage
                    write(style(f"\nfinal response: {item.response}\n", "1"))
                    usage = f"run usage: {u.input_tokens} in / {u.output_tokens} out / {u.cached_input_tokens} cached"
                    write(style(usage + "\n", "2"))
                mode = ""
    finally:
        newline()
    return result
