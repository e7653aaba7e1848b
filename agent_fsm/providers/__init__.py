"""HTTP model providers over httpx: OpenAI-compatible Chat Completions, Anthropic Messages,
OpenAI Responses and Ollama.

Each is ``Model(model_name, *, api_key=None, base_url=None, http_client=None, **settings)`` and
streams one completion per ``stream(request)`` call. Every failure is one of
:mod:`agent_fsm.providers.errors`. The sans-IO parsers live in :mod:`agent_fsm.providers.wire`;
:mod:`agent_fsm.providers.replay` runs a recorded body through one.

Names are resolved lazily, so importing :mod:`agent_fsm.providers.wire` does not import ``httpx``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._base import HTTPModel
    from ._http import DEFAULT_TIMEOUT, RetryPolicy
    from .anthropic import AnthropicModel
    from .errors import (
        APIConnectionError,
        APIStatusError,
        AuthenticationError,
        InBandError,
        IncompleteStreamError,
        IncompleteToolCallError,
        MissingAPIKeyError,
        ProtocolError,
        ProviderTimeout,
        RateLimitError,
        ServerError,
    )
    from .ollama import OllamaModel
    from .openai_chat import OpenAIChatModel
    from .openai_responses import OpenAIResponsesModel
    from .replay import decode_frames, new_parser, replay

_EXPORTS: dict[str, str] = {
    "HTTPModel": "_base",
    "DEFAULT_TIMEOUT": "_http",
    "RetryPolicy": "_http",
    "AnthropicModel": "anthropic",
    "OllamaModel": "ollama",
    "OpenAIChatModel": "openai_chat",
    "OpenAIResponsesModel": "openai_responses",
    "APIConnectionError": "errors",
    "APIStatusError": "errors",
    "AuthenticationError": "errors",
    "InBandError": "errors",
    "IncompleteStreamError": "errors",
    "IncompleteToolCallError": "errors",
    "MissingAPIKeyError": "errors",
    "ProtocolError": "errors",
    "ProviderTimeout": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "decode_frames": "replay",
    "new_parser": "replay",
    "replay": "replay",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIStatusError",
    "AnthropicModel",
    "AuthenticationError",
    "HTTPModel",
    "InBandError",
    "IncompleteStreamError",
    "IncompleteToolCallError",
    "MissingAPIKeyError",
    "OllamaModel",
    "OpenAIChatModel",
    "OpenAIResponsesModel",
    "ProtocolError",
    "ProviderTimeout",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "decode_frames",
    "new_parser",
    "replay",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
