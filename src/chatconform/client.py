"""The one HTTP layer every check goes through.

It never hangs and never raises on a misbehaving server: every request is bounded (connect,
read and total time; body bytes; stream events), 429/503 are retried within a bounded total
wait honouring Retry-After, and whatever went wrong is recorded on the :class:`Exchange` for the
checks to judge. Everything recorded is redacted first.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import shlex
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import __version__
from .redaction import Redactor
from .sse import Event, SSEParser, StreamStats

DONE = "[DONE]"
KEY_PLACEHOLDER = "$OPENAI_API_KEY"


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # longest silence between two reads
    total_timeout: float = 120.0  # a whole exchange, retries excluded
    max_body_bytes: int = 4 * 1024 * 1024
    max_stream_events: int = 5000
    after_done_grace: float = 2.0  # how long to keep listening for data after [DONE]
    max_retries: int = 3
    max_retry_wait: float = 30.0  # total sleep across retries of one request
    # after this many exchanges in a row got no response at all, stop sending: a dead or
    # black-holing target would otherwise cost every remaining request a full timeout
    give_up_after: int = 5


@dataclass(frozen=True)
class Auth:
    style: str  # "bearer" | "api-key"
    key: str

    def headers(self) -> dict[str, str]:
        if self.style == "api-key":
            return {"api-key": self.key}
        return {"Authorization": f"Bearer {self.key}"}


DEFAULT_AUTH: Any = object()


@dataclass
class Exchange:
    """One request and what came back (or what went wrong), already redacted."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    streamed: bool = False
    events: list[Event] = field(default_factory=list)
    after_done: list[Event] = field(default_factory=list)
    stream_stats: StreamStats | None = None
    problem: str | None = None  # why the exchange is incomplete: timeout, connection, size or limit
    problem_kind: str | None = None
    elapsed: float = 0.0
    attempts: int = 1
    retry_waits: list[float] = field(default_factory=list)
    _json: Any = field(default=None, repr=False)
    _json_error: str | None = field(default=None, repr=False)
    _json_parsed: bool = field(default=False, repr=False)

    # -- what came back ------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return self.status is not None and self.problem is None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError with a short reason if it is not JSON."""
        if not self._json_parsed:
            self._json_parsed = True
            try:
                self._json = jsonlib.loads(self.body)
            except (ValueError, UnicodeDecodeError) as exc:
                self._json_error = f"body is not JSON ({exc.__class__.__name__}: {exc})"
        if self._json_error:
            raise ValueError(self._json_error)
        return self._json

    @property
    def request_json(self) -> Any:
        try:
            return jsonlib.loads(self.request_body or b"null")
        except ValueError:
            return None

    @property
    def done_seen(self) -> bool:
        return any(e.data == DONE for e in self.events)

    def data_events(self) -> list[Event]:
        """Events before the terminator."""
        out = []
        for event in self.events:
            if event.data == DONE:
                break
            out.append(event)
        return out

    def chunks(self) -> list[Any]:
        """Data events before [DONE] parsed as JSON (unparseable ones as None)."""
        parsed = []
        for event in self.data_events():
            try:
                parsed.append(jsonlib.loads(event.data))
            except ValueError:
                parsed.append(None)
        return parsed

    def excerpt(self, limit: int = 300) -> str:
        if self.status is None:
            return f"no response ({self.problem})"
        text = self.text
        more = "…" if len(text) > limit else ""
        return f"HTTP {self.status} {self.media_type or '(no content-type)'}: {text[:limit]}{more}"

    # -- how to reproduce it -------------------------------------------------------------
    def curl(self) -> str:
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(self.url)]
        if self.streamed:
            parts.insert(1, "-N")
        for name, value in self.request_headers:
            if name.lower() in ("content-length", "host", "accept-encoding", "connection"):
                continue
            if "***" in value:
                # runnable once the reader exports the key; the key itself is never written down
                parts += ["-H", f'"{name}: {value.replace("***", KEY_PLACEHOLDER)}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body is not None:
            parts += ["--data-raw", shlex.quote(self.request_body.decode("utf-8", "replace"))]
        return " ".join(parts)

    def transcript(self) -> str:
        """Request and response as a reader wants them in an attachment."""
        lines = [f"{self.method} {self.url}"]
        lines += [f"{k}: {v}" for k, v in self.request_headers]
        if self.request_body is not None:
            lines += ["", self.request_body.decode("utf-8", "replace")]
        lines += ["", "----", f"HTTP {self.status}" if self.status is not None else "(no response)"]
        lines += [f"{k}: {v}" for k, v in self.headers.multi_items()]
        lines += ["", self.text]
        if self.problem:
            lines += ["", f"!! {self.problem}"]
        return "\n".join(lines)


@dataclass
class Cost:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for name in ("prompt_tokens", "completion_tokens"):
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    setattr(self, name, getattr(self, name) + value)


class Client:
    """Talks to one target. Create one per session; it is cheap to keep."""

    def __init__(
        self,
        base_url: str,
        auth: Auth | None,
        settings: ClientSettings | None = None,
        redactor: Redactor | None = None,
        extra_headers: Mapping[str, str] | None = None,
        url_for: Callable[[str], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # maps the OpenAI path a suite names to the vendor's URL (a profile's template)
        self.url_for = url_for or (lambda path: self.base_url + path)
        self.auth = auth
        self.settings = settings or ClientSettings()
        self.redactor = redactor or Redactor([auth.key if auth else None])
        self.extra_headers = dict(extra_headers or {})
        self.cost = Cost()
        self.observers: list[Callable[[Exchange], None]] = []
        self.unanswered_in_a_row = 0
        s = self.settings
        self._http = httpx.Client(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": f"chatconform/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    # -- public API -------------------------------------------------------------------------
    def chat(self, body: Mapping[str, Any], **kwargs: Any) -> Exchange:
        return self.request("POST", "/chat/completions", json_body=body, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = DEFAULT_AUTH,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
        stream: bool | None = None,
    ) -> Exchange:
        """Send one request (retrying 429/503 when ``retry``); never raises for server behaviour."""
        body = raw_body
        send_headers: dict[str, str] = dict(self.extra_headers)
        if json_body is not None:
            body = jsonlib.dumps(json_body).encode()
            send_headers["Content-Type"] = "application/json"
        chosen_auth = self.auth if auth is DEFAULT_AUTH else auth
        if chosen_auth is not None:
            send_headers.update(chosen_auth.headers())
        send_headers["X-Client-Request-Id"] = uuid.uuid4().hex
        send_headers.update(headers or {})
        if stream is None:
            stream = isinstance(json_body, Mapping) and json_body.get("stream") is True
        url = self.url_for(path)
        if params:
            # merged with a query the URL already has (an api-version must survive)
            url = str(httpx.URL(url).copy_merge_params({k: v for k, v in params.items() if v is not None}))

        if self.unanswered_in_a_row >= self.settings.give_up_after:
            exchange = Exchange(method=method, url=self.redactor.text(url),
                                request_headers=self.redactor.headers(send_headers),
                                request_body=self.redactor.bytes(body) if body is not None else None,
                                streamed=stream, problem_kind="connection", attempts=0,
                                problem=f"not sent: the previous {self.unanswered_in_a_row} requests got no "
                                        "response at all, so the target is treated as unreachable")
            for observer in self.observers:
                observer(exchange)
            return exchange
        waits: list[float] = []
        attempt = 0
        while True:
            attempt += 1
            exchange = self._send_once(method, url, send_headers, body, stream)
            exchange.attempts = attempt
            exchange.retry_waits = list(waits)
            if not retry or exchange.status not in (429, 503) or attempt > self.settings.max_retries:
                break
            wait = retry_after_seconds(exchange.headers, attempt)
            if sum(waits) + wait > self.settings.max_retry_wait:
                break
            waits.append(wait)
            time.sleep(wait)
        self._account(exchange)
        return exchange

    # -- internals --------------------------------------------------------------------------
    def _send_once(self, method: str, url: str, headers: dict[str, str], body: bytes | None, stream: bool) -> Exchange:
        red = self.redactor
        exchange = Exchange(
            method=method,
            url=red.text(url),
            request_headers=red.headers(headers),
            request_body=red.bytes(body) if body is not None else None,
            streamed=stream,
        )
        s = self.settings
        started = time.monotonic()
        deadline = started + s.total_timeout
        try:
            request = self._http.build_request(method, url, headers=headers, content=body)
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            return _failed(exchange, "timeout", f"{exc.__class__.__name__} before the response headers", started)
        except httpx.HTTPError as exc:
            return _failed(exchange, "connection", f"{exc.__class__.__name__}: {red.text(str(exc))}", started)
        try:
            exchange.status = response.status_code
            exchange.headers = httpx.Headers(red.headers(response.headers.multi_items()))
            is_sse = stream and 200 <= response.status_code < 300
            self._read_body(response, exchange, deadline, is_sse)
        finally:
            response.close()
            exchange.elapsed = time.monotonic() - started
        return exchange

    def _read_body(self, response: httpx.Response, exchange: Exchange, deadline: float, is_sse: bool) -> None:
        s = self.settings
        parser = SSEParser() if is_sse else None
        collected = bytearray()
        done_at: float | None = None
        try:
            chunks = response.iter_bytes()
            while True:
                now = time.monotonic()
                limit = deadline if done_at is None else min(deadline, done_at + s.after_done_grace)
                if now >= limit:
                    if done_at is None:
                        exchange.problem_kind = "timeout"
                        exchange.problem = f"the response did not finish within {s.total_timeout:g}s"
                    break
                _set_read_timeout(response, min(s.read_timeout, limit - now))
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                collected += chunk
                if len(collected) > s.max_body_bytes:
                    exchange.problem_kind = "size"
                    exchange.problem = f"the response body exceeded the {s.max_body_bytes} byte cap"
                    break
                if parser is not None:
                    for event in parser.feed(chunk):
                        if done_at is not None:
                            exchange.after_done.append(event)
                        exchange.events.append(event)
                        if event.data == DONE and done_at is None:
                            done_at = time.monotonic()
                    if parser.stats.events > s.max_stream_events:
                        exchange.problem_kind = "limit"
                        exchange.problem = f"the stream exceeded {s.max_stream_events} events"
                        break
        except httpx.TimeoutException:
            if done_at is None:
                exchange.problem_kind = "timeout"
                exchange.problem = "the server stopped sending (read timeout) before the response was complete"
        except httpx.HTTPError as exc:
            exchange.problem_kind = "connection"
            exchange.problem = f"the connection failed mid-response: {exc.__class__.__name__}"
        if parser is not None:
            if exchange.problem is None:
                exchange.events += parser.close()
            exchange.stream_stats = parser.stats
        exchange.body = self.redactor.bytes(bytes(collected))

    def _account(self, exchange: Exchange) -> None:
        self.unanswered_in_a_row = self.unanswered_in_a_row + 1 if exchange.status is None else 0
        self.cost.requests += exchange.attempts
        if exchange.status is not None and 200 <= exchange.status < 300:
            if exchange.streamed:
                for chunk in exchange.chunks():
                    if isinstance(chunk, dict) and chunk.get("usage"):
                        self.cost.add_usage(chunk["usage"])
            else:
                try:
                    payload = exchange.json()
                except ValueError:
                    payload = None
                if isinstance(payload, dict):
                    self.cost.add_usage(payload.get("usage"))
        for observer in self.observers:
            observer(exchange)


def _failed(exchange: Exchange, kind: str, problem: str, started: float) -> Exchange:
    exchange.problem_kind = kind
    exchange.problem = problem
    exchange.elapsed = time.monotonic() - started
    return exchange


def _set_read_timeout(response: httpx.Response, seconds: float) -> None:
    # httpcore reads the timeout from the request extensions on every read, so shrinking it
    # here bounds the next read by the time left, not by a fresh full read timeout
    timeouts = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = max(seconds, 0.001)


def retry_after_seconds(headers: httpx.Headers, attempt: int) -> float:
    """Seconds to wait before retrying: Retry-After (seconds or HTTP-date), else exponential backoff."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            return max(float(raw), 0.0)
        except ValueError:
            try:
                return max(email.utils.parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    return float(min(2 ** (attempt - 1), 8))
