"""What a provider raises: one ``CompletionError`` subclass per way a model call can fail.

::

    CompletionError                   (agent_fsm.errors) any failed model call
    ├── APIStatusError                the server answered with an HTTP error status
    │   ├── AuthenticationError       401 / 403: missing, wrong or unauthorised API key (never retried)
    │   ├── RateLimitError            429: too many requests or tokens (retried, honouring Retry-After)
    │   └── ServerError               5xx: the provider failed or is overloaded (retried)
    ├── APIConnectionError            no connection, or it dropped mid-stream (retried before the first byte)
    │   ├── ProviderTimeout           the connect or read timeout expired
    │   └── IncompleteStreamError     the body ended before the wire format's end marker
    ├── ProtocolError                 the body broke its wire format (malformed JSON, wrong content type)
    ├── InBandError                   the provider reported an error inside a 200 stream
    └── IncompleteToolCallError       the token limit cut the response inside a tool call's arguments

    MissingAPIKeyError                (a ConfigurationError) the key is neither given nor in its env var

Every error carries ``status`` (HTTP status, or the status an in-band error names), ``body`` (an
excerpt of what the server sent, at most :data:`BODY_EXCERPT_CHARS` characters) and ``retryable``
(whether sending the same request again may succeed). None of them ever holds the API key or the
request headers: excerpts are scrubbed of the key, and transport errors are raised without their
``httpx`` cause (whose ``request`` carries the ``Authorization`` header).

This module does no I/O and imports nothing but the core errors, so the sans-IO parsers in
:mod:`agent_fsm.providers.wire` can raise these too.
"""

from __future__ import annotations

from ..errors import CompletionError, ConfigurationError

__all__ = [
    "BODY_EXCERPT_CHARS",
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "InBandError",
    "IncompleteStreamError",
    "IncompleteToolCallError",
    "MissingAPIKeyError",
    "ProtocolError",
    "ProviderTimeout",
    "RateLimitError",
    "ServerError",
]

BODY_EXCERPT_CHARS = 2000
"""The most of a response body an error keeps: enough to read the provider's message."""


class APIStatusError(CompletionError):
    """Raised when the server answers with an HTTP error status before any event streamed."""


class AuthenticationError(APIStatusError):
    """Raised on 401 / 403: the API key is missing, wrong, or lacks access. Never retried."""

    retryable = False


class RateLimitError(APIStatusError):
    """Raised on 429 once retries are spent (or when Retry-After asks for longer than allowed).

    ``retry_after`` is the delay in seconds the server asked for, when it said.
    """

    retryable = True
    retry_after: float | None = None


class ServerError(APIStatusError):
    """Raised on a 5xx status once retries are spent."""

    retryable = True


class APIConnectionError(CompletionError):
    """Raised when the connection could not be made, or broke while the body streamed."""

    retryable = True


class ProviderTimeout(APIConnectionError):
    """Raised when the connect timeout or the read timeout (silence between two reads) expired."""


class IncompleteStreamError(APIConnectionError):
    """Raised when the body ended cleanly but before its wire format says the response is done."""


class ProtocolError(CompletionError):
    """Raised when the body is not the wire format it should be: bad JSON, wrong content type."""

    retryable = False


class InBandError(CompletionError):
    """Raised when the provider reports an error inside the stream (an ``error`` event or object).

    ``code`` / ``error_type`` are the provider's own names for the error, when it gave them.
    ``retryable`` is true for overload and rate-limit errors; it is never retried automatically,
    because part of the response has already been streamed.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        retryable: bool | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, retryable=retryable)
        self.code = code
        self.error_type = error_type


class IncompleteToolCallError(CompletionError):
    """Raised when the response hit its token limit inside a tool call's JSON arguments.

    Such a call never becomes a :class:`~agent_fsm.events.ToolCallReady`, so a truncated call is
    never run as if it were complete. ``tool_name`` / ``tool_call_id`` name the cut call; raise
    ``max_tokens`` and try again.
    """

    retryable = False

    def __init__(self, message: str, *, tool_name: str | None = None, tool_call_id: str | None = None) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id


class MissingAPIKeyError(ConfigurationError):
    """Raised when a model is built without ``api_key`` and its environment variable is unset.

    ``env_var`` names the variable, so a command line can tell the user exactly what to set.
    """

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(f"{env_var} is not set: pass api_key=... or export {env_var} to use {provider}")
        self.provider = provider
        self.env_var = env_var
