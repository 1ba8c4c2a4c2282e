"""The official OpenAI Python SDK as a client of the target (suites/test_sdk.py).

The SDK is given an ``httpx.Client`` whose transport records every exchange as a chatconform
:class:`~chatconform.client.Exchange` (redacted, counted in the run's cost, attached to the test),
bounds it like chatconform's own client (connect/read/total time, body size, the give-up rule) and
retries 429/503 honouring Retry-After; the SDK's own retries are off, so a 500 or a timeout is
never sent three times.

What the SDK raises is judged by :func:`sdk_call`: an exception where a call should succeed fails
the requirement the test names, with the exception's type and message as what was received and
the last exchange as the way to reproduce it. ``openai`` is imported lazily: this module loads
(and its checks register) without the SDK installed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ..client import Exchange, retry_after_seconds
from ..failures import ConformanceFailure, HarnessProblem, Unsupported, excerpt

try:
    from ..failures import NotJudged
except ImportError:  # pragma: no cover - an older failures module
    class NotJudged(Exception):  # type: ignore[no-redef]
        pass
from ..sse import parse as parse_sse
from . import check
from .capabilities import unsupported_if_rejected
from .stored import route_missing

if TYPE_CHECKING:
    from ..client import Client
    from ..target import Target

SDK_TIMEOUT_CAP = 30.0  # seconds the SDK may wait for one response: a small timeout, as the suite is frugal


# -- the recording, bounded transport -------------------------------------------------------------
@dataclass
class Recorder:
    """Every exchange the SDK made, in order; ``last`` is the one a failure names."""

    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


class _RecordedStream(httpx.SyncByteStream):
    """The response body as the SDK reads it, copied into the Exchange and bounded in time and size."""

    def __init__(self, inner: httpx.SyncByteStream, transport: RecordingTransport, exchange: Exchange,
                 request: httpx.Request, started: float, slot: ExitStack) -> None:
        self.inner, self.transport, self.exchange, self.request = inner, transport, exchange, request
        self.slot = slot  # the place on the wire, given back once the body is read or closed
        self.started = started
        self.buffer = bytearray()
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        s = self.transport.chatconform.settings
        deadline = self.started + s.total_timeout
        timeouts = self.request.extensions.get("timeout")
        chunks = iter(self.inner)
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    self.exchange.problem_kind = "timeout"
                    self.exchange.problem = f"the response did not finish within {s.total_timeout:g}s"
                    raise httpx.ReadTimeout(self.exchange.problem, request=self.request)
                if isinstance(timeouts, dict):  # the next read may not outlast the whole exchange's budget
                    timeouts["read"] = max(min(s.read_timeout, deadline - now), 0.001)
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                self.buffer += chunk
                if len(self.buffer) > s.max_body_bytes:
                    self.exchange.problem_kind = "size"
                    self.exchange.problem = f"the response body exceeded the {s.max_body_bytes} byte cap"
                    raise httpx.ReadError(self.exchange.problem, request=self.request)
                yield chunk
        except httpx.TimeoutException:
            if self.exchange.problem is None:
                self.exchange.problem_kind = "timeout"
                self.exchange.problem = "the server stopped sending (read timeout) before the response was complete"
            raise
        except httpx.TransportError as exc:
            if self.exchange.problem is None:
                self.exchange.problem_kind = "connection"
                self.exchange.problem = f"the connection failed mid-response: {exc.__class__.__name__}"
            raise
        finally:
            self._finish()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.slot.close()
        exchange, cc = self.exchange, self.transport.chatconform
        exchange.body = cc.redactor.bytes(bytes(self.buffer))
        exchange.elapsed = time.monotonic() - self.started
        if exchange.streamed and exchange.status is not None and 200 <= exchange.status < 300:
            exchange.events, exchange.stream_stats = parse_sse(exchange.body)
        # counted like the suite's own requests: cost, billed completions, the give-up streak
        billable = self.transport.billable.pop(id(exchange), False)
        cc.release(billable)
        cc.account(exchange, billable=billable)


class RecordingTransport(httpx.BaseTransport):
    """Wraps a real transport: records, redacts, bounds and accounts every exchange the SDK makes."""

    def __init__(self, chatconform: Client, recorder: Recorder, inner: httpx.BaseTransport | None = None,
                 auth_headers: dict[str, str] | None = None) -> None:
        self.chatconform = chatconform
        self.recorder = recorder
        self.inner = inner or httpx.HTTPTransport()
        # the headers that carry the key in the target's auth style; replace the SDK's Authorization
        self.auth_headers = auth_headers
        self.billable: dict[int, bool] = {}  # id(exchange) -> reserved against the budget until accounted

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        cc = self.chatconform
        if self.auth_headers is not None:
            for name in ("authorization", "api-key"):
                if name in request.headers:
                    del request.headers[name]
            request.headers.update(self.auth_headers)
        body = request.read()
        try:
            streamed = json.loads(body or b"null").get("stream") is True
        except (ValueError, AttributeError):
            streamed = False
        red = cc.redactor
        exchange = Exchange(method=request.method, url=red.text(str(request.url)),
                            request_headers=red.headers(request.headers.multi_items()),
                            request_body=red.bytes(body) if body else None, streamed=streamed)
        self.recorder.exchanges.append(exchange)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        # the SDK puts the key in a header of its own making: it is the run's if a header carries it
        run_key = getattr(cc.auth, "key", None)
        sent_key = run_key if run_key and any(run_key in value for value in request.headers.values()) else None
        billable = cc.is_billable(request.method, request.url.path, parsed, key=sent_key)
        refused = cc.refusal(billable)  # the run's budget, deadline and give-up rule hold here too
        if refused is not None:
            exchange.problem_kind, exchange.problem = refused
            exchange.attempts = 0
            for observer in cc.observers:  # attached to the running test like any exchange of the suite
                observer(exchange)
            raise httpx.ConnectError(exchange.problem, request=request)
        self.billable[id(exchange)] = billable
        waits: list[float] = []
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            slot = ExitStack()
            slot.enter_context(cc.slot(streamed))
            try:
                response = self.inner.handle_request(request)
            except httpx.TimeoutException as exc:
                slot.close()
                self._unanswered(exchange, attempt, "timeout", f"{exc.__class__.__name__} before the response headers")
                raise
            except httpx.TransportError as exc:
                slot.close()
                self._unanswered(exchange, attempt, "connection", f"{exc.__class__.__name__}: {red.text(str(exc))}")
                raise
            if response.status_code in (429, 503) and attempt <= cc.settings.max_retries:
                wait = retry_after_seconds(response.headers, attempt)
                if sum(waits) + wait <= cc.settings.max_retry_wait:
                    response.read()
                    response.close()
                    slot.close()  # nothing on the wire while waiting
                    waits.append(wait)
                    time.sleep(wait)
                    continue
            break
        exchange.attempts, exchange.retry_waits = attempt, waits
        exchange.status = response.status_code
        exchange.headers = httpx.Headers(red.headers(response.headers.multi_items()))
        stream = _RecordedStream(response.stream, self, exchange, request, started, slot)  # type: ignore[arg-type]
        return httpx.Response(response.status_code, headers=response.headers, stream=stream,
                              extensions=response.extensions, request=request)

    def _unanswered(self, exchange: Exchange, attempts: int, kind: str, problem: str) -> None:
        cc = self.chatconform
        exchange.attempts, exchange.problem_kind, exchange.problem = attempts, kind, problem
        billable = self.billable.pop(id(exchange), False)
        cc.release(billable)
        cc.account(exchange, billable=billable)

    def close(self) -> None:
        self.inner.close()


def http_client(chatconform: Client, recorder: Recorder, auth_headers: dict[str, str] | None = None) -> httpx.Client:
    """An httpx.Client for the SDK with chatconform's connect and read timeouts and the recording transport."""
    s = chatconform.settings
    return httpx.Client(transport=RecordingTransport(chatconform, recorder, auth_headers=auth_headers),
                        timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout), follow_redirects=False)


