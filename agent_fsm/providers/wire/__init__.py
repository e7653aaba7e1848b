"""Sans-IO parsers, one per wire format: decoded frames in, :mod:`agent_fsm.events` out.

Each parser is fed the frames of one response body, in order, and answers with the events they
complete; ``finish()`` is called once the body ends. Parsers do no I/O and import neither
``httpx`` nor ``asyncio``, so they can be benchmarked, fuzzed and tested alone (see
:func:`agent_fsm.providers.replay.replay` to run a recorded body through one). A frame is
``(event, data)``: the SSE event name (``"message"`` when the frame had none) and its data, or
``("", line)`` for one NDJSON line.

Rules every parser keeps:

- tool calls get an ``internal_call_id`` derived from the response id and the call's index, never
  random, so replaying a body gives identical events;
- complete calls (``ToolCallReady``) come out in call-index order, arguments parsed from JSON
  (a string that does not parse is passed through as the raw string, for the tool layer to
  report); a call cut by the token limit raises :class:`~agent_fsm.providers.errors.IncompleteToolCallError`
  and is never emitted as ready;
- server-side tools (web search, code execution, MCP, tool search) never become client calls;
- an error reported in the stream raises :class:`~agent_fsm.providers.errors.InBandError`; a body
  that ends before its end marker raises :class:`~agent_fsm.providers.errors.IncompleteStreamError`;
- ``Final`` is the last event, once, with usage (cached input tokens included).
"""

from __future__ import annotations

from ._common import Frame, StreamParser, parse_arguments
from .anthropic import AnthropicParser
from .ollama import OllamaParser
from .openai_chat import OpenAIChatParser
from .openai_responses import OpenAIResponsesParser

__all__ = [
    "AnthropicParser",
    "Frame",
    "OllamaParser",
    "OpenAIChatParser",
    "OpenAIResponsesParser",
    "StreamParser",
    "parse_arguments",
]
