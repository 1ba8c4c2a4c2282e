"""The one HTTP layer every check goes through.

It never hangs and never raises on a misbehaving server: every request is bounded (connect,
read and total time; body bytes; stream events), 429/503 are retried within a bounded total
wait honouring Retry-After, and whatever went wrong is recorded on the :class:`Exchange` for the
checks to judge. Everything recorded is redacted first.

A run is bounded as a whole too: after a few exchanges in a row without a complete response
(none at all, a read time-out, a stall, a body that never ends) the client stops sending; a run
deadline and a budget (requests, billed completions, tokens) stop it as well. A request that is
not sent still returns an :class:`Exchange`, with ``attempts == 0`` and a ``problem_kind`` saying
why: ``"connection"`` (the target was given up on) or ``"budget"`` (a limit of the run: budget or
deadline), which the checks report as not judged rather than as a failure of the target.

The client is thread-safe: several threads may send at once (``max_in_flight`` bounds how many
requests are on the wire), and a streamed request waits until nothing else is in flight and holds
the line alone while it streams, because some servers (llama-cpp-python's) cut a running stream
when another request arrives.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import __version__, shell
from .redaction import Redactor
from .sse import Event, SSEParser, StreamStats

DONE = "[DONE]"
KEY_PLACEHOLDER = "$OPENAI_API_KEY"
COMPLETIONS = "/chat/completions"
BUDGET = "budget"  # problem_kind of a request a run limit kept from being sent (or a stream it cut)
STREAM_EVENT_SLACK = 8  # events of a stream beyond its tokens: role, finish, usage, [DONE]


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
    # after this many exchanges in a row got no complete response (none at all, a read time-out
    # or stall, a body or stream that never ends, a reset), stop sending: a dead, black-holing or
    # stalling target would otherwise cost every remaining request a full timeout
    give_up_after: int = 5
    # ... or once such a streak has cost this many seconds of waiting: a stall costs a whole read
    # timeout, so five of them in a row would already be five minutes
    give_up_after_seconds: float = 150.0
    # at most this many requests on the wire at once (threads beyond it wait); 1 is serial
    max_in_flight: int = 1
    # a streamed request is on the wire alone (see the module docstring)
    exclusive_streams: bool = True
    # the run's limits; None is no limit. The deadline counts from the client's creation.
    max_requests: int | None = None
    max_billed: int | None = None  # 2xx answers to completions requests made with the run's key
    max_tokens: int | None = None  # prompt + completion tokens the target reported
    # the URL names the model (Azure's deployments): a completions body without model is billed too
    model_in_url: bool = False
    run_deadline: float | None = None  # seconds


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
    note: str | None = None  # what the client changed in the request, and why (see Client.cap_ignored)
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
        """A runnable reproduction: no raw control byte in it (chatconform.shell), and the key only
        as the variable the reader exports."""
        parts = ["curl", "-sS", "-X", self.method, shell.quote(self.url)]
        if self.streamed:
            parts.insert(1, "-N")
        for name, value in self.request_headers:
            if name.lower() in ("content-length", "host", "accept-encoding", "connection"):
                continue
            # runnable once the reader exports the key; the key itself is never written down
            parts += ["-H", shell.quote(f"{name}: {value.replace('***', KEY_PLACEHOLDER)}")]
        if self.request_body is not None:
            parts += ["--data-raw", shell.quote(self.request_body.decode("utf-8", "replace"))]
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
    requests: int = 0  # sent, retries included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    billed: int = 0  # 2xx answers to completions requests made with the run's key
    not_sent: int = 0  # requests a limit or the give-up rule kept from being sent

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for name in ("prompt_tokens", "completion_tokens"):
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    setattr(self, name, getattr(self, name) + value)


class Ledger:
    """The run's budget: requests, billed completions and tokens, counted **before** sending.

    A request is counted when it is allowed (``reserve``), so threads sending at once never go
    past a limit together; a billable one also holds a billed completion and the tokens an answer
    may cost (the largest billed answer so far) until it is accounted (``settle``). One ledger is
    shared by every client of a run (the pre-flight's and the session's); under xdist each worker
    has a :class:`chatconform.plugin.budget.FileLedger` on one file, so the run has one budget.
    Subclasses only replace ``_transaction`` (the state's lock and storage)."""

    def __init__(self, max_requests: int | None = None, max_billed: int | None = None,
                 max_tokens: int | None = None) -> None:
        self.max_requests, self.max_billed, self.max_tokens = max_requests, max_billed, max_tokens
        self._lock = threading.Lock()
        self._state = fresh_ledger_state()

    @contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            yield self._state

    def state(self) -> dict[str, Any]:
        with self._transaction() as st:
            return jsonlib.loads(jsonlib.dumps(st))

    @property
    def accepts_invalid(self) -> bool:
        return bool(self.state()["accepts_invalid"])

    def reserve(self, billable: bool) -> tuple[str, dict[str, Any]] | None:
        """Count one request (and hold a billed completion and its tokens when ``billable``), or
        say which limit refuses it: ("requests" | "billed" | "tokens", the state)."""
        key = _pid_key()
        with self._transaction() as st:
            if self.max_requests is not None and st["requests"] >= self.max_requests:
                return "requests", dict(st)
            if billable:
                pending = st["pending"].get(key, [0, 0])
                held = sum(p[0] for p in st["pending"].values())
                held_tokens = sum(p[1] for p in st["pending"].values())
                if self.max_billed is not None and st["billed"] + held >= self.max_billed:
                    return "billed", dict(st)
                if self.max_tokens is not None and st["tokens"] + held_tokens + st["largest"] > self.max_tokens:
                    return "tokens", dict(st)
                st["pending"][key] = [pending[0] + 1, pending[1] + st["largest"]]
            st["requests"] += 1
            return None

    def retry(self) -> bool:
        """Count a retry of a request already sent, if the request limit allows one more."""
        with self._transaction() as st:
            if self.max_requests is not None and st["requests"] >= self.max_requests:
                return False
            st["requests"] += 1
            return True

    def settle(self, *, held: bool, extra_requests: int = 0, billed: bool = False, tokens: int = 0,
               accepted_invalid: bool = False) -> None:
        """An answer came back (or none will): release what ``reserve`` held, count what it cost."""
        key = _pid_key()
        with self._transaction() as st:
            st["requests"] += extra_requests
            if held and key in st["pending"]:
                count, reserved = st["pending"][key]
                share = reserved // count if count else 0
                if count <= 1:
                    del st["pending"][key]
                else:
                    st["pending"][key] = [count - 1, reserved - share]
            if billed:
                st["billed"] += 1
                st["tokens"] += tokens
                st["largest"] = max(st["largest"], tokens)
            elif tokens:
                st["tokens"] += tokens
            if accepted_invalid:
                st["accepts_invalid"] = True


def fresh_ledger_state() -> dict[str, Any]:
    # pending: process id -> [billable requests on the wire, tokens held for them]
    return {"requests": 0, "billed": 0, "tokens": 0, "largest": 64, "accepts_invalid": False, "pending": {}}


def _pid_key() -> str:
    import os

    return str(os.getpid())


class _Gate:
    """At most ``limit`` requests on the wire; an exclusive one (a stream) waits for the line to be
    empty, and new requests wait while it is waiting or running, so it is never starved."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._cond = threading.Condition()
        self.in_flight = 0
        self.most_in_flight = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    @contextmanager
    def slot(self, exclusive: bool) -> Iterator[None]:
        with self._cond:
            if exclusive:
                self._exclusive_waiting += 1
                while self.in_flight or self._exclusive:
                    self._cond.wait()
                self._exclusive_waiting -= 1
                self._exclusive = True
            else:
                while self._exclusive or self._exclusive_waiting or self.in_flight >= self.limit:
                    self._cond.wait()
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                if exclusive:
                    self._exclusive = False
                self._cond.notify_all()


class Client:
    """Talks to one target. Create one per session; it is cheap to keep, and thread-safe."""

    def __init__(
        self,
        base_url: str,
        auth: Auth | None,
        settings: ClientSettings | None = None,
        redactor: Redactor | None = None,
        extra_headers: Mapping[str, str] | None = None,
        url_for: Callable[[str], str] | None = None,
        ledger: Ledger | None = None,
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
        self._unanswered = 0  # exchanges in a row without a complete response
        self._given_up = False  # once given up, for good: nothing sent could reset the streak
        self.unanswered_seconds = 0.0  # what that streak cost in waiting
        # why the client stopped sending, the first time it did for each kind (for the run's summary)
        self.stopped: dict[str, str] = {}
        # set from the first reply with more completion tokens than its max_completion_tokens cap:
        # later requests carry max_tokens as well, so a target that only knows the older name
        # does not bill its full answers (the verdict on the first reply stands)
        self.cap_ignored: str | None = None
        self._lock = threading.Lock()
        self._gate = _Gate(self.settings.max_in_flight)
        # the run's budget (shared with the run's other clients and xdist workers when given)
        s = self.settings
        self.ledger = ledger or Ledger(s.max_requests, s.max_billed, s.max_tokens)
        self._started = time.monotonic()
        s = self.settings
        self._http = httpx.Client(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": f"chatconform/{__version__}"},
            # enough pooled connections for every thread that may be sending
            limits=httpx.Limits(max_connections=max(10, s.max_in_flight * 2),
                                max_keepalive_connections=max(10, s.max_in_flight * 2)),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def unanswered_in_a_row(self) -> int:
        """The give-up streak; at least ``give_up_after`` once the client gave up or the run
        deadline passed, so code that sends beside the client (the SDK suite's transport) and
        checks this number stops too."""
        if self._given_up or self._past_deadline(0.0):
            return max(self._unanswered, self.settings.give_up_after)
        return self._unanswered

    @unanswered_in_a_row.setter
    def unanswered_in_a_row(self, value: int) -> None:
        self._unanswered = value

    @property
    def most_in_flight(self) -> int:
        return self._gate.most_in_flight

    def slot(self, streamed: bool) -> Any:
        """A place on the wire, for a request sent by another transport (the SDK's): it counts
        against ``max_in_flight`` like the client's own, and a stream goes alone the same way."""
        return self._gate.slot(exclusive=bool(streamed) and self.settings.exclusive_streams)

    @property
    def deadline(self) -> float | None:
        """The run deadline on the time.monotonic() clock, if there is one."""
        if self.settings.run_deadline is None:
            return None
        return self._started + self.settings.run_deadline

    # -- public API -------------------------------------------------------------------------
    def chat(self, body: Mapping[str, Any], **kwargs: Any) -> Exchange:
        return self.request("POST", COMPLETIONS, json_body=body, **kwargs)

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
        cap_as_written: bool = False,
    ) -> Exchange:
        """Send one request (retrying 429/503 when ``retry``); never raises for server behaviour.

        ``cap_as_written``: the request tests the token cap itself, so it goes out as written even
        after the target was seen to ignore ``max_completion_tokens`` (no ``max_tokens`` added)."""
        note = None
        parsed = json_body if json_body is not None else _json_or_none(raw_body)
        if self.cap_ignored and method == "POST" and path == COMPLETIONS and not cap_as_written:
            adjusted, note = _with_max_tokens(parsed)
            if note is not None:
                if json_body is not None:
                    json_body = adjusted
                else:  # a generated body: only the cap is added, the rest stays as generated
                    raw_body = jsonlib.dumps(adjusted).encode()
                parsed = adjusted
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
        billable = self.is_billable(method, path, parsed, key=chosen_auth.key if chosen_auth is not None else None)

        refused = self.refusal(billable)
        if refused is not None:
            kind, problem = refused
            exchange = Exchange(method=method, url=self.redactor.text(url),
                                request_headers=self.redactor.headers(send_headers),
                                request_body=self.redactor.bytes(body) if body is not None else None,
                                streamed=stream, problem_kind=kind, attempts=0, problem=problem, note=note)
            for observer in self.observers:
                observer(exchange)
            return exchange
        try:
            waits: list[float] = []
            attempt = 0
            while True:
                attempt += 1
                with self._gate.slot(exclusive=bool(stream) and self.settings.exclusive_streams):
                    exchange = self._send_once(method, url, send_headers, body, stream,
                                               self._stream_allowance(billable, bool(stream)))
                exchange.attempts = attempt
                exchange.retry_waits = list(waits)
                exchange.note = note
                if not retry or exchange.status not in (429, 503) or attempt > self.settings.max_retries:
                    break
                wait = retry_after_seconds(exchange.headers, attempt)
                if sum(waits) + wait > self.settings.max_retry_wait or self._past_deadline(wait):
                    break
                if not self.ledger.retry():
                    break  # a retry is a request too: counted before it is sent
                waits.append(wait)
                time.sleep(wait)
        except BaseException:
            self.ledger.settle(held=billable)
            raise
        self.account(exchange, billable=billable, reserved=attempt)
        return exchange

    def release(self, billable: bool) -> None:
        """Kept for senders beside the client (the SDK suite's transport): the reservation
        refusal() made ends when the exchange is accounted, in the same step that counts its cost,
        so no other thread can take its place in between."""

    def is_billable(self, method: str, path: str, body: Any, *, key: str | None) -> bool:
        """Whether a request sent with ``key`` is one a conforming target bills (asked for this
        client's own requests, and by other clients of the run such as the SDK suite's transport).
        Only the run's key bills, in any header style (a test of the api-key header sends it
        there): the wrong-key test's request is free, and never held back by the budget. A run
        without a key counts every one: nothing tells what such a target bills."""
        if self.auth is not None and key != self.auth.key:
            return False
        limited = self.ledger.max_billed is not None or self.ledger.max_tokens is not None
        return method == "POST" and path.split("?")[0].endswith(COMPLETIONS) and (not limited or self._billable(body))

    def refusal(self, billable: bool = False) -> tuple[str, str] | None:
        """Why a request must not be sent now, as (problem_kind, problem), or None to send it.

        An allowed request is counted against the run's request limit here, before it is sent; a
        billable one (a valid completions request with the run's key) also holds a billed
        completion and the tokens its answer may cost until it is accounted (see Ledger)."""
        s = self.settings
        with self._lock:
            if self._given_up or self._unanswered >= s.give_up_after or (
                    self._unanswered and self.unanswered_seconds >= s.give_up_after_seconds):
                self._given_up = True
                reason = (f"not sent: the previous {self._unanswered} requests got no complete response "
                          f"(no answer, a read time-out or stall, or a body that never ended; "
                          f"{self.unanswered_seconds:.0f}s of waiting), so the target is treated as unreachable")
                return self._refused("connection", "gave-up", reason)
            if self._past_deadline(0.0):
                return self._refused(BUDGET, "deadline", f"not sent: the run deadline ({s.run_deadline:g}s, "
                                                        "--run-deadline) has passed")
        refused = self.ledger.reserve(billable)
        if refused is None:
            return None
        key, st = refused
        led = self.ledger
        with self._lock:
            if key == "requests":
                return self._refused(BUDGET, "requests", f"not sent: the run's budget of {led.max_requests} requests "
                                                         "(--max-requests) is spent")
            if key == "billed":
                return self._refused(BUDGET, "billed", f"not sent: the run's budget of {led.max_billed} billed "
                                                       "completions (--max-billed) is spent")
            return self._refused(BUDGET, "tokens", f"not sent: the run's budget of {led.max_tokens} tokens "
                                                   f"(--max-tokens) is spent ({st['tokens']} reported "
                                                   f"so far; an answer may cost {st['largest']})")

    def account(self, exchange: Exchange, *, billable: bool = False, reserved: int = 1) -> None:
        """Count an exchange that was sent (also one sent by another client of the run, such as
        the SDK suite's transport, after refusal() allowed it): requests, tokens, billed
        completions and the give-up streak. ``reserved``: the attempts already counted against
        the request limit (refusal() counts the first)."""
        usage = _usage(exchange)
        ok = exchange.status is not None and 200 <= exchange.status < 300
        completions = exchange.method == "POST" and _path_of(exchange.url).endswith(COMPLETIONS)
        billed = accepted_invalid = False
        with self._lock:
            if _unanswered(exchange):
                self._unanswered += 1
                self.unanswered_seconds += exchange.elapsed
            else:
                self._unanswered = 0
                self.unanswered_seconds = 0.0
            self.cost.requests += exchange.attempts
            before = self.cost.tokens
            if ok:
                self.cost.add_usage(usage)
                if exchange.streamed and exchange.problem_kind == BUDGET and self.cost.tokens == before:
                    # cut before its usage chunk: each event was about one token the target billed
                    stats = exchange.stream_stats
                    self.cost.completion_tokens += stats.events if stats is not None else len(exchange.events)
                    self.stopped.setdefault("tokens", exchange.problem or "the token budget cut a stream")
                if completions and (billable or self._authorised(exchange)):
                    self.cost.billed += 1
                    billed = True
                    # it accepted what the spec forbids: bill those too
                    accepted_invalid = not billable and exchange.request_json is not None
                if completions and self.cap_ignored is None:
                    self.cap_ignored = _cap_exceeded(exchange.request_json, usage)
            tokens = self.cost.tokens - before
        self.ledger.settle(held=billable, extra_requests=max(exchange.attempts - reserved, 0), billed=billed,
                           tokens=tokens, accepted_invalid=accepted_invalid)
        for observer in self.observers:
            observer(exchange)

    # -- internals --------------------------------------------------------------------------
    def _refused(self, kind: str, key: str, reason: str) -> tuple[str, str]:
        self.stopped.setdefault(key, reason.removeprefix("not sent: "))
        self.cost.not_sent += 1
        return kind, reason

    def _past_deadline(self, within: float) -> bool:
        deadline = self.deadline
        return deadline is not None and time.monotonic() + within >= deadline

    def _authorised(self, exchange: Exchange) -> bool:
        """Whether a sent exchange carried the run's key (compared masked, as it was recorded)."""
        if self.auth is None:
            return True
        wanted = {k.lower(): v for k, v in self.redactor.headers(self.auth.headers())}
        sent = {k.lower(): v for k, v in exchange.request_headers}
        return all(sent.get(k) == v for k, v in wanted.items())

    def _billable(self, json_body: Any) -> bool:
        """A request a conforming target bills: a valid completions request (an invalid one must be
        refused, for free), or any, once the target has answered an invalid one with a 2xx."""
        if self.ledger.accepts_invalid:
            return True
        if not isinstance(json_body, Mapping):
            return False
        from .spec import surely_valid, validator  # late: only a run with a budget compiles the schema

        body = dict(json_body)
        if self.settings.model_in_url:  # the URL names the deployment (Azure's layout): a body needs no model
            body.setdefault("model", "deployment-in-the-url")
        try:
            name = "CreateChatCompletionRequest"
            return surely_valid(name, body) or validator(name).is_valid(body)
        except KeyError:  # a spec without the schema: count every completions request
            return True

    def _stream_allowance(self, billable: bool, stream: bool) -> int | None:
        """The events a billable stream may run to under a token limit: about the tokens left (a
        target that ignores the cap and streams on is cut off there, so it stops generating),
        never more than ``max_stream_events``; None when no token limit applies."""
        led = self.ledger
        if not (billable and stream and led.max_tokens is not None):
            return None
        left = led.max_tokens - led.state()["tokens"]
        return max(min(self.settings.max_stream_events, left + STREAM_EVENT_SLACK), 1)

    def _send_once(self, method: str, url: str, headers: dict[str, str], body: bytes | None, stream: bool,
                   max_events: int | None = None) -> Exchange:
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
        run_deadline = self.deadline
        if run_deadline is not None:
            deadline = min(deadline, max(run_deadline, started + 0.001))
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
            self._read_body(response, exchange, deadline, is_sse, max_events)
        finally:
            response.close()
            exchange.elapsed = time.monotonic() - started
        return exchange

    def _read_body(self, response: httpx.Response, exchange: Exchange, deadline: float, is_sse: bool,
                   max_events: int | None = None) -> None:
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
                    if max_events is not None and max_events < s.max_stream_events and \
                            parser.stats.events > max_events:
                        del exchange.events[max_events:]  # one read may bring more than the cap
                        exchange.problem_kind = BUDGET  # the checks report it not judged
                        exchange.problem = (f"the stream was cut after {max_events} events: the run's token "
                                            f"budget (--max-tokens) leaves no room for more")
                        break
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


def _json_or_none(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return jsonlib.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _unanswered(exchange: Exchange) -> bool:
    """No complete response: none at all, or one cut by a time-out, a stall, a cap or a reset."""
    return exchange.status is None or exchange.problem_kind in ("timeout", "size", "limit", "connection")


def _usage(exchange: Exchange) -> Any:
    if exchange.status is None or not 200 <= exchange.status < 300:
        return None
    if exchange.streamed:
        found: dict[str, int] = {}
        for chunk in exchange.chunks():
            if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
                for name in ("prompt_tokens", "completion_tokens"):
                    value = chunk["usage"].get(name)
                    if isinstance(value, int) and not isinstance(value, bool):
                        found[name] = found.get(name, 0) + value
        return found or None
    try:
        payload = exchange.json()
    except ValueError:
        return None
    return payload.get("usage") if isinstance(payload, dict) else None


def _path_of(url: str) -> str:
    return httpx.URL(url).path.rstrip("/")


def _cap_exceeded(request: Any, usage: Any) -> str | None:
    """Why a reply shows the target ignores max_completion_tokens, or None."""
    if not isinstance(request, dict) or not isinstance(usage, dict) or "max_tokens" in request:
        return None
    cap = request.get("max_completion_tokens")
    used = usage.get("completion_tokens")
    n = request.get("n") if isinstance(request.get("n"), int) and request.get("n", 0) > 0 else 1
    if not (isinstance(cap, int) and cap > 0 and isinstance(used, int) and not isinstance(used, bool)):
        return None
    if used > cap * n:
        return (f"the target ignored max_completion_tokens ({used} completion tokens against a cap of {cap}"
                f"{f' x {n} choices' if n > 1 else ''}): later requests also carry max_tokens")
    return None


def _with_max_tokens(json_body: Any) -> tuple[Any, str | None]:
    if not isinstance(json_body, Mapping) or "max_tokens" in json_body:
        return json_body, None
    cap = json_body.get("max_completion_tokens")
    if not (isinstance(cap, int) and not isinstance(cap, bool) and cap > 0):
        return json_body, None
    return {**json_body, "max_tokens": cap}, (f"max_tokens: {cap} added by chatconform: the target ignored "
                                              "max_completion_tokens earlier in this run")


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
