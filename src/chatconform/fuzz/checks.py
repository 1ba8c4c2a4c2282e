"""chatconform's checks registered as schemathesis custom checks (``@schemathesis.check``).

Each schemathesis check wraps one chatconform check function, the same function the hand-written
suites call, so a rule has one implementation. The function raises ConformanceFailure naming its
requirement; schemathesis collects it as a custom-check failure and the runner re-raises it for
the plugin to grade. A check looks up what it needs (the recorded exchange, the request as sent,
what the case expects) in the Sent record the runner files under the case id before validating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis

from ..checks import capabilities, errors, headers, parameters, responses, streaming
from ..checks import stored as stored_checks
from ..client import Exchange
from .. import verdict
from ..failures import ConformanceFailure, HarnessProblem, NotJudged
from ..target import Target
from .shaping import CAPABILITY_OF, Rejection

POSITIVE = "positive"  # a valid request: must be accepted
NEGATIVE = "negative"  # an invalid request: must be refused
STATEFUL = "stateful"  # a step of a stored-completion scenario
PROBE = "probe"  # malformed on purpose (content type): only a server error is a finding
ACCEPTED = "request.standard-parameters-accepted"
TROUBLE = (401, 403, 429, 503)  # the run's key or quota, not the request: nothing to judge


@dataclass
class Sent:
    """What the runner sent for one case, and what the answer must be."""

    exchange: Exchange
    target: Target
    purpose: str
    body: Any  # the request body as sent (a dict for JSON bodies)
    rejection: Rejection | None = None  # NEGATIVE: how the body must be refused
    allowed_statuses: tuple[int, ...] = (400,)  # NEGATIVE: acceptable refusals
    created: Exchange | None = None  # STATEFUL GET: the create exchange of the completion asked for
    created_body: dict[str, Any] | None = None
    query: dict[str, Any] = field(default_factory=dict)
    operation: str = ""  # "POST /chat/completions", ...
    failures: list[AssertionError] = field(default_factory=list)  # in check order, for the runner

    @property
    def answering(self) -> bool:
        """A request the server should answer normally (not an invalid one)."""
        return self.purpose in (POSITIVE, STATEFUL)

    @property
    def status(self) -> int:
        return self.exchange.status or 0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def streamed(self) -> bool:
        return self.exchange.streamed and self.ok

    @property
    def is_create(self) -> bool:
        return self.operation == "POST /chat/completions"

    def param(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


SENT: dict[str, Sent] = {}
REGISTERED: dict[str, Callable[..., Any]] = {}


def register(name: str, when: Callable[[Sent], bool]) -> Callable[[Callable[[Sent], None]], Callable[..., Any]]:
    """Register ``judge(sent)`` as the schemathesis check ``chatconform_<name>``, run when ``when(sent)``."""

    def wrap(judge: Callable[[Sent], None]) -> Callable[..., Any]:
        def run(ctx: Any, response: Any, case: Any) -> bool | None:
            sent = SENT.get(case.id)
            if sent is None or not when(sent):
                return True  # not applicable: schemathesis records neither success nor failure
            try:
                judge(sent)
            except (ConformanceFailure, HarnessProblem) as exc:
                sent.failures.append(exc)
                raise
            except NotJudged:
                return True  # nothing to judge in this answer (already noted by the check)
            return None

        run.__name__ = f"chatconform_{name}"
        run.__doc__ = judge.__doc__
        REGISTERED[name] = schemathesis.check(run)
        return run

    return wrap


def _uses(sent: Sent, capability: str) -> bool:
    return sent.target.has(capability)


# -- status ---------------------------------------------------------------------------------------
@register("accepted", lambda s: s.purpose == POSITIVE or (s.purpose == STATEFUL and s.is_create))
def accepted(sent: Sent) -> None:
    """A valid request is answered 2xx. A 400 naming a capability's parameter means the target
    lacks it (Unsupported, recorded, never failed); an auth, rate-limit or overload answer says
    nothing about the request and is filed as a harness problem."""
    exchange = sent.exchange
    if exchange.status in TROUBLE:
        raise HarnessProblem(exchange, "an answer to a valid request (not an auth, rate-limit or overload error)")
    if not sent.target.embedded and isinstance(sent.body, dict):
        for name in sent.body:
            if name in CAPABILITY_OF:
                capabilities.unsupported_if_rejected(exchange, CAPABILITY_OF[name], name)
    if not sent.ok:
        raise ConformanceFailure(ACCEPTED, "a 2xx answer to a request valid against the spec",
                                 exchange.excerpt(), exchange)
    verdict.observe(ACCEPTED, verdict.PASS, exchanges=[exchange])


@register("refused", lambda s: s.purpose == NEGATIVE)
def refused(sent: Sent) -> None:
    """An invalid request is refused: never accepted (when acceptance breaks a MUST), never a
    5xx, and with 400 (the other 4xx codes are not what the documents promise)."""
    exchange = sent.exchange
    rejection = sent.rejection
    if exchange.status in TROUBLE:
        raise HarnessProblem(exchange, "a refusal of the request itself (not an auth, rate-limit or overload error)")
    if rejection is None or not rejection.required:
        # a parameter the target may ignore or not know: accepting or refusing it is fine
        errors.not_5xx(exchange)
        return
    parameters.not_accepted(exchange, rejection.requirement, rejection.reason)  # type: ignore[arg-type]
    errors.not_5xx(exchange)
    if 400 <= sent.status < 500 and sent.status not in sent.allowed_statuses:
        errors.status_400(exchange)


@register("no_server_error", lambda s: s.purpose == PROBE)
def no_server_error(sent: Sent) -> None:
    """A request malformed on purpose (no or a wrong Content-Type) is refused, never a 5xx."""
    errors.not_5xx(sent.exchange)


# -- error bodies -----------------------------------------------------------------------------------
_is_error = lambda s: s.status >= 400 and s.status not in TROUBLE  # noqa: E731


@register("error_envelope", _is_error)
def error_envelope(sent: Sent) -> None:
    errors.envelope(sent.exchange)


@register("error_message", _is_error)
def error_message(sent: Sent) -> None:
    errors.message_string(sent.exchange)


@register("error_content_type", _is_error)
def error_content_type(sent: Sent) -> None:
    errors.content_type_json(sent.exchange)


@register("error_request_id", lambda s: _is_error(s) and _uses(s, "request_id"))
def error_request_id(sent: Sent) -> None:
    headers.request_id_on_error(sent.exchange)


# -- successful answers ---------------------------------------------------------------------------
@register("request_id", lambda s: s.answering and s.ok and _uses(s, "request_id"))
def request_id(sent: Sent) -> None:
    headers.request_id(sent.exchange)


_completion = lambda s: s.answering and s.ok and s.is_create and not s.streamed  # noqa: E731


@register("json_content_type", lambda s: s.answering and s.ok and not s.streamed)
def json_content_type(sent: Sent) -> None:
    headers.json_content_type(sent.exchange)


@register("response_schema", _completion)
def response_schema(sent: Sent) -> None:
    """The body validates against CreateChatCompletionResponse (absent keys the spec grades below
    MUST are left to their own requirements, as in the response suite)."""
    responses.schema(sent.exchange)


@register("usage_total", _completion)
def usage_total(sent: Sent) -> None:
    responses.usage_total_consistent(sent.exchange)


@register("finish_reason", _completion)
def finish_reason(sent: Sent) -> None:
    responses.finish_reason_enum(sent.exchange)


@register("choice_indices", _completion)
def choice_indices(sent: Sent) -> None:
    responses.choice_indices(sent.exchange)


def _n(sent: Sent) -> int | None:
    n = sent.param("n")
    return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else None


@register("n_choices", lambda s: _completion(s) and _n(s) is not None and _uses(s, "n"))
def n_choices(sent: Sent) -> None:
    responses.n_choices(sent.exchange, _n(sent))  # type: ignore[arg-type]


def _token_cap(sent: Sent) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = sent.param(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


# usage counts the tokens of every choice, so the cap is only comparable with a single choice
@register("max_tokens", lambda s: _completion(s) and _token_cap(s) is not None and s.param("n") in (None, 1))
def max_tokens(sent: Sent) -> None:
    responses.max_tokens_respected(sent.exchange, _token_cap(sent))  # type: ignore[arg-type]


def _stops(sent: Sent) -> list[str]:
    stop = sent.param("stop")
    return [s for s in ([stop] if isinstance(stop, str) else stop or []) if isinstance(s, str) and s]


@register("stop_excluded", lambda s: _completion(s) and bool(_stops(s)) and _uses(s, "stop"))
def stop_excluded(sent: Sent) -> None:
    responses.stop_excluded(sent.exchange, _stops(sent))


# -- streams: the streaming suite's grammar, one code path ------------------------------------------
def _include_usage(sent: Sent) -> bool:
    options = sent.param("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True and _uses(sent, "stream_usage")


def _wants_stream(sent: Sent) -> bool:
    return sent.answering and sent.ok and sent.param("stream") is True


STREAM_GRAMMAR: list[tuple[str, Callable[[Exchange], None], Callable[[Sent], bool]]] = [
    ("stream_content_type", streaming.content_type, _wants_stream),
    ("stream_done_terminates", streaming.done_terminates, _wants_stream),
    ("stream_nothing_after_done", streaming.nothing_after_done, _wants_stream),
    ("stream_chunk_schema", streaming.chunk_schema, _wants_stream),
    ("stream_chunk_object", streaming.chunk_object, _wants_stream),
    ("stream_single_id", streaming.single_id, _wants_stream),
    ("stream_single_created", streaming.single_created, _wants_stream),
    ("stream_finish_reason_once", streaming.finish_reason_once, _wants_stream),
    ("stream_finish_reason_last", streaming.finish_reason_last, _wants_stream),
    ("stream_finish_reason_enum", streaming.finish_reason_enum, _wants_stream),
    ("stream_usage_chunk", streaming.usage_chunk_when_requested, lambda s: _wants_stream(s) and _include_usage(s)),
    ("stream_usage_choices_empty", streaming.usage_chunk_choices_empty,
     lambda s: _wants_stream(s) and _include_usage(s)),
    ("stream_usage_null_otherwise", streaming.usage_null_otherwise, lambda s: _wants_stream(s) and _include_usage(s)),
    ("stream_usage_consistent", streaming.usage_consistent, lambda s: _wants_stream(s) and _include_usage(s)),
    ("stream_tool_call_index", streaming.tool_call_index,
     lambda s: _wants_stream(s) and bool(s.param("tools")) and _uses(s, "tools")),
    ("stream_tool_call_first_delta", streaming.tool_call_first_delta,
     lambda s: _wants_stream(s) and bool(s.param("tools")) and _uses(s, "tools")),
]

for _name, _func, _when in STREAM_GRAMMAR:
    register(_name, _when)(lambda sent, _f=_func: _f(sent.exchange))


# -- stored completions (stateful) ------------------------------------------------------------------
_retrieval = lambda s: s.purpose == STATEFUL and not s.is_create  # noqa: E731


@register("stored_unknown_id", lambda s: _retrieval(s) and s.created is None)
def stored_unknown_id(sent: Sent) -> None:
    """An id this run never created (the link was not followed) is unknown: 404."""
    stored_checks.unknown_id_404(sent.exchange)


@register("stored_retrieve_same",
          lambda s: _retrieval(s) and s.created is not None and s.operation == "GET /chat/completions/{completion_id}")
def stored_retrieve_same(sent: Sent) -> None:
    stored_checks.retrieve_same(sent.exchange, sent.created)  # type: ignore[arg-type]


_listing = lambda s: (_retrieval(s) and s.created is not None  # noqa: E731
                      and s.operation == "GET /chat/completions/{completion_id}/messages")


@register("stored_messages_envelope", _listing)
def stored_messages_envelope(sent: Sent) -> None:
    stored_checks.messages_envelope(sent.exchange)


@register("stored_messages_match", _listing)
def stored_messages_match(sent: Sent) -> None:
    # the scenario stores one message, so every order and every limit (>= 1) lists exactly it
    assert sent.created_body is not None
    stored_checks.messages_match(sent.exchange, sent.created_body.get("messages") or [])


def all_checks() -> list[Callable[..., Any]]:
    return list(REGISTERED.values())

