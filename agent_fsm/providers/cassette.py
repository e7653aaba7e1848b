"""Cassettes: model calls recorded as versioned JSONL, and replayed offline, event for event.

Format (one JSON object per line)::

    {"format": "agent-fsm/cassette", "version": 1, "kind": "recording", ...}     # the header
    {"call": 0, "fingerprint": "...", "request": {...}, "events": [...], "error": null, "complete": true}
    {"call": 1, ...}

The header may carry more keys: a fuzz case (``kind: agent-fsm/fuzz-case``, written by
:func:`agent_fsm.testing.dump_cassette`, its keys listed there) puts its parameters there. A
call's events may hold two entries that are not events: ``{"type": "modelError", "error":
"CompletionError", "message": "...", "status": 500}`` (the model raises there; ``error`` is one
of :data:`MODEL_ERRORS`), ``{"type": "notAnEvent", "value": ...}`` (a provider bug: the model
yields that JSON value itself) and ``{"type": "wrongTypedEvent", "name": ...}`` (one of the fuzz
kit's events with wrong-typed fields, by name); only the fuzz kit plays the last two. Each call line holds the
events the model yielded, in order (JSON through :mod:`agent_fsm.codec`), how the call ended
(``error``: the ``CompletionError`` it raised, or null; ``complete``: false when the consumer
stopped reading early), and the request that was sent with its ``fingerprint`` (a hash of its
canonical JSON). ``request`` and ``fingerprint`` may be absent (hand-written or fuzzed
cassettes); replaying then does not check the request.

:class:`ReplayModel` refuses a request that differs from the recorded one with
:class:`ReplayMismatch`, which shows the difference: a replayed run must be the same run.

This module is the one reader and writer of the format (:func:`parse_cassette`,
:func:`read_entry`, :func:`cassette_line`); the fuzz kit's cassettes go through it too. A reader
refuses a ``version`` newer than it knows (:class:`~agent_fsm.errors.CassetteError`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from attrs import frozen

from .._version import __version__
from ..codec import from_dict, to_dict, to_json
from ..errors import CassetteError, CodecError, CompletionError
from ..events import ModelEvent
from ..observe.redact import Redactor
from ..request import CompletionRequest, Model

__all__ = [
    "CASSETTE_VERSION",
    "FORMAT",
    "MODEL_ERRORS",
    "CassetteCall",
    "NotAnEvent",
    "WrongTypedEvent",
    "RecordingModel",
    "ReplayMismatch",
    "ReplayModel",
    "cassette_line",
    "fingerprint",
    "parse_cassette",
    "read_cassette",
    "read_entry",
    "write_cassette",
]

CASSETTE_VERSION: Final = 1
FORMAT: Final = "agent-fsm/cassette"

MODEL_ERRORS: Final[Mapping[str, type[BaseException]]] = {
    cls.__name__: cls
    for cls in (CompletionError, RuntimeError, ConnectionError, ConnectionResetError, TimeoutError, OSError, ValueError)
}
"""The exceptions a cassette can make a model raise."""

_LINE_BREAKS: Final = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""Characters some readers split lines on that JSON leaves raw: escaped, so a line stays a line."""


@frozen
class NotAnEvent:
    """A ``notAnEvent`` entry: a value a buggy model yields instead of an event."""

    value: Any


@frozen
class WrongTypedEvent:
    """A ``wrongTypedEvent`` entry: the fuzz kit's event of that name, whose fields have the wrong
    types (``agent_fsm.testing._scripts.WRONG_TYPED_EVENTS``)."""

    name: str


def cassette_line(value: Any, *, sort_keys: bool = False) -> str:
    """One line of a cassette (no newline). Recordings keep key order (tool arguments as the
    model produced them); the fuzz kit sorts keys so that equal cases give equal text."""
    text = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text


