"""``OllamaModel``: Ollama's native chat API (``POST {base_url}/api/chat``, NDJSON stream).

Requests: the preamble is a ``system`` message; images go as base64 ``images`` of their message;
tool calls go back with their arguments as objects, results as ``tool`` messages naming the tool
(``tool_name``); reasoning goes back as the assistant's ``thinking``. ``temperature`` and
``max_tokens`` become ``options.temperature`` / ``options.num_predict``.

For Ollama's OpenAI-compatible endpoint instead, use
``OpenAIChatModel(name, base_url="http://localhost:11434/v1")``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from ..errors import ConfigurationError
from ..messages import AssistantMessage, Image, Reasoning, Text, ToolCall, ToolResult, UserMessage
from ..request import CompletionRequest
from ._base import HTTPModel
from ._http import Framing
from .openai_chat import chat_tools
from .wire import OllamaParser
from .wire._common import StreamParser

__all__ = ["OllamaModel", "ollama_messages"]


class OllamaModel(HTTPModel):
    """A model behind ``POST {base_url}/api/chat``.

    ``base_url`` is the server root, as in the Ollama client: ``http://localhost:11434`` (the
    default, or ``OLLAMA_HOST``; a host without a scheme gets ``http://``). No key is needed;
    ``api_key`` (or ``OLLAMA_API_KEY``) is sent as a bearer token, for hosted Ollama. See
    :class:`HTTPModel` for the rest.
    """

    provider = "Ollama"
    genai_provider = "ollama"
    base_url_env = "OLLAMA_HOST"
    default_base_url = "http://localhost:11434"
    endpoint = "/api/chat"
    base_url_hint = "the base URL is the server root, e.g. http://localhost:11434"
    framing: ClassVar[Framing] = "ndjson"

    def __init__(self, model_name: str, **kwargs: Any) -> None:
        if kwargs.get("api_key") is None and os.environ.get("OLLAMA_API_KEY"):
            kwargs["api_key"] = os.environ["OLLAMA_API_KEY"]
        super().__init__(model_name, **kwargs)

    def key_required(self) -> bool:
        return False

    @staticmethod
    def _normalize_base_url(url: str) -> str:
        url = url.rstrip("/")
        return url if "://" in url else f"http://{url}"

    def build_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": ollama_messages(request)}
        if request.tools and request.tool_choice != "none":  # /api/chat has no tool_choice: offer no tools
            body["tools"] = chat_tools(request.tools)
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if options:
            body["options"] = options
        return body

    def new_parser(self) -> StreamParser:
        return OllamaParser()


def ollama_messages(request: CompletionRequest) -> list[dict[str, Any]]:
    """The ``messages`` array for ``request``.

    Raises:
        ConfigurationError: an image is given by URL (Ollama takes base64 data only).
    """
    out: list[dict[str, Any]] = []
    if request.preamble:
        out.append({"role": "system", "content": request.preamble})
    names: dict[str, str] = {}
    for message in request.messages:
        if isinstance(message, UserMessage):
            rest: list[Text | Image] = []
            for part in message.content:
                if isinstance(part, ToolResult):
                    tool_message = _with_images(
                        {"role": "tool", "content": part.text}, [p for p in part.content if isinstance(p, Image)]
                    )
                    if part.id in names:
                        tool_message["tool_name"] = names[part.id]
                    out.append(tool_message)
                else:
                    rest.append(part)
            if rest:
                text = "".join(p.text for p in rest if isinstance(p, Text))
                out.append(_with_images({"role": "user", "content": text}, [p for p in rest if isinstance(p, Image)]))
        else:
            out.append(_assistant(message, names))
    return out


def _with_images(message: dict[str, Any], images: list[Image]) -> dict[str, Any]:
    if images:
        for image in images:
            if image.kind != "base64":
                raise ConfigurationError("Ollama takes images as base64 data only, not by URL")
        message["images"] = [image.data for image in images]
    return message


def _assistant(message: AssistantMessage, names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(p.text for p in message.content if isinstance(p, Text)),
    }
    thinking = "".join(p.text for p in message.content if isinstance(p, Reasoning))
    if thinking:
        out["thinking"] = thinking
    calls = []
    for part in message.content:
        if isinstance(part, ToolCall):
            names[part.id] = part.function.name
            arguments = part.function.arguments
            calls.append(
                {
                    "function": {
                        "name": part.function.name,
                        "arguments": arguments if isinstance(arguments, dict) else {},
                    }
                }
            )
    if calls:
        out["tool_calls"] = calls
    return out
