"""Provider parse cost per SSE event, ours against the official SDKs, on the 35 real recordings.

Inputs are the recorded bodies in ``../shared/wire`` (read in place, never copied), grouped by wire
format. Per format and per round, three things are timed over every recording of that format:

* ``parse`` - our parser alone: the frames decoded beforehand (``decode_frames``), then a fresh
  ``new_parser(fmt)`` fed every frame and finished. The cost the provider adds per event.
* ``bytes`` - ours from bytes: SSE framing by ``httpx-sse`` (NDJSON lines for Ollama) plus the
  parser (``replay``), i.e. what a live stream costs once the bytes are in memory.
* ``sdk`` - the official SDK from the same bytes: its ``Stream`` over an in-memory response (its
  own SSE decoder, JSON, model construction) feeding its own accumulator -
  ``ChatCompletionStreamState`` (openai, Chat Completions), ``ResponseStreamState`` (openai,
  Responses), ``MessageStream`` (anthropic). Ollama has no official accumulator: none.

Costs are per SSE event (per NDJSON line for Ollama): total time / frames in the recordings, where
frames are counted once by ``decode_frames`` (pings and ``[DONE]`` included). The SDK ratio is
paired per round (sdk / bytes). Recordings that end in an error (in-band errors, a cut tool call)
are timed up to the error, by both sides.

Runs in whichever interpreter has ``agent_fsm`` (and, for the SDK columns, ``openai`` and
``anthropic``): ``make bench`` runs it in ``bench/.venv-sdk`` when that exists.
"""

from __future__ import annotations

import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WIRE = Path(__file__).resolve().parent.parent.parent / "shared" / "wire"
FORMATS = ("openai_chat", "anthropic", "openai_responses", "ollama")


def load() -> dict[str, list[tuple[str, bytes]]]:
    manifest = json.loads((WIRE / "manifest.json").read_text())
    out: dict[str, list[tuple[str, bytes]]] = {fmt: [] for fmt in FORMATS}
    for entry in manifest:
        fmt = entry["file"].split("/", 1)[0]
        out[fmt].append((entry["file"], (WIRE / entry["file"]).read_bytes()))
    return out


# ---------------------------------------------------------------------------------------- ours


def ours_parse(fmt: str, frames: list[tuple[str, str]]) -> None:
    from agent_fsm.errors import CompletionError
    from agent_fsm.providers.replay import new_parser

    parser = new_parser(fmt)  # type: ignore[arg-type]
    feed = parser.feed
    try:
        for event, data in frames:
            feed(event, data)
        parser.finish()
    except CompletionError:
        pass


def ours_bytes(fmt: str, body: bytes) -> None:
    from agent_fsm.errors import CompletionError
    from agent_fsm.providers.replay import replay

    with contextlib.suppress(CompletionError):
        replay(fmt, body)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- SDKs


def sdk_runner(fmt: str) -> Callable[[bytes], None] | None:
    """The official SDK accumulating one body, or None if that SDK is not installed."""
    try:
        if fmt in ("openai_chat", "openai_responses"):
            return _openai(fmt)
        if fmt == "anthropic":
            return _anthropic()
    except ImportError:
        return None
    return None


def _http() -> Any:
    try:
        import httpx2 as http  # the SDKs' own transport, from openai 3 / anthropic 2 on
    except ImportError:
        import httpx as http
    return http


def _openai(fmt: str) -> Callable[[bytes], None]:
    import openai
    from openai import Stream
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.chat import ChatCompletionChunk
    from openai.types.responses import ResponseStreamEvent

    http = _http()
    client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/v1", max_retries=0)
    request = http.Request("POST", "http://127.0.0.1:9/v1/x")
    headers = {"content-type": "text/event-stream"}

    if fmt == "openai_chat":

        def chat(body: bytes) -> None:
            response = http.Response(200, headers=headers, content=body, request=request)
            state: Any = ChatCompletionStreamState()
            try:
                for chunk in Stream(cast_to=ChatCompletionChunk, response=response, client=client):
                    state.handle_chunk(chunk)
                state.get_final_completion()
            except openai.OpenAIError:
                pass

        return chat

    def responses(body: bytes) -> None:
        response = http.Response(200, headers=headers, content=body, request=request)
        state: Any = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
        try:
            for event in Stream(cast_to=ResponseStreamEvent, response=response, client=client):  # type: ignore[arg-type]
                state.handle_event(event)
        except openai.OpenAIError:
            pass

    return responses