def sdk_timeout(chatconform: Client) -> float:
    return min(chatconform.settings.total_timeout, SDK_TIMEOUT_CAP)


def openai_client(target: Target, chatconform: Client, recorder: Recorder, *, api_key: Any = None) -> Any:
    """``openai.OpenAI`` for the target (its key, unless ``api_key`` is given, in the target's auth style)."""
    import openai

    key = target.api_key if api_key is None else api_key
    if target.auth_style == "api-key":
        auth = {"api-key": key} if key else {}
    else:
        auth = {"Authorization": f"Bearer {key}"} if key else {}
    # the SDK insists on a key; a target without one gets none on the wire (auth replaces the header)
    return openai.OpenAI(base_url=target.base_url, api_key=key or "chatconform-no-key", max_retries=0,
                         timeout=sdk_timeout(chatconform), default_headers=extra_headers(target),
                         http_client=http_client(chatconform, recorder, auth))


def extra_headers(target: Target) -> dict[str, str]:
    """The --header headers the target needs on every request (where the Target has them)."""
    return dict(getattr(target, "headers", None) or {})


# -- judging what the SDK did ------------------------------------------------------------------
def describe(exc: BaseException, chatconform: Client | None = None) -> str:
    """``openai.BadRequestError: Error code: 400 - ...``, the key masked."""
    cls = type(exc)
    module = cls.__module__
    name = cls.__qualname__ if module in ("builtins",) else f"{module.split('.')[0]}.{cls.__qualname__}"
    text = f"{name}: {exc}"
    return chatconform.redactor.text(text) if chatconform is not None else text


