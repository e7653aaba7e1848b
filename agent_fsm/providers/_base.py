"""What the four HTTP models share: construction (key, base URL, client) and the stream loop.

A provider subclass says where to send (``endpoint``), how to authenticate, how to turn a
:class:`~agent_fsm.request.CompletionRequest` into its JSON body, and which parser reads the
answer; the request, retries, errors and closing all happen here and in :mod:`._http`, once.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, ClassVar

import httpx

from ..errors import CompletionError
from ..events import ModelEvent
from ..messages import JSONValue
from ..redact import Redactor
from ..request import CompletionRequest
from ._http import Framing, RetryPolicy, StreamingClient
from .errors import MissingAPIKeyError
from .wire._common import StreamParser

__all__ = ["HTTPModel", "merge_into"]


def merge_into(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge ``extra`` into ``body``; nested dicts (``options``, ``stream_options``) merge one level."""
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = {**current, **value}
        else:
            body[key] = value


class HTTPModel:
    """Base of the HTTP providers. Not used directly: see the four subclasses.

    Args:
        model_name: the provider's model id, e.g. ``"gpt-4o-mini"``.
        api_key: the API key; read from the provider's environment variable when ``None``.
        base_url: the API root, following the vendor SDK's convention (see each subclass);
            read from the provider's base-URL environment variable, else its default.
        http_client: an ``httpx.AsyncClient`` to send with (left open); by default the model
            makes its own on first use, closed by :meth:`aclose` or ``async with model:``.
        timeout: seconds, or an ``httpx.Timeout``; the default waits 10 s to connect and up to
            300 s of silence while streaming.
        retry: the :class:`RetryPolicy` for failures before the body starts streaming.
        headers: extra headers for every request.
        **settings: body fields sent with every request (``temperature=0``,
            ``reasoning_effort="low"``...); the request's own ``temperature`` / ``max_tokens`` win
            over them, and its ``additional_params`` win over everything.

    Raises:
        MissingAPIKeyError: the provider needs a key and none was given or found.
    """

    provider: ClassVar[str]
    genai_provider: ClassVar[str]
    """The OpenTelemetry GenAI conventions' name for the provider (``gen_ai.provider.name``)."""
    api_key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str]
    endpoint: ClassVar[str]
    framing: ClassVar[Framing] = "sse"

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        **settings: JSONValue,
    ) -> None:
        self.model_name = model_name
        env_url = os.environ.get(self.base_url_env) if self.base_url_env else None
        self.base_url = self._normalize_base_url(base_url or env_url or self.default_base_url)
        key = api_key if api_key is not None else (os.environ.get(self.api_key_env) if self.api_key_env else None)
        if not key and self.key_required():
            raise MissingAPIKeyError(self.provider, self.api_key_env or "API key")
        self._api_key = key or None
        """Kept so that every text this model reports from its server is scrubbed of this exact
        value (see :meth:`stream`), whatever its shape; also read by the run's ``Redactor``."""
        self.settings: dict[str, JSONValue] = dict(settings)
        self.label = self.describe()
        """Who this model talks to, as errors and logs name it."""
        self._http = StreamingClient(
            self.label,
            headers={**self.auth_headers(key or None), **(headers or {})},
            secrets=(key,) if key else (),
            http_client=http_client,
            timeout=timeout,
            retry=retry,
        )

    # ------------------------------------------------------------------ what subclasses say

    def describe(self) -> str:
        """The name errors and logs give the server (the provider, by default)."""
        return self.provider

    def key_required(self) -> bool:
        """Whether this model cannot work without an API key (checked at construction)."""
        return self.api_key_env is not None

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """The headers that authenticate a request (none without a key)."""
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The body fields that come from ``request`` (messages, tools, temperature...)."""
        raise NotImplementedError

    def finish_body(self, body: dict[str, Any]) -> None:
        """Last word on the merged body: force streaming, add required defaults."""
        body["stream"] = True

    def new_parser(self) -> StreamParser:
        """A fresh parser for one response."""
        raise NotImplementedError

    @staticmethod
    def _normalize_base_url(url: str) -> str:
        return url.rstrip("/")

    # ------------------------------------------------------------------ the shared part

    @property
    def url(self) -> str:
        """Where requests go: ``base_url`` + the provider's endpoint."""
        return self.base_url + self.endpoint

    @property
    def retry(self) -> RetryPolicy:
        return self._http.retry

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The exact JSON body :meth:`stream` sends for ``request`` (deterministic).

        Order of precedence, lowest first: the model name and constructor ``settings``, the
        fields built from the request, the request's ``additional_params``, then the fields the
        provider forces (``stream``).
        """
        body: dict[str, Any] = {"model": self.model_name}
        merge_into(body, self.settings)
        merge_into(body, self.build_body(request))
        if request.additional_params:
            merge_into(body, request.additional_params)
        self.finish_body(body)
        return body

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        """Stream one completion as :mod:`agent_fsm.events` values, ``Final`` last.

        Closing the generator early (``aclose()``) closes the HTTP response and its connection.

        Raises:
            CompletionError: one of :mod:`agent_fsm.providers.errors`; never an ``httpx`` or
                ``json`` exception, never the API key in a message.
        """
        body = self.request_body(request)
        parser = self.new_parser()
        try:
            async with aclosing(self._http.frames(self.url, body, self.framing)) as frames:
                async for event, data in frames:
                    for model_event in parser.feed(event, data):
                        yield model_event
                    if parser.complete:  # the end marker: done, even if the server keeps the body open
                        break
            for model_event in parser.finish():
                yield model_event
        except CompletionError as exc:
            # A server may echo the key in an in-band error or a malformed frame, which the
            # parser quotes: remove this model's own key (any shape) from message, body and repr.
            Redactor(self).scrub(exc)
            raise

    async def aclose(self) -> None:
        """Close the HTTP client the model created (a client passed in is left open)."""
        await self._http.aclose()

    async def __aenter__(self) -> HTTPModel:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_name!r}, base_url={self.base_url!r})"