def parse_cassette(text: str, *, where: str = "cassette") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the call lines of a cassette, as JSON objects; ``where`` names it in errors.

    Lines are separated by newlines only; indentation and blank lines are ignored, so a cassette
    pasted into a test as an indented raw string reads as it is.

    Raises:
        CassetteError: for text that is not a cassette, of a newer version, or a malformed line.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise CassetteError(f"{where}: empty, not a cassette")
    try:
        header = json.loads(lines[0])
        calls = [json.loads(line) for line in lines[1:]]
    except json.JSONDecodeError as exc:
        raise CassetteError(f"{where}: a line is not valid JSON: {exc}") from exc
    # the fuzz kit's first cassettes named their kind but no format: still cassettes
    if not isinstance(header, dict) or header.get("format", FORMAT if "kind" in header else None) != FORMAT:
        raise CassetteError(f"{where}: not an agent-fsm cassette (its first line has no format {FORMAT!r})")
    version = header.get("version")
    if type(version) is not int or version > CASSETTE_VERSION:
        raise CassetteError(f"{where}: cassette version {version!r} is not supported (max {CASSETTE_VERSION})")
    for call in calls:
        if not isinstance(call, dict):
            raise CassetteError(f"{where}: a call line must be a JSON object, got {call!r}")
    return header, calls


def read_entry(data: Any) -> ModelEvent | BaseException | NotAnEvent | WrongTypedEvent:
    """One entry of a call's events: an event, the exception the model raises there, a
    :class:`NotAnEvent` or a :class:`WrongTypedEvent`.

    Raises:
        CassetteError: for an entry that is none of these.
    """
    if not isinstance(data, Mapping):
        raise CassetteError(f"a cassette event must be a JSON object, got {data!r}")
    kind = data.get("type")
    if kind == "notAnEvent":
        return NotAnEvent(data.get("value"))
    if kind == "wrongTypedEvent":
        return WrongTypedEvent(str(data.get("name")))
    if kind == "modelError":
        cls = MODEL_ERRORS.get(str(data.get("error", "CompletionError")))
        if cls is None:
            raise CassetteError(f"a cassette cannot raise {data.get('error')!r}; it can raise {sorted(MODEL_ERRORS)}")
        if cls is CompletionError:
            return CompletionError(str(data.get("message", "")), status=data.get("status"))
        return cls(str(data.get("message", "")))
    try:
        return from_dict(data, ModelEvent)
    except CodecError as exc:
        raise CassetteError(str(exc)) from exc


class ReplayMismatch(CompletionError):
    """Raised when a replayed run sends a request other than the recorded one; ``diff`` shows how."""

    def __init__(self, call: int, diff: str) -> None:
        super().__init__(f"replay mismatch at model call {call}: the request differs from the recording\n{diff}")
        self.call = call
        self.diff = diff


def fingerprint(request: CompletionRequest) -> str:
    """A short hash of the request's canonical JSON."""
    return hashlib.sha256(to_json(request).encode()).hexdigest()[:16]


class CassetteCall:
    """One recorded model call."""

    __slots__ = ("complete", "error", "events", "fingerprint", "request")

    def __init__(
        self,
        events: Sequence[ModelEvent],
        *,
        request: CompletionRequest | None = None,
        error: CompletionError | None = None,
        complete: bool = True,
    ) -> None:
        self.events = list(events)
        self.request = request
        self.fingerprint = fingerprint(request) if request is not None else None
        self.error = error
        self.complete = complete

    def to_dict(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"call": index, "events": to_dict(self.events), "complete": self.complete}
        if self.request is not None:
            out["fingerprint"] = self.fingerprint
            out["request"] = to_dict(self.request)
        out["error"] = None if self.error is None else _error_to_dict(self.error)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CassetteCall:
        request = from_dict(data["request"], CompletionRequest) if data.get("request") is not None else None
        error = _error_from_dict(data["error"]) if data.get("error") else None
        events: list[ModelEvent] = []
        for entry in map(read_entry, data.get("events", [])):
            if isinstance(entry, NotAnEvent | WrongTypedEvent):
                kind = type(entry).__name__
                raise CassetteError(f"a {kind} entry can only be played by agent_fsm.testing.load_cassette")
            if isinstance(entry, BaseException):  # the model raises here: nothing after it plays
                error = entry if isinstance(entry, CompletionError) else CompletionError(str(entry))
                break
            events.append(entry)
        call = cls(events, request=request, error=error, complete=bool(data.get("complete", True)))
        if data.get("fingerprint") is not None:
            call.fingerprint = str(data["fingerprint"])
        return call


def _error_to_dict(error: CompletionError) -> dict[str, Any]:
    return {"type": type(error).__name__, "message": error.message, "status": error.status, "body": error.body,
            "retryable": error.retryable}  # fmt: skip


def _error_from_dict(data: Mapping[str, Any]) -> CompletionError:
    return CompletionError(
        str(data.get("message", "recorded model error")),
        status=data.get("status"),
        body=data.get("body"),
        retryable=bool(data.get("retryable", False)),
    )


