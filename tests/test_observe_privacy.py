"""Credentials never reach logs, spans or raised errors; redaction by value and by shape."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from agent_fsm import Agent, CompletionError, ToolCall, ToolFunction, Usage
from agent_fsm.events import Final, ModelEvent, TextDelta, ToolCallReady
from agent_fsm.observe import Observer
from agent_fsm.observe.log import LoggingObserver
from agent_fsm.observe.redact import REDACTED, Redactor, redact
from agent_fsm.request import CompletionRequest
from agent_fsm.testing import ScriptedModel

from .observe_helpers import captured_logs
from .support import collect

KEY = "sk-proj-Abc123Def456Ghi789Jkl012"
ODD_KEY = "acme.7f3a9c1e5b2d4f60"  # a key of no known format: only its value can catch it
ENV_KEY = "zz-env-secret-00112233445566"


class CarelessProvider:
    """Fails with a 401 the way a careless provider would: the credentials are in every text.

    This stands in for a real provider (providers are written in another branch): the message
    names the request headers and the URL with the key, the body echoes it, the cause repeats it.
    """

    model_name = "gpt-test"
    provider = "openai"

    def __init__(self, api_key: str, *, foreign: bool = False) -> None:
        self.api_key = api_key
        self.foreign = foreign

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        return self._fail()

    async def _fail(self) -> AsyncGenerator[ModelEvent, None]:
        headers = {"Authorization": f"Bearer {self.api_key}", "x-api-key": self.api_key}
        message = (
            f"401 Unauthorized for POST https://api.example.com/v1/chat?key={self.api_key} "
            f"with headers {headers}; environment key {ENV_KEY}"
        )
        body = f'{{"error": {{"message": "Incorrect API key provided: {self.api_key}", "code": "invalid_api_key"}}}}'
        if self.foreign:  # not our exception: the driver wraps it, keeping it as the cause
            raise PermissionError(message + " " + body)
        try:
            raise ConnectionError(f"server said {body}")
        except ConnectionError as cause:
            raise CompletionError(message, status=401, body=body) from cause
        yield TextDelta("never")  # pragma: no cover - makes this an async generator


def observers(exporter: Any = None, provider: Any = None) -> list[Observer]:
    found: list[Observer] = [LoggingObserver(capture_content=True)]
    if provider is not None:
        from agent_fsm.observe.otel import OTelObserver

        found.append(OTelObserver(provider, capture_content=True))
    return found


def otel() -> tuple[Any, Any]:
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ModuleNotFoundError:  # pragma: no cover - the dev extra installs it
        return None, None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def span_texts(exporter: Any) -> list[str]:
    texts: list[str] = []
    for span in exporter.get_finished_spans() if exporter is not None else ():
        texts += [span.name, str(span.status.description), repr(dict(span.attributes or {}))]
        texts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
    return texts


def error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    texts += [str(getattr(exc, name, "")) for name in ("message", "body")]
    cause = exc.__cause__
    while cause is not None:
        texts += [str(cause), repr(cause.args)]
        cause = cause.__cause__
    return texts


@pytest.mark.parametrize(
    ("key", "foreign"), [(KEY, False), (ODD_KEY, False), (KEY, True)], ids=["known-format", "odd-format", "foreign"]
)
async def test_a_401_leaks_no_credential_into_logs_spans_or_the_raised_error(
    key: str, foreign: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACME_API_KEY", ENV_KEY)
    provider, exporter = otel()
    with captured_logs() as events, caplog.at_level(logging.DEBUG):
        agent = Agent(CarelessProvider(key, foreign=foreign), name="careless", observers=observers(exporter, provider))
        run = agent.stream_prompt("hello")
        _items, outcome = await collect(run)
    assert isinstance(outcome, CompletionError) and run.error is outcome
    emitted = [repr(e) for e in events] + [r.getMessage() for r in caplog.records]
    emitted += span_texts(exporter) + error_texts(outcome)
    for secret in (key, ENV_KEY):
        leaks = [text for text in emitted if secret in text]
        assert not leaks, leaks
    # ... and the scan looked at real content: the failure is reported, with what is not secret.
    failed = [e for e in events if e["event"] == "model call failed"]
    assert failed and REDACTED in failed[0]["error"] and "401 Unauthorized" in failed[0]["error"]
    if not foreign:
        assert failed[0]["http.response.status_code"] == 401
        assert outcome.status == 401 and outcome.body is not None and "invalid_api_key" in outcome.body
    if exporter is not None:
        chat = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")][0]
        assert chat.status.description is not None and "api.example.com" in chat.status.description


async def test_a_tool_server_that_raises_a_credential_is_logged_redacted(caplog: pytest.LogCaptureFixture) -> None:
    class LeakyServer:
        def definitions(self) -> list[Any]:
            return []

        async def call(self, name: str, arguments: Any) -> Any:
            raise RuntimeError(f"MCP server refused Authorization: Bearer {KEY}")

    call = ToolCallReady(ToolCall("c1", ToolFunction("remote", {})), "i1")
    agent = Agent(ScriptedModel([[call, Final(Usage())], [TextDelta("ok")]]), tools=LeakyServer())
    with captured_logs() as events:
        await collect(agent.stream_prompt("go"))
    (warning,) = [e for e in events if e["event"] == "tool server raised"]
    assert KEY not in repr(warning) and "MCP server refused" in warning["exception"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abcdefgh12345678", "Authorization: "),
        ("{'authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "{'authorization': '"),
        ('headers={"x-api-key": "k-123456789", "accept": "json"}', '"accept": "json"'),
        ("GET https://gen.example.com/v1/models?key=AIzaSyA1234567890abcdefghij&alt=sse", "&alt=sse"),
        ("api_key=abc123secret, model=gpt", "model=gpt"),
        ('{"api_key": "abc123secret"}', '{"api_key": "'),
        ("Incorrect API key provided: sk-ant-api03-abcdefghijkl", "Incorrect API key provided: "),
        ("token gsk_abcdefghijkl1234 was rejected", "was rejected"),
    ],
)
def test_redact_removes_credentials_by_shape(text: str, kept: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned and kept in cleaned
    for secret in ("abcdefgh12345678", "dXNlcjpwYXNzd29yZA", "k-123456789", "AIzaSy", "abc123secret", "sk-ant", "gsk_"):
        assert secret not in cleaned


def test_redact_keeps_ordinary_error_text() -> None:
    text = "HTTP 429: rate limited; retry after 2 s (max_tokens=512, input_tokens: 30, KeyError: 'x')"
    assert redact(text) == text


def test_Redactor_knows_the_model_key_and_secret_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok.value.0123456789")
    monkeypatch.setenv("SHORT_API_KEY", "abc")  # too short to be treated as a secret
    monkeypatch.setenv("HOME_DIR_NAME", "visible-value-0123")

    class Wrapper:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def stream(self, request: Any) -> Any:
            raise NotImplementedError

    clean = Redactor(Wrapper(CarelessProvider(ODD_KEY)))
    text = f"key {ODD_KEY}, token tok.value.0123456789, abc, visible-value-0123"
    assert clean(text) == f"key {REDACTED}, token {REDACTED}, abc, visible-value-0123"


def test_Redactor_scrub_cleans_an_error_and_its_causes_in_place() -> None:
    try:
        try:
            raise OSError(f"socket said Bearer {KEY}")
        except OSError as cause:
            raise CompletionError(f"failed with {KEY}", status=401, body=f"echo {KEY}") from cause
    except CompletionError as caught:
        err = caught
    Redactor().scrub(err)
    assert KEY not in "".join(traceback.format_exception(err))
    assert err.message == f"failed with {REDACTED}" and err.body == f"echo {REDACTED}" and err.status == 401
    assert isinstance(err.__cause__, OSError)