def _transport_problem(exc: BaseException) -> bool:
    try:
        import openai

        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
            return True
    except ImportError:  # pragma: no cover - the suite skips without the SDK
        pass
    return isinstance(exc, httpx.TransportError)


@contextmanager
def sdk_call(requirement: str, expected: str, recorder: Recorder, chatconform: Client, *, where: str,
             unsupported: tuple[tuple[str, str], ...] = (), route: str | None = None) -> Iterator[None]:
    """Run SDK code; whatever it raises fails ``requirement`` (received: the exception's type and
    message), except a missing response (a harness problem), a refusal naming one of the
    ``unsupported`` (capability, parameter) pairs, and, given ``route`` ("GET /chat/completions"),
    a target that does not serve that route at all (405, a 404 that is not an API error): the
    target lacks the ``store`` capability's endpoint."""
    try:
        yield
    except (ConformanceFailure, HarnessProblem, Unsupported, NotJudged):
        raise
    except Exception as exc:
        exchange = getattr(exc, "chatconform_exchange", None) or recorder.last
        if exchange is not None and exchange.problem_kind == "budget":
            raise NotJudged(requirement, str(exchange.problem), exchange) from exc
        if exchange is not None and (exchange.status or 0) >= 500:
            # the server failed the request: nothing reached the SDK to parse; the raw suites
            # judge the 5xx itself (structured.format-answered-or-refused, error.client-error-not-5xx)
            raise NotJudged(requirement, f"HTTP {exchange.status}: the server answered no response to parse "
                                         f"({exchange.excerpt(120)})", exchange) from exc
        if exchange is not None and (exchange.status is None or exchange.problem) and _transport_problem(exc):
            raise HarnessProblem(exchange, expected) from exc
        if exchange is not None:
            for capability, parameter in unsupported:
                unsupported_if_rejected(exchange, capability, parameter)
            if route and exchange.status is not None and route_missing(exchange):
                raise Unsupported("store", f"{route} is not served: {exchange.excerpt(200)}") from exc
        raise ConformanceFailure(requirement, expected, describe(exc, chatconform), exchange, where=where) from exc


def _fail(requirement: str, expected: str, received: Any, recorder: Recorder, where: str) -> None:
    raise ConformanceFailure(requirement, expected, received, recorder.last, where=where)


# -- checks: each judges one requirement on what the SDK returned ------------------------------------
@check("sdk.create-parses")
def completion_readable(completion: Any, recorder: Recorder, where: str = "client.chat.completions.create()") -> None:
    """A ChatCompletion whose first choice's message has the answer as a string."""
    from openai.types.chat import ChatCompletion

    requirement = "sdk.create-parses"
    if not isinstance(completion, ChatCompletion):
        _fail(requirement, "a ChatCompletion", type(completion).__name__, recorder, where)
    choices = completion.choices
    if not isinstance(choices, list) or not choices:
        _fail(requirement, "completion.choices: a non-empty list", repr(choices), recorder, where)
    message = getattr(choices[0], "message", None)
    if not isinstance(getattr(message, "content", None), str):
        _fail(requirement, "choices[0].message.content: the answer as a str",
              f"message {excerpt(repr(message), 200)}", recorder, where)


