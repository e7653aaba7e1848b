"""Keeping credentials out of what the library emits: log events, spans and the errors it raises.

Providers are meant to keep API keys out of their error messages, but the text of an error is
built by code we do not control: a provider that puts the request headers into a message, an HTTP
library whose exception names a URL with ``?key=...``, a 401 body that echoes the key. Every piece
of error text the library emits therefore passes through :class:`Redactor` first, which removes

* values the run knows to be secret: a model's ``api_key`` attribute (also on wrapped models) and
  the values of environment variables named like ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``
  (read lazily, only when there is error text to clean - never on a run that succeeds);
* credentials by shape: ``Authorization`` / ``x-api-key`` style header values, ``api_key=...``
  style pairs in text, query strings and JSON, bearer tokens, and well-known key prefixes
  (``sk-``, ``sk-ant-``, ``gsk_``, ``xai-``, ``AIza``, ``hf_``, ``ghp_``...).

Content the user opted into recording (prompts, tool arguments and results, see
``capture_content``) is theirs and is not rewritten. Redaction can over-match (a ``key: ...`` in an
error message loses its value); for error text that is the right side to err on.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterable
from contextlib import suppress
from typing import Final

__all__ = ["REDACTED", "Redactor", "redact"]

REDACTED: Final = "[REDACTED]"

_HEADER: Final = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key|x-auth-token|openai-api-key|cookie)"
    r"(['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic|token|digest)\s+)?"
    r"[^\s'\",;}\]]+"
)
"""A header that carries a credential, in any of the ways headers get printed."""
_PAIR: Final = re.compile(
    r"(?i)\b(api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|client[_-]?secret"
    r"|secret|password|passwd|token|key)"
    r"(['\"]?\s*[:=]\s*['\"]?)"
    r"[^\s'\",;&}\]]+"
)
"""``name=value`` / ``"name": "value"`` / ``?key=value`` for names that hold credentials."""
_BEARER: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_KEY_SHAPES: Final = re.compile(
    r"\b(?:sk-(?:ant-|proj-|or-)?[A-Za-z0-9_-]{8,}|gsk_[A-Za-z0-9]{8,}|xai-[A-Za-z0-9]{8,}|AIza[0-9A-Za-z_-]{20,}"
    r"|hf_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|AKIA[0-9A-Z]{16})"
)
"""Well-known API key formats, wherever they appear."""
_SECRET_ENV: Final = re.compile(r"(?i)(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(?:_|$)")
_MIN_SECRET: Final = 8
"""Shorter values are not treated as secrets: redacting every "1" would destroy the text."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secret values and without credentials recognised by shape."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _KEY_SHAPES.sub(REDACTED, text)


class Redactor:
    """Redaction for one run: knows the run's model, looks its secrets up only when needed.

    Args:
        sources: objects that may hold a credential (a model; wrapped models are followed through
            ``inner`` / ``model``). Their ``api_key`` / ``_api_key`` string attributes are secrets.
    """

    __slots__ = ("_secrets", "_sources")

    def __init__(self, *sources: object) -> None:
        self._sources = sources
        self._secrets: tuple[str, ...] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        if self._secrets is None:
            found = {v for v in _env_secrets() if len(v) >= _MIN_SECRET}
            for source in self._sources:
                found.update(_object_secrets(source))
            # Longest first, so that a secret containing another is removed whole.
            self._secrets = tuple(sorted(found, key=len, reverse=True))
        return self._secrets

    def __call__(self, text: str) -> str:
        return redact(text, self.secrets)

    def error(self, exc: BaseException) -> str:
        """``Type: message`` of an exception, redacted (what logs and span statuses show)."""
        return self(f"{type(exc).__name__}: {exc}")

    def traceback(self, exc: BaseException) -> str:
        """The formatted traceback of ``exc`` with its causes, redacted."""
        return self("".join(traceback.format_exception(exc)))

    def scrub(self, exc: BaseException | None) -> None:
        """Remove secrets from an exception the library is about to raise, and from its causes.

        The exception is changed in place (its ``args``, and ``message`` / ``body`` when it has
        them), only where a secret is found: the object, its type and traceback stay the same.
        """
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            _scrub_one(exc, self)
            exc = exc.__cause__ or exc.__context__


def _scrub_one(exc: BaseException, clean: Redactor) -> None:
    args = tuple(clean(a) if isinstance(a, str) else a for a in exc.args)
    if args != exc.args:
        with suppress(AttributeError, TypeError):  # an exception type that refuses: left as it is
            exc.args = args
    for name in ("message", "body"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            cleaned = clean(value)
            if cleaned != value:
                with suppress(AttributeError, TypeError):  # a read-only attribute
                    setattr(exc, name, cleaned)


def _env_secrets() -> list[str]:
    return [value for name, value in os.environ.items() if _SECRET_ENV.search(name)]


def _object_secrets(source: object, depth: int = 0) -> set[str]:
    found: set[str] = set()
    for name in ("api_key", "_api_key"):
        value = getattr(source, name, None)
        if isinstance(value, str) and len(value) >= _MIN_SECRET:
            found.add(value)
    if depth < 3:
        for name in ("inner", "model"):
            inner = getattr(source, name, None)
            if inner is not None and inner is not source and callable(getattr(inner, "stream", None)):
                found |= _object_secrets(inner, depth + 1)
    return found