def write_cassette(path: str | Path, calls: Sequence[CassetteCall], **header: Any) -> None:
    """Write a whole cassette (header, then one line per call)."""
    with Path(path).open("w", encoding="utf-8") as f:
        _write_line(f, _header(**header))
        for i, call in enumerate(calls):
            _write_line(f, call.to_dict(i))


def read_cassette(path: str | Path) -> tuple[dict[str, Any], list[CassetteCall]]:
    """Read a cassette: its header and its calls.

    Raises:
        CassetteError: for a file that is not a cassette, of a newer version, or malformed.
    """
    header, lines = parse_cassette(Path(path).read_text(encoding="utf-8"), where=str(path))
    try:
        calls = [CassetteCall.from_dict(line) for line in lines]
    except CassetteError as exc:
        raise CassetteError(f"{path}: malformed cassette: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CassetteError(f"{path}: malformed cassette: {exc}") from exc
    return header, calls


def _header(**extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": CASSETTE_VERSION, "written_by": f"agent-fsm {__version__}", **extra}


def _write_line(f: TextIO, obj: Any) -> None:
    f.write(cassette_line(obj) + "\n")
    f.flush()


class RecordingModel:
    """Wraps any model and records each of its calls into a cassette at ``path`` as it ends.

    The file is (re)written with a header when the recorder is made; each call's line is appended
    when the call ends - exhausted, failed, or closed early by the consumer.
    """

    def __init__(self, inner: Model, path: str | Path, **header: Any) -> None:
        self.inner = inner
        self.path = Path(path)
        self.calls = 0
        with self.path.open("w", encoding="utf-8") as f:
            _write_line(f, _header(kind="recording", model=type(inner).__name__, **header))

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        index = self.calls
        self.calls += 1
        return self._record(index, request)

    async def _record(self, index: int, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        events: list[ModelEvent] = []
        error: CompletionError | None = None
        complete = False
        try:
            stream: Any = self.inner.stream(request)
            if hasattr(stream, "__await__"):
                stream = await stream
            async for event in stream:
                events.append(event)
                yield event
            complete = True
        except CompletionError as exc:
            error = exc
            raise
        except Exception as exc:
            error = CompletionError(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if error is not None:  # a cassette is written down like a log: no credential may reach it
                clean = Redactor(self.inner)
                error = CompletionError(
                    clean(error.message),
                    status=error.status,
                    body=None if error.body is None else clean(error.body),
                    retryable=error.retryable,
                )
            with self.path.open("a", encoding="utf-8") as f:
                call = CassetteCall(events, request=request, error=error, complete=complete or error is not None)
                _write_line(f, call.to_dict(index))


class ReplayModel:
    """Plays a cassette back: each model call yields the recorded events and raises the recorded
    error, after checking that the request is the recorded one.

    Args:
        source: a cassette path, or the calls themselves.
        check_requests: compare each request with the recording (when it was recorded).
    """

    def __init__(self, source: str | Path | Sequence[CassetteCall], *, check_requests: bool = True) -> None:
        if isinstance(source, str | Path):
            self.header, self.recorded = read_cassette(source)
        else:
            self.header, self.recorded = _header(kind="calls"), list(source)
        self.check_requests = check_requests
        self.calls = 0

    def stream(self, request: CompletionRequest) -> AsyncIterator[ModelEvent]:
        index = self.calls
        self.calls += 1
        if index >= len(self.recorded):
            raise ReplayMismatch(index, f"the cassette has {len(self.recorded)} call(s); the run made another")
        call = self.recorded[index]
        if self.check_requests and call.fingerprint is not None and call.fingerprint != fingerprint(request):
            raise ReplayMismatch(index, _diff(call.request, request))
        return self._play(call)

    async def _play(self, call: CassetteCall) -> AsyncGenerator[ModelEvent, None]:
        for event in call.events:
            yield event
        if call.error is not None:
            raise _error_from_dict(_error_to_dict(call.error))


def _diff(recorded: CompletionRequest | None, actual: CompletionRequest) -> str:
    def lines(req: CompletionRequest | None) -> list[str]:
        if req is None:
            return ["(not recorded)"]
        return json.dumps(to_dict(req), indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    diff = difflib.unified_diff(lines(recorded), lines(actual), "recorded", "replayed", lineterm="", n=2)
    return "\n".join(diff)