@check("sdk.stream-iterator-consumes")
def chunks_readable(chunks: list[Any], recorder: Recorder, where: str) -> None:
    """Every item is a ChatCompletionChunk, and the content deltas add up to a non-empty answer."""
    from openai.types.chat import ChatCompletionChunk

    requirement = "sdk.stream-iterator-consumes"
    wrong = [type(c).__name__ for c in chunks if not isinstance(c, ChatCompletionChunk)]
    if wrong or not chunks:
        _fail(requirement, "ChatCompletionChunk items", wrong or "no chunk at all", recorder, where)
    text = "".join(ch.delta.content or "" for c in chunks for ch in (c.choices or []) if ch.delta is not None)
    if not text:
        _fail(requirement, "content deltas that add up to the answer", "no content in any delta", recorder, where)


@check("sdk.stream-helper-consumes")
def final_completion_readable(final: Any, recorder: Recorder, where: str, *, tools: bool = False) -> None:
    """The helper's get_final_completion() has a first choice with a message (the answer, or calls)."""
    requirement = "sdk.stream-helper-consumes"
    choices = getattr(final, "choices", None)
    if not isinstance(choices, list) or not choices:
        _fail(requirement, "get_final_completion().choices: a non-empty list", repr(choices), recorder, where)
    message = getattr(choices[0], "message", None)
    if message is None:
        _fail(requirement, "get_final_completion().choices[0].message", "None", recorder, where)
    if not tools and not isinstance(message.content, str):
        _fail(requirement, "the assembled answer as a str", repr(message.content), recorder, where)


@check("sdk.stream-helper-tool-calls")
def assembled_tool_calls(final: Any, declared: set[str], recorder: Recorder, where: str) -> None:
    """The helper assembled at least one tool call, each with an id, a declared name and JSON-object arguments."""
    requirement = "sdk.stream-helper-tool-calls"
    calls = final.choices[0].message.tool_calls
    if not calls:
        _fail(requirement, "the streamed tool call(s) in get_final_completion()", f"tool_calls {calls!r}",
              recorder, where)
    for n, call in enumerate(calls):
        function = getattr(call, "function", None)
        if not call.id or function is None or function.name not in declared:
            _fail(requirement, f"tool_calls[{n}] with an id and one of the declared names {sorted(declared)}",
                  f"id {call.id!r}, function {excerpt(repr(function), 200)}", recorder, where)
        try:
            arguments = json.loads(function.arguments)
        except (TypeError, ValueError) as exc:
            arguments = exc
        if not isinstance(arguments, dict):
            _fail(requirement, f"tool_calls[{n}].function.arguments: a JSON object in a string",
                  f"{function.arguments!r} ({arguments!r})", recorder, where)


@check("sdk.tool-round-trip")
def tool_arguments(calls: Any, recorder: Recorder, where: str) -> list[Any]:
    """The calls' arguments decode with json.loads() to objects, as SDK users decode them."""
    requirement = "sdk.tool-round-trip"
    decoded = []
    for n, call in enumerate(calls):
        try:
            value = json.loads(call.function.arguments)
        except (TypeError, ValueError) as exc:
            _fail(requirement, f"json.loads(tool_calls[{n}].function.arguments) to give an object",
                  f"{describe(exc)}; arguments {excerpt(repr(call.function.arguments), 200)}", recorder, where)
        if not isinstance(value, dict):
            _fail(requirement, f"tool_calls[{n}].function.arguments: a JSON object", repr(value), recorder, where)
        decoded.append(value)
    return decoded


@check("sdk.parse-structured")
def parsed_instance(completion: Any, model: type, recorder: Recorder, where: str) -> None:
    requirement = "sdk.parse-structured"
    message = completion.choices[0].message
    if getattr(message, "refusal", None):
        _fail(requirement, f"message.parsed: a {model.__name__}", f"a refusal: {message.refusal!r}", recorder, where)
    if not isinstance(message.parsed, model):
        _fail(requirement, f"message.parsed: a {model.__name__}", repr(message.parsed), recorder, where)


