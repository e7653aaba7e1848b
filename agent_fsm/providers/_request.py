"""Small pieces the request builders share: text of parts, image URLs, argument JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..messages import Image, JSONValue, Text

__all__ = ["arguments_json", "image_url", "joined_text"]


def joined_text(parts: Iterable[object]) -> str:
    """The text parts of ``parts``, joined (images and other parts left out)."""
    return "".join(p.text for p in parts if isinstance(p, Text))


def image_url(image: Image) -> str:
    """An image as a URL: its own for ``kind="url"``, else a ``data:`` URL of the base64 data."""
    if image.kind == "url":
        return image.data
    return f"data:{image.media_type or 'image/png'};base64,{image.data}"


def arguments_json(arguments: JSONValue) -> str:
    """Tool-call arguments as the JSON string OpenAI-style APIs expect.

    A raw string (arguments that did not parse when they streamed in) goes back unchanged, so the
    model sees exactly what it sent.
    """
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)
