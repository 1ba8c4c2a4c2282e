"""Request parameters: a valid value is accepted, an invalid one is refused the way clients expect.

Each case changes exactly one thing in the minimal request, so a verdict is about one parameter.
A refusal is judged in a fixed order, most telling first: accepted at all (the classic deviation
is a server that clamps or ignores an out-of-range value), then 5xx, then a status other than
400, then the error envelope. Whether `param` names the parameter is a separate SHOULD verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import payloads
from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response
from .errors import param_names



def error_param(exchange: Exchange) -> Any:
    """error.param of a JSON error body, or None when there is no such thing."""
    try:
        body = exchange.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("param") if isinstance(error, dict) else None


def verdict(exchange: Exchange, accepted: str = "accepted") -> str:
    """A support-table entry: what the server did with the case."""
    status = exchange.status
    if status is None:
        return f"no response ({exchange.problem_kind})"
    if 200 <= status < 300:
        return accepted
    if status >= 500:
        return f"server error {status}"
    param = error_param(exchange)
    return f"rejected {status} (param={param if isinstance(param, str) else 'null'})"


def is_success(exchange: Exchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300


def is_client_error(exchange: Exchange) -> bool:
    return exchange.status is not None and 400 <= exchange.status < 500


def not_accepted(exchange: Exchange, requirement: str, what: str) -> None:
    """The first verdict on an invalid request: it must not be answered as if it were valid.
    Plain helper (like common.require_success): the requirement is the case's own."""
    require_response(exchange)
    if 200 <= exchange.status < 300:  # type: ignore[operator]
        raise ConformanceFailure(requirement, f"HTTP 400 refusing {what}",
                                 f"{exchange.excerpt()} (the server accepted it: clamped or ignored?)", exchange)


def names_parameter(exchange: Exchange, names: tuple[str, ...]) -> None:
    """error.param-names-parameter, where more than one name is a fair answer (e.g. top_logprobs
    sent without logprobs: either parameter is the offending one)."""
    failure: ConformanceFailure | None = None
    for name in names:
        try:
            param_names(exchange, name)
            return
        except ConformanceFailure as exc:
            failure = exc
    assert failure is not None
    raise failure


def _mentions(exchange: Exchange, parameter: str) -> bool:
    param = error_param(exchange)
    if isinstance(param, str) and param.split(".")[0].split("[")[0] == parameter:
        return True
    try:
        body = exchange.json()
    except ValueError:
        return parameter in exchange.text
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return parameter in (message if isinstance(message, str) else exchange.text)


@check("request.newer-parameters-handled")
def honoured_or_refused(exchange: Exchange, parameter: str) -> None:
    """A newer OpenAI parameter is answered normally, or refused with a 400 that says which one."""
    require_response(exchange)
    if 200 <= exchange.status < 300:  # type: ignore[operator]
        return
    if exchange.status == 400 and _mentions(exchange, parameter):
        return
    raise ConformanceFailure("request.newer-parameters-handled", f"a 2xx, or a 400 naming {parameter!r}",
                             exchange.excerpt(), exchange)


def _ignored_or_refused_by_name(exchange: Exchange, requirement: str, parameter: str) -> None:
    """Ignored (a 2xx completion) or refused with 400 naming it: both are conformant; anything else
    (a 5xx, a 4xx that does not say which parameter) is not. No response is a harness problem."""
    require_response(exchange)
    if is_success(exchange):
        return
    if exchange.status != 400 or not _mentions(exchange, parameter):
        raise ConformanceFailure(requirement, f"a 2xx completion (ignored) or HTTP 400 naming {parameter!r}",
                                 exchange.excerpt(), exchange)


@check("request.unknown-parameter")
def unknown_parameter_handled(exchange: Exchange, parameter: str) -> None:
    _ignored_or_refused_by_name(exchange, "request.unknown-parameter", parameter)


@check("request.stream-options-without-stream")
def stream_options_without_stream(exchange: Exchange) -> None:
    _ignored_or_refused_by_name(exchange, "request.stream-options-without-stream", "stream_options")


@check("request.max-tokens-deprecated-accepted")
def max_tokens_bounds(exchange: Exchange, cap: int) -> None:
    """max_tokens is accepted and caps the completion: by usage when reported, else by finish_reason
    (the request asks for more words than the cap allows)."""
    requirement = "request.max-tokens-deprecated-accepted"
    require_response(exchange)
    if not 200 <= exchange.status < 300:  # type: ignore[operator]
        raise ConformanceFailure(requirement, "a 2xx response to a request using max_tokens", exchange.excerpt(),
                                 exchange)
    try:
        body = exchange.json()
    except ValueError:
        raise ConformanceFailure(requirement, "a JSON chat.completion", exchange.excerpt(), exchange) from None
    usage = body.get("usage") if isinstance(body, dict) else None
    used = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(used, int) and not isinstance(used, bool):
        if used > cap:
            raise ConformanceFailure(requirement, f"usage.completion_tokens <= max_tokens {cap}", used, exchange)
        return
    choices = body.get("choices") if isinstance(body, dict) else None
    reasons = [c.get("finish_reason") for c in choices or [] if isinstance(c, dict)]
    if reasons != ["length"]:
        raise ConformanceFailure(requirement, f'finish_reason "length": the echo needs more than {cap} tokens',
                                 reasons, exchange)


def first_content(exchange: Exchange, requirement: str) -> str | None:
    """The first choice's message content of a 2xx chat.completion, or a failure under requirement."""
    require_response(exchange)
    if not 200 <= exchange.status < 300:  # type: ignore[operator]
        raise ConformanceFailure(requirement, "a 2xx response", exchange.excerpt(), exchange)
    try:
        body = exchange.json()
        message = body["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ConformanceFailure(requirement, "a chat.completion with a choice carrying a message",
                                 exchange.excerpt(), exchange) from None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


@check("request.conversation-roles-accepted")
def conversation_answered(exchange: Exchange) -> None:
    first_content(exchange, "request.conversation-roles-accepted")


@check("request.content-parts-accepted")
def parts_like_string(exchange: Exchange, as_string: Exchange) -> None:
    """Content as text parts is answered like the same text as a string: the echo words the string
    request got back, the parts request gets back too (real models echo reliably; the reference
    server always does). Compared only when the string form echoed every word: a model that does
    not follow the instruction answers both with sampled words, and two samples differ whatever
    the content's form (seen on llama-cpp-python's tiny model), so the parts are then judged
    accepted but "treated like the string" is not judged."""
    requirement = "request.content-parts-accepted"
    got = (first_content(exchange, requirement) or "").lower()
    try:
        plain = (as_string.json()["choices"][0]["message"]["content"] or "").lower()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        plain = ""
    words = payloads.ECHO_WORDS.split()
    if not all(w in plain for w in words):
        raise NotJudged(requirement, f"the string form did not echo the prompt ({plain[:120]!r}), so there is no "
                                     f"answer the parts form must match; the parts were accepted", exchange)
    missing = [w for w in words if w not in got]
    if missing:
        raise ConformanceFailure(requirement, f"the words {words} the string form got back",
                                 f"content {got!r} lacks {missing}", exchange)