@check("sdk.parse-tool-arguments")
def parsed_arguments(completion: Any, model: type, recorder: Recorder, where: str) -> None:
    requirement = "sdk.parse-tool-arguments"
    calls = completion.choices[0].message.tool_calls
    if not calls:
        _fail(requirement, "a tool call (tool_choice required)", f"tool_calls {calls!r}", recorder, where)
    for n, call in enumerate(calls):
        if not isinstance(call.function.parsed_arguments, model):
            _fail(requirement, f"tool_calls[{n}].function.parsed_arguments: a {model.__name__}",
                  repr(call.function.parsed_arguments), recorder, where)


@check("sdk.n-choices")
def n_choices(completion: Any, n: int, recorder: Recorder, where: str) -> None:
    requirement = "sdk.n-choices"
    choices = completion.choices or []
    indices = sorted(getattr(c, "index", None) for c in choices)
    if indices != list(range(n)) or any(getattr(c, "message", None) is None for c in choices):
        _fail(requirement, f"{n} Choice objects with indices {list(range(n))}, each with a message",
              f"{len(choices)} choices, indices {indices}", recorder, where)


@check("sdk.logprobs-typed")
def logprobs_typed(completion: Any, top: int, recorder: Recorder, where: str) -> None:
    from openai.types.chat import ChatCompletionTokenLogprob

    requirement = "sdk.logprobs-typed"
    logprobs = getattr(completion.choices[0], "logprobs", None)
    content = getattr(logprobs, "content", None)
    if not isinstance(content, list) or not content:
        _fail(requirement, "choices[0].logprobs.content: a non-empty list of ChatCompletionTokenLogprob",
              f"logprobs {excerpt(repr(logprobs), 200)}", recorder, where)
    for n, entry in enumerate(content):
        ok = (isinstance(entry, ChatCompletionTokenLogprob) and isinstance(entry.token, str)
              and isinstance(entry.logprob, (int, float)) and isinstance(entry.top_logprobs, list)
              and len(entry.top_logprobs) <= top)
        if not ok:
            _fail(requirement, f"content[{n}]: token (str), logprob (number), at most {top} top_logprobs",
                  excerpt(repr(entry), 200), recorder, where)


@check("sdk.raw-response-headers")
def raw_request_id(raw: Any, recorder: Recorder, where: str, header: str = "x-request-id") -> None:
    """The request id in ``raw.headers`` (``header``: the profile's name for it), and ``raw.parse()``
    the ChatCompletion whose ``_request_id`` (the SDK reads x-request-id) is that value."""
    requirement = "sdk.raw-response-headers"
    value = (raw.headers.get(header) or "").strip()
    if not value:  # whether the header is sent at all is header.request-id's verdict, at its level
        raise NotJudged(requirement, f"the response carries no {header} header (see header.request-id)",
                        recorder.last)
    completion = raw.parse()
    if header.lower() != "x-request-id":
        return
    request_id = getattr(completion, "_request_id", value)  # the SDK's own accessor, where it has one
    if request_id != value:
        _fail(requirement, f"raw.parse()._request_id {value!r}", repr(request_id), recorder, where)


@check("sdk.error-authentication")
def authentication_error(outcome: Any, recorder: Recorder, where: str) -> None:
    _typed_error("sdk.error-authentication", outcome, "AuthenticationError", 401, recorder, where)


@check("sdk.error-bad-request")
def bad_request_error(outcome: Any, recorder: Recorder, where: str) -> None:
    _typed_error("sdk.error-bad-request", outcome, "BadRequestError", 400, recorder, where)


@check("sdk.error-param")
def error_param(outcome: Any, param: str, recorder: Recorder, where: str) -> None:
    requirement = "sdk.error-param"
    if getattr(outcome, "param", None) != param:
        _fail(requirement, f"the exception's .param {param!r}",
              f"{getattr(outcome, 'param', None)!r} ({describe(outcome) if isinstance(outcome, BaseException) else 'no exception'})",
              recorder, where)


@check("sdk.error-not-found")
def not_found_error(outcome: Any, recorder: Recorder, where: str) -> None:
    _typed_error("sdk.error-not-found", outcome, "NotFoundError", 404, recorder, where)


