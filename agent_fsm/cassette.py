"""Cassettes: model calls recorded as versioned JSONL, and replayed offline, event for event.

Format (one JSON object per line)::

    {"format": "agent-fsm/cassette", "version": 1, "kind": "recording", ...}     # the header
    {"call": 0, "fingerprint": "...", "request": {...}, "events": [...], "error": null, "complete": true}
    {"call": 1, ...}

The header may carry more keys: a fuzz case (``kind: agent-fsm/fuzz-case``, written by
:mod:`agent_fsm.testing`) puts its parameters there, and may write a model error inside a call's
events (``{"type": "modelError", ...}``: the model raises there). Each call line holds the
events the model yielded, in order (JSON through :mod:`agent_fsm.codec`), how the call ended
(``error``: the ``CompletionError`` it raised, or null; ``complete``: false when the consumer
stopped reading early), and the request that was sent with its ``fingerprint`` (a hash of its
canonical JSON). ``request`` and ``fingerprint`` may be absent (hand-written or fuzzed
cassettes); replaying then does not check the request.

:class:`ReplayModel` refuses a request that differs from the recorded one with
:class:`ReplayMismatch`, which shows the difference: a replayed run must be the same run.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from . import __version__
from .codec import from_dict, to_dict, to_json
from .errors import CompletionError, ConfigurationError
from .events import ModelEvent
from .redact import Redactor
from .request import CompletionRequest, Model

__all__ = [
    "CASSETTE_VERSION",
    "CassetteCall",
    "RecordingModel",
    "ReplayMismatch",
    "ReplayModel",
    "fingerprint",
    "read_cassette",
    "write_cassette",
]

CASSETTE_VERSION: Final = 1
FORMAT: Final = "agent-fsm/cassette"


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
        for entry in data.get("events", []):
            kind = entry.get("type") if isinstance(entry, Mapping) else None
            if kind == "modelError":  # a fuzz cassette's model raises here: nothing after it plays
                error = CompletionError(str(entry.get("message", "")), status=entry.get("status"))
                break
            if kind == "notAnEvent":
                raise ValueError("a notAnEvent entry can only be played by agent_fsm.testing.load_cassette")
            events.append(from_dict(entry, ModelEvent))
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
        ConfigurationError: for a file that is not a cassette, or of a newer version.
    """
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ConfigurationError(f"{path}: empty file, not a cassette")
    try:
        header = json.loads(lines[0])
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ConfigurationError(f"{path}: not an agent-fsm cassette (its first line has no format {FORMAT!r})")
        version = header.get("version")
        if not isinstance(version, int) or version > CASSETTE_VERSION:
            raise ConfigurationError(f"{path}: cassette version {version!r} is not supported (max {CASSETTE_VERSION})")
        calls = [CassetteCall.from_dict(json.loads(line)) for line in lines[1:]]
    except ConfigurationError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{path}: malformed cassette: {exc}") from exc
    return header, calls


def _header(**extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": CASSETTE_VERSION, "written_by": f"agent-fsm {__version__}", **extra}


def _write_line(f: TextIO, obj: Any) -> None:
    # no sort_keys: replayed events keep the key order the model produced (tool arguments included)
    f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
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
