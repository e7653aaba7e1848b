"""The pieces every HTML report is built from: the page, the diagram as inline SVG, a run's view.

A report is ONE file that works offline forever (a CI artifact, a link in a pull request): the
SVG, the CSS and the script are inline (the last two are package data, ``_assets/``), and a
Content-Security-Policy forbids every request, so a report cannot fetch anything even by mistake.
Nothing in it depends on the clock or the machine: the same run gives the same bytes.

The DOM is a contract (README, "Looking at a run"), for tests and for users' own tooling:

* a run's view is an element with the class ``run-view``; each entry of its timeline has
  ``data-step`` (0, 1, 2, ... in order), ``data-at`` (the state after the step), ``data-taken``
  (the arrow of the edge it took) and ``data-history`` (how many messages the history held);
* every state of its diagram is an SVG element with ``data-state`` (the state's name); the state
  of the current step also has the class ``current``; every arrow has ``data-arrow`` (its
  position) and the one just taken has the class ``taken-now``;
* ArrowRight and ArrowLeft step forward and back; clicking an entry goes to it; the page opens
  at the view's ``data-open`` step: the first, or the failing one of a failed run.

The diagram is the one ``agent-fsm diagram`` draws (:mod:`._dot` through Graphviz); only its ids
are turned into those data attributes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from html import escape
from importlib.resources import files

from ..errors import CompletionError
from ..events import Final, Reasoning, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from ..items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from ..machine.table import EDGES, TERMINAL
from ..messages import AssistantMessage, Image, Message, Text, ToolCall, ToolResult, Usage
from ._dot import dot
from ._graphviz import dot_to_image
from ._picture import TIMES, Picture, picture
from ._steps import RunLog, Step, arrow_of, steps, unsealed_length
from ._trace import check_trace

__all__ = ["diagram_svg", "page", "run_view"]

_PROLOG = re.compile(r"\A.*?(?=<svg)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_SIZE = re.compile(r'<svg width="[^"]*" height="[^"]*"')
_STATE_ID = re.compile(r'id="state_(\w+)"')
_ARROW_ID = re.compile(r'id="arrow_(\d+)"')
_OTHER_ID = re.compile(r' id="[^"]*"')
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
"""Nothing may be fetched: no script, style, font, image or connection from anywhere."""


def _asset(name: str) -> str:
    return files(__package__).joinpath("_assets", name).read_text(encoding="utf-8")


def diagram_svg(drawn: Picture) -> str:
    """The picture drawn by Graphviz, as SVG to inline in HTML, its states and arrows tagged.

    Raises:
        GraphvizNotFound: when Graphviz's ``dot`` is not installed.
    """
    svg = dot_to_image(dot(drawn), "svg").decode()
    svg = _COMMENT.sub("", _PROLOG.sub("", svg, count=1))
    svg = _SIZE.sub('<svg class="diagram" role="img"', svg, count=1)
    svg = _STATE_ID.sub(r'data-state="\1"', svg)
    svg = _ARROW_ID.sub(r'data-arrow="\1"', svg)
    return _OTHER_ID.sub("", svg).strip()  # Graphviz's own ids would repeat in a page of several


def page(title: str, body: str) -> str:
    """A whole, self-contained HTML page."""
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_asset('report.css')}</style>\n</head>\n"
        f"<body>\n{body}\n<script>\n{_asset('report.js')}</script>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------- one run's view


def run_view(log: RunLog, *, failing: bool = False) -> str:
    """A run's diagram (its path drawn over the machine), timeline and history, stepped together.

    Args:
        log: the run.
        failing: open at the last step even if the run ended well (a fuzz case that broke an
            invariant); a run that ended in an error always opens at its failing step.
    """
    trace = check_trace(log.trace)
    drawn = picture(EDGES, trace, log.title)
    arrows = arrow_of(drawn)
    run_steps = steps(log)
    opening = len(run_steps) - 1 if failing or log.failed else 0
    calls = _calls(log)
    entries = "\n".join(_entry(step, arrows, log, calls) for step in run_steps)
    return (
        f'<section class="run-view" data-open="{opening}" tabindex="-1">\n'
        f'<div class="pane diagram-pane">{diagram_svg(drawn)}</div>\n'
        '<div class="pane timeline-pane">\n<div class="scrubber">'
        '<button type="button" class="back" aria-label="step back">&#9664;</button>'
        '<span class="position"></span>'
        '<button type="button" class="forward" aria-label="step forward">&#9654;</button>'
        '<span class="keys">keys &#8592; &#8594; or click a step</span></div>\n'
        f'<ol class="timeline">\n{entries}\n</ol>\n</div>\n'
        '<div class="pane history-pane">\n<h3>History <span class="as-of"></span></h3>\n'
        f'<ol class="history">\n{_history(log)}\n</ol>\n</div>\n'
        "</section>"
    )


def _calls(log: RunLog) -> dict[str, ToolCall]:
    """Every tool call of the run by id, so a result can show the call it answers."""
    found: dict[str, ToolCall] = {}
    for message in log.history:
        for part in message.content:
            if isinstance(part, ToolCall):
                found.setdefault(part.id, part)
    for item in log.items:
        if isinstance(item, StreamAssistantItem) and isinstance(item.content, ToolCallReady):
            found.setdefault(item.content.tool_call.id, item.content.tool_call)
    return found


def _entry(step: Step, arrows: dict[int, int], log: RunLog, calls: dict[str, ToolCall]) -> str:
    edge = step.edge
    arrow = "" if edge is None else str(arrows[edge.index])
    attrs = f'data-step="{step.index}" data-at="{step.state.value}" data-taken="{arrow}" data-history="{step.history}"'
    last = step.index == len(log.trace)
    kind = "ending" if last and step.sealed else "start" if edge is None else "internal" if edge.internal else "move"
    if edge is None:
        head = f'<span class="state">{step.state.value}</span> <span class="trigger">start</span>'
        body = _start(log)
    else:
        move = f'<span class="state">{edge.source.value}</span>'
        if edge.dest is not None:
            move += f' &#8594; <span class="state">{edge.dest.value}</span>'
        guard = f' <span class="guard">[{escape(edge.guard)}]</span>' if edge.conditions else ""
        times = f' <span class="count">{TIMES}{step.count}</span>' if step.count > 1 else ""
        head = f'{move} <span class="trigger">{escape(edge.trigger)}</span>{guard}{times}'
        body = _items(step.items, calls)
        if edge.trigger == "stream_end":
            body += _turn_text(log.history[step.history - 1] if step.history else None)
        if last:
            body += _ending(log)
    return (
        f'<li class="step {kind}" {attrs}>\n<div class="head"><span class="n">{step.index}</span> {head}</div>\n'
        + (f'<div class="body">{body}</div>\n' if body else "")
        + "</li>"
    )


def _start(log: RunLog) -> str:
    prompt = log.start[-1] if log.start else None
    given = len(log.start) - 1
    text = _joined(prompt.content) if prompt is not None else ""
    before = f'<p class="note">after {given} message(s) of history</p>' if given > 0 else ""
    return f'<div class="prompt"><span class="label">prompt</span> {_text(text)}</div>{before}'


def _items(items: Sequence[StreamItem], calls: dict[str, ToolCall]) -> str:
    """What one step emitted: deltas joined, tool calls with their arguments, results with their call."""
    out: list[str] = []
    text = "".join(i.content.text for i in items if isinstance(i, StreamAssistantItem) and type(i.content) is TextDelta)
    if text:
        out.append(f'<div class="text">{_text(text)}</div>')
    thinking = "".join(
        i.content.reasoning if isinstance(i.content, ReasoningDelta) else i.content.text
        for i in items
        if isinstance(i, StreamAssistantItem) and isinstance(i.content, ReasoningDelta | Reasoning)
    )
    if thinking or any(isinstance(i, StreamAssistantItem) and isinstance(i.content, Reasoning) for i in items):
        out.append(_folded("reasoning", thinking))
    fragments = [i.content for i in items if isinstance(i, StreamAssistantItem) and type(i.content) is ToolCallDelta]
    if fragments:
        name = next((f.name for f in fragments if f.name), None) or ""
        out.append(_folded(f"tool call delta {escape(name)}".rstrip(), "".join(f.arguments for f in fragments)))
    for item in items:
        if isinstance(item, StreamAssistantItem) and type(item.content) is ToolCallReady:
            out.append(_call(item.content.tool_call))
        elif isinstance(item, StreamAssistantItem) and type(item.content) is Final:
            out.append(f'<div class="usage">final: {_usage(item.content.usage)}</div>')
        elif isinstance(item, StreamUserItem):
            out.append(_result(item.tool_result, calls.get(item.tool_result.id)))
        elif isinstance(item, FinalResponse):
            out.append(
                f'<div class="final-response"><span class="label">FinalResponse</span> {_text(item.response)}'
                f'<div class="usage">run usage: {_usage(item.usage)}</div></div>'
            )
    return "".join(out)


def _turn_text(message: Message | None) -> str:
    if not isinstance(message, AssistantMessage):
        return ""
    text = _joined(message.content)
    body = _text(text) if text else '<span class="note">(no text)</span>'
    return f'<div class="turn"><span class="label">the turn&#8217;s message joins the history</span> {body}</div>'


def _ending(log: RunLog) -> str:
    state = log.state.value
    if log.error is None:
        return f'<div class="ending ok">ended in <b>{state}</b>; the history holds {len(log.history)} messages</div>'
    name = type(log.error).__name__
    message = str(log.error.message if isinstance(log.error, CompletionError) else log.error)
    carried = getattr(log.error, "history", None)
    count = len(carried) if carried is not None else len(log.history)
    return (
        f'<div class="ending {"failed" if log.failed else "paused"}">ended in <b>{state}</b>: '
        f'<span class="error-type">{escape(name)}</span> <span class="error-message">{_text(message)}</span>'
        f'<p class="note">the error carries the sealed history: {count} messages, shown beside</p></div>'
    )


# ---------------------------------------------------------------------------- the history


def _history(log: RunLog) -> str:
    """Every message of the final history; the script shows those that existed at the step."""
    sealed_from = unsealed_length(log)
    ended = log.state in TERMINAL
    out = []
    for i, message in enumerate(log.history):
        role = "user" if not isinstance(message, AssistantMessage) else "assistant"
        tag = ""
        if i < len(log.start):
            tag = '<span class="tag">given</span>' if i < len(log.start) - 1 else '<span class="tag">prompt</span>'
        elif ended and i >= sealed_from and log.error is not None:
            tag = '<span class="tag sealed">sealed</span>'
        parts = "".join(_part(p) for p in message.content)
        out.append(f'<li class="message {role}" data-message="{i}"><div class="role">{i} {role}{tag}</div>{parts}</li>')
    return "\n".join(out)


def _part(part: object) -> str:
    if isinstance(part, Text):
        return f'<div class="text">{_text(part.text)}</div>'
    if isinstance(part, ToolCall):
        return _call(part)
    if isinstance(part, ToolResult):
        return _result(part, None)
    if isinstance(part, Reasoning):
        return _folded("reasoning", part.text)
    if isinstance(part, Image):
        return f'<div class="note">[image{" " + escape(part.media_type) if part.media_type else ""}]</div>'
    return f'<div class="note">{escape(type(part).__name__)}</div>'


def _call(call: ToolCall) -> str:
    return (
        f'<div class="call"><span class="label">call</span> <b>{escape(call.function.name)}</b>'
        f"<code>{escape(_json(call.function.arguments))}</code> "
        f'<span class="id">{escape(call.id)}</span></div>'
    )


def _result(result: ToolResult, call: ToolCall | None) -> str:
    answered = ""
    if call is not None:
        answered = f" for <b>{escape(call.function.name)}</b><code>{escape(_json(call.function.arguments))}</code>"
    cls = "result error" if result.is_error else "result"
    return (
        f'<div class="{cls}"><span class="label">{"error result" if result.is_error else "result"}</span>'
        f'{answered} <span class="id">{escape(result.id)}</span>'
        f'<div class="text">{_text(_joined(result.content))}</div></div>'
    )


# ---------------------------------------------------------------------------- small helpers


def _joined(parts: Iterable[object]) -> str:
    return "".join(p.text for p in parts if isinstance(p, Text))


def _folded(summary: str, text: str) -> str:
    return f'<details><summary>{summary} ({len(text)} chars)</summary><div class="text">{_text(text)}</div></details>'


def _text(text: str) -> str:
    return f'<span class="t">{escape(text)}</span>' if text else '<span class="note">(empty)</span>'


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _usage(usage: Usage) -> str:
    return f"{usage.input_tokens} in, {usage.output_tokens} out"