def _typed_error(requirement: str, outcome: Any, name: str, status: int, recorder: Recorder, where: str) -> None:
    import openai

    cls = getattr(openai, name)
    if not isinstance(outcome, BaseException):
        _fail(requirement, f"openai.{name} (status {status}) raised", f"no exception; returned {excerpt(repr(outcome), 200)}",
              recorder, where)
    if not isinstance(outcome, cls) or getattr(outcome, "status_code", None) != status:
        _fail(requirement, f"openai.{name} with status_code {status}",
              f"{describe(outcome)} (status_code {getattr(outcome, 'status_code', None)!r})", recorder, where)


def outcome_of(call: Any, recorder: Recorder) -> Any:
    """What an SDK call gave: its result, or the exception it raised, carrying the exchange it came
    from (``chatconform_exchange``), so a cached outcome still names its own exchange."""
    try:
        result = call()
        if hasattr(result, "__iter__") and hasattr(result, "response"):  # a stream: errors come while reading
            return list(result)
        return result
    except Exception as exc:  # noqa: BLE001 - the check judges whatever came out
        exc.chatconform_exchange = recorder.last  # type: ignore[attr-defined]
        return exc


def result_of(outcome: Any) -> Any:
    """A cached outcome's result; its exception raised again (inside the caller's sdk_call)."""
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


# -- stored completions -----------------------------------------------------------------------
@check("sdk.stored-retrieve")
def retrieved_same(retrieved: Any, created: Any, recorder: Recorder, where: str) -> None:
    requirement = "sdk.stored-retrieve"
    if getattr(retrieved, "id", None) != created.id:
        _fail(requirement, f"the ChatCompletion {created.id!r}", f"id {getattr(retrieved, 'id', None)!r}", recorder, where)
    want = [c.message.content for c in created.choices or []]
    got = [getattr(getattr(c, "message", None), "content", None) for c in getattr(retrieved, "choices", None) or []]
    if got != want:
        _fail(requirement, f"the created answers {want!r}", repr(got), recorder, where)


@check("sdk.stored-messages")
def listed_messages(page: Any, sent: list[dict[str, Any]], recorder: Recorder, where: str) -> None:
    requirement = "sdk.stored-messages"
    data = getattr(page, "data", None)
    if not isinstance(data, list):
        _fail(requirement, "a page with a data list", excerpt(repr(page), 200), recorder, where)
    got = [getattr(m, "content", None) for m in data][: len(sent)]
    want = [m["content"] for m in sent]
    if got != want:
        _fail(requirement, f"the request's messages in order: {want!r}", repr(got), recorder, where)


@check("sdk.stored-list")
def listed_completion(page: Any, completion_id: str, recorder: Recorder, where: str) -> None:
    requirement = "sdk.stored-list"
    data = getattr(page, "data", None)
    if not isinstance(data, list) or completion_id not in [getattr(c, "id", None) for c in data]:
        _fail(requirement, f"a page whose data holds {completion_id!r}",
              excerpt(repr([getattr(c, "id", c) for c in data] if isinstance(data, list) else page), 200),
              recorder, where)


@check("sdk.stored-update")
def updated_metadata(updated: Any, metadata: dict[str, str], recorder: Recorder, where: str) -> None:
    requirement = "sdk.stored-update"
    if getattr(updated, "metadata", None) != metadata:
        _fail(requirement, f"the ChatCompletion with metadata {metadata!r}",
              f"metadata {getattr(updated, 'metadata', None)!r}", recorder, where)


@check("sdk.stored-delete")
def deleted(result: Any, completion_id: str, after: Any, recorder: Recorder, where: str) -> None:
    import openai

    requirement = "sdk.stored-delete"
    if getattr(result, "id", None) != completion_id or getattr(result, "deleted", None) is not True:
        _fail(requirement, f"ChatCompletionDeleted(id={completion_id!r}, deleted=True)", excerpt(repr(result), 200),
              recorder, where)
    if not isinstance(after, openai.NotFoundError):
        received = describe(after) if isinstance(after, BaseException) else f"returned {excerpt(repr(after), 200)}"
        _fail(requirement, "retrieve() after delete() to raise openai.NotFoundError", received, recorder, where)