def _anthropic() -> Callable[[bytes], None]:
    import anthropic
    from anthropic import NOT_GIVEN, Stream
    from anthropic.lib.streaming import MessageStream
    from anthropic.types import RawMessageStreamEvent

    http = _http()
    client = anthropic.Anthropic(api_key="sk-bench", base_url="http://127.0.0.1:9", max_retries=0)
    request = http.Request("POST", "http://127.0.0.1:9/v1/messages")
    headers = {"content-type": "text/event-stream"}

    def run(body: bytes) -> None:
        response = http.Response(200, headers=headers, content=body, request=request)
        raw: Any = Stream(cast_to=RawMessageStreamEvent, response=response, client=client)  # type: ignore[arg-type]
        stream = MessageStream(raw, NOT_GIVEN)
        try:
            for _ in stream:
                pass
            stream.get_final_message()
        except anthropic.AnthropicError:
            pass

    return run


def sdk_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in ("openai", "anthropic"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


# ---------------------------------------------------------------------------------------- timing


def measure(rounds: int, reps: int) -> dict[str, Any]:
    from agent_fsm.providers.replay import decode_frames

    data = load()
    frames = {fmt: [decode_frames(fmt, body) for _, body in files] for fmt, files in data.items()}  # type: ignore[arg-type]
    n_frames = {fmt: sum(len(f) for f in fs) for fmt, fs in frames.items()}
    bodies = {fmt: [body for _, body in files] for fmt, files in data.items()}

    def timed(fn: Callable[[], None]) -> float:
        gc.collect()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        return time.perf_counter() - t

    samples: dict[str, dict[str, Callable[[], None]]] = {}
    for fmt in FORMATS:

        def parse_all(fmt: str = fmt) -> None:
            for fr in frames[fmt]:
                ours_parse(fmt, fr)

        def bytes_all(fmt: str = fmt) -> None:
            for body in bodies[fmt]:
                ours_bytes(fmt, body)

        samples[fmt] = {"parse": parse_all, "bytes": bytes_all}
        sdk = sdk_runner(fmt)
        if sdk is not None:

            def sdk_all(fmt: str = fmt, sdk: Callable[[bytes], None] = sdk) -> None:
                for body in bodies[fmt]:
                    sdk(body)

            samples[fmt]["sdk"] = sdk_all

    for fmt in FORMATS:  # warm-up
        for fn in samples[fmt].values():
            fn()
    times: dict[str, dict[str, list[float]]] = {fmt: {k: [] for k in samples[fmt]} for fmt in FORMATS}
    for r in range(rounds):
        for fmt in FORMATS:
            names = list(samples[fmt])
            k = r % len(names)
            for name in names[k:] + names[:k]:
                times[fmt][name].append(timed(samples[fmt][name]))

    result: dict[str, Any] = {"rounds": rounds, "reps": reps, "versions": sdk_versions(), "formats": {}}
    for fmt in FORMATS:
        per = n_frames[fmt] * reps
        row: dict[str, Any] = {"recordings": len(bodies[fmt]), "events": n_frames[fmt]}
        for name, ts in times[fmt].items():
            row[f"{name}_us"] = statistics.median(ts) / per * 1e6
        if "sdk" in times[fmt]:
            ratios = [s / b for s, b in zip(times[fmt]["sdk"], times[fmt]["bytes"], strict=True)]
            row["sdk_ratio"] = statistics.median(ratios)
        result["formats"][fmt] = row
    return result


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(json.dumps(measure(rounds, reps)))
