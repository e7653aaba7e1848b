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
    from ._base import HTTPModel as HTTPModel
    from ._http import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
    from ._http import RetryPolicy as RetryPolicy
    from .anthropic import AnthropicModel as AnthropicModel
    from .errors import APIConnectionError as APIConnectionError
    from .errors import APIStatusError as APIStatusError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import InBandError as InBandError
    from .errors import IncompleteStreamError as IncompleteStreamError
    from .errors import IncompleteToolCallError as IncompleteToolCallError
    from .errors import MissingAPIKeyError as MissingAPIKeyError
    from .errors import ProtocolError as ProtocolError
    from .errors import ProviderTimeout as ProviderTimeout
    from .errors import RateLimitError as RateLimitError
    from .errors import ServerError as ServerError
    from .ollama import OllamaModel as OllamaModel
    from .openai_chat import OpenAIChatModel as OpenAIChatModel
    from .openai_responses import OpenAIResponsesModel as OpenAIResponsesModel
    from .replay import decode_frames as decode_frames
    from .replay import new_parser as new_parser
    from .replay import replay as replay


__all__, __getattr__, __dir__ = lazy_exports(__name__, __file__)
