"""The one streaming layer every provider shares: POST a JSON body, stream its frames back.

Written once so that retries, timeouts, error mapping and closing behave the same for all four
wire formats; a provider only builds its body and maps frames to events.

- **Framing**: SSE through ``httpx-sse`` (never hand-parsed); NDJSON through httpx's line splitter.
- **Retries** (:class:`RetryPolicy`): connect errors, timeouts and dropped connections before the
  response arrives, and HTTP 408, 409, 429 and 5xx are retried with exponential backoff and
  jitter, or after the server's ``Retry-After`` (``retry-after-ms``) when it sends one. Only
  *before the first byte of the body*: once a frame may have reached the consumer, a failure is
  raised, never retried. 401/403 and other 4xx are never retried.
- **Errors**: every ``httpx`` exception and HTTP error status becomes a
  :mod:`agent_fsm.providers.errors` class with status, a body excerpt and ``retryable``. The API
  key never appears in them: excerpts are scrubbed, and errors are raised outside the ``except``
  block so no ``httpx`` exception (whose ``request`` holds the headers) hangs on as context.
- **Closing**: :meth:`StreamingClient.frames` is an async generator whose ``finally`` closes the
  response; closing the generator (``aclose()``) closes the connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, Literal, TypeAlias

import attrs
import httpx
from httpx_sse import EventSource, SSEError

from ..errors import CompletionError
from ..log import get_logger
from .errors import (
    BODY_EXCERPT_CHARS,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ProtocolError,
    ProviderTimeout,
    RateLimitError,
    ServerError,
)
from .wire._common import Frame

__all__ = ["DEFAULT_TIMEOUT", "Framing", "RetryPolicy", "StreamingClient"]

Framing: TypeAlias = Literal["sse", "ndjson"]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=10.0)
"""Connect in 10 s; ``read`` is the longest silence allowed between two reads of the body, long
because reasoning models can think for minutes before their first token."""

_RETRY_STATUSES = frozenset({408, 409, 429})
_ERROR_BODY_BYTES = 16_384


@attrs.frozen
class RetryPolicy:
    """How a provider retries a request that failed before its body started streaming.

    Attempt ``n`` (0-based) waits ``min(max_delay, initial_delay * 2**n)`` scaled by a random
    factor in ``[0.5, 1)`` (jitter, so many clients do not retry in step), or the server's
    ``Retry-After`` when it sends one. A ``Retry-After`` longer than ``max_retry_after`` is not
    waited for: the error is raised at once (a quota that resets tomorrow should not hang a run).

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_delay, max_delay: backoff bounds in seconds.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds.
        rng: the source of jitter; pass ``random.Random(seed)`` for deterministic delays.
        sleep: how to wait; tests pass a recorder instead of ``asyncio.sleep``.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, eq=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1`` when the server named no delay."""
        base = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return base * (0.5 + self.rng.random() / 2)


class StreamingClient:
    """POSTs JSON and streams the response's frames; shared by every provider.

    Args:
        provider: the provider's name, for error messages and logs.
        headers: headers of every request (authentication included; never logged).
        secrets: strings to scrub from anything an error carries (the API key).
        http_client: an ``httpx.AsyncClient`` to use and leave open; without one, the client
            creates its own on first use and closes it in :meth:`aclose`.
        timeout: the request timeout; defaults to :data:`DEFAULT_TIMEOUT` (or, with a given
            ``http_client``, that client's own).
        retry: the retry policy; defaults to ``RetryPolicy()``.
        not_found_hint: what a 404 adds to its message (the provider's base URL convention).
    """

    def __init__(
        self,
        provider: str,
        *,
        headers: Mapping[str, str],
        secrets: tuple[str, ...] = (),
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        not_found_hint: str = "",
    ) -> None:
        self.provider = provider
        self._not_found_hint = not_found_hint
        self._headers = dict(headers)
        self._secrets = tuple(s for s in secrets if s)
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout: httpx.Timeout | None = httpx.Timeout(timeout) if isinstance(timeout, int | float) else timeout
        self.retry = retry if retry is not None else RetryPolicy()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout or DEFAULT_TIMEOUT)
        return self._client

    async def frames(self, url: str, body: Mapping[str, Any], framing: Framing) -> AsyncGenerator[Frame, None]:
        """POST ``body`` to ``url`` and yield the response's frames until it ends.

        Raises:
            APIStatusError, APIConnectionError, ProtocolError: see :mod:`agent_fsm.providers.errors`.
        """
        content = self._encode(body)
        response = await self._open(url, content, framing)
        error: CompletionError | None = None
        try:
            if framing == "sse":
                source = EventSource(response).aiter_sse()
                try:
                    async for sse in source:
                        yield sse.event, sse.data
                finally:
                    await source.aclose()
            else:
                async for line in response.aiter_lines():
                    if line:
                        yield "", line
        except httpx.HTTPError as exc:
            error = self._transport_error(exc, url, streaming=True)
        except SSEError as exc:  # pragma: no cover - the content type is checked in _open
            error = ProtocolError(f"{self.provider}: {self._scrub(str(exc))}")
        finally:
            await response.aclose()
        if error is not None:
            raise error

    def _encode(self, body: Mapping[str, Any]) -> bytes:
        try:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise CompletionError(f"the {self.provider} request body is not JSON-serializable: {exc}") from None

    async def _open(self, url: str, content: bytes, framing: Framing) -> httpx.Response:
        """Send the request until it gets a streamable 2xx response, retrying per the policy."""
        client = self._http()
        policy = self.retry
        headers = {**self._headers, "content-type": "application/json"}
        if framing == "sse":
            headers["accept"] = "text/event-stream"
        timeout = httpx.USE_CLIENT_DEFAULT if self._timeout is None else self._timeout
        log = get_logger(provider=self.provider)
        attempt = 0
        while True:
            error: CompletionError
            retry_after: float | None = None
            request = client.build_request("POST", url, content=content, headers=headers, timeout=timeout)
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                error = self._transport_error(exc, url, streaming=False)
            else:
                if response.is_success:
                    if framing == "sse":
                        await self._check_event_stream(response)
                    log.debug("model response streaming", status=response.status_code, attempts=attempt + 1)
                    return response
                error, retry_after = await self._status_error(response, url)
            retryable = error.retryable and not isinstance(error, AuthenticationError)
            too_long = retry_after is not None and retry_after > policy.max_retry_after
            if not retryable or too_long or attempt >= policy.max_retries:
                raise error
            delay = retry_after if retry_after is not None else policy.backoff(attempt)
            log.info(
                "retrying model request",
                attempt=attempt + 1,
                max_retries=policy.max_retries,
                delay=round(delay, 3),
                status=error.status,
                error=type(error).__name__,
            )
            await policy.sleep(delay)
            attempt += 1

    async def _check_event_stream(self, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" in content_type:
            return
        body = await self._read_excerpt(response)
        raise ProtocolError(
            f"{self.provider} answered {response.status_code} with content type {content_type!r}, "
            "not an event stream (does this server support stream=true?)",
            status=response.status_code,
            body=body,
        )

    async def _status_error(self, response: httpx.Response, url: str) -> tuple[CompletionError, float | None]:
        status = response.status_code
        body = await self._read_excerpt(response)
        detail = _error_message(body) or response.reason_phrase or "no details"
        where = f"POST {self._scrub(url)}"
        if status == 404 and self._not_found_hint:
            where += f"; is the base URL right? {self._not_found_hint}"
        message = f"{self.provider} returned HTTP {status}: {detail} ({where})"
        retry_after = _retry_after(response.headers)
        error: APIStatusError
        if status in (401, 403):
            error = AuthenticationError(
                f"{message} (check the API key; its value is never shown)", status=status, body=body
            )
        elif status == 429:
            error = RateLimitError(message, status=status, body=body)
            error.retry_after = retry_after
        elif status >= 500:
            error = ServerError(message, status=status, body=body)
        else:
            error = APIStatusError(message, status=status, body=body, retryable=status in _RETRY_STATUSES)
        return error, retry_after

    async def _read_excerpt(self, response: httpx.Response) -> str:
        """Up to 16 KiB of the body, decoded, scrubbed and cut to the excerpt size; closes it."""
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) >= _ERROR_BODY_BYTES:
                    break
        except httpx.HTTPError:
            pass  # the status already says what failed; keep what was read
        finally:
            await response.aclose()
        text = self._scrub(data.decode("utf-8", errors="replace"))
        return text if len(text) <= BODY_EXCERPT_CHARS else text[:BODY_EXCERPT_CHARS] + "..."

    def _transport_error(self, exc: httpx.HTTPError, url: str, *, streaming: bool) -> CompletionError:
        where = "while streaming the response" if streaming else "before the response arrived"
        where += f" (POST {self._scrub(url)})"
        detail = self._scrub(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read" if streaming else "request"
            return ProviderTimeout(f"{self.provider}: {kind} timeout {where} ({type(exc).__name__})")
        if isinstance(exc, httpx.DecodingError):
            return ProtocolError(f"{self.provider}: could not decode the response body: {detail}")
        if isinstance(exc, httpx.TransportError):
            return APIConnectionError(f"{self.provider}: connection failed {where}: {type(exc).__name__}: {detail}")
        return CompletionError(f"{self.provider}: request failed: {type(exc).__name__}: {detail}")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _error_message(body: str) -> str | None:
    """The ``error.message`` (or ``message`` / ``detail``) of a JSON error body, if it has one."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300] or None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            return str(message) if message else None
        if isinstance(error, str):
            return error
    return None


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
