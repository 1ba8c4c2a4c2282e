"""Error responses: the status, the JSON envelope and its fields, the type vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import json_body, require_response
from .schema import check_presence

ERROR_SCHEMA = "ErrorResponse"

# seed 003's table ("Status / Type"): checked at SHOULD level, since OpenAI's own types differ
SEED_003_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}


def client_error_status(exchange: Exchange, expected: tuple[int, ...], requirement: str) -> None:
    """Helper for the status checks: answered with one of ``expected``, failing ``requirement``."""
    require_response(exchange)
    if exchange.status not in expected:
        kind = "accepted it" if exchange.status < 300 else ("failed on the server" if exchange.status >= 500 else "")  # type: ignore[operator]
        raise ConformanceFailure(requirement, f"HTTP {' or '.join(map(str, expected))}",
                                 f"{exchange.excerpt()}" + (f" (the server {kind})" if kind else ""), exchange)


@check("error.client-error-not-5xx")
def not_5xx(exchange: Exchange) -> None:
    """Clients retry 5xx, so a request the client got wrong must not be reported as the server's fault."""
    require_response(exchange)
    if exchange.status >= 500:  # type: ignore[operator]
        raise ConformanceFailure("error.client-error-not-5xx", "a 4xx status for a request the client got wrong",
                                 exchange.excerpt(), exchange)


@check("error.status-400-invalid")
def status_400(exchange: Exchange) -> None:
    client_error_status(exchange, (400,), "error.status-400-invalid")


@check("error.status-401-auth")
def status_401(exchange: Exchange) -> None:
    client_error_status(exchange, (401,), "error.status-401-auth")


@check("error.status-403-permission")
def status_403(exchange: Exchange) -> None:
    client_error_status(exchange, (403,), "error.status-403-permission")


@check("error.unknown-model")
def unknown_model(exchange: Exchange) -> None:
    """404 as OpenAI answers, or 400 as an invalid body; a 2xx means another model answered."""
    client_error_status(exchange, (404, 400), "error.unknown-model")


@check("error.status-429-rate-limit")
def rate_limited(burst: Sequence[Exchange]) -> None:
    """A burst over a small limit ends in a prompt 429 (the burst stops at its first non-2xx)."""
    last = burst[-1]
    if last.status is None and last.problem_kind == "timeout":
        raise ConformanceFailure("error.status-429-rate-limit", "a prompt 429 once the limit is exceeded",
                                 f"request {len(burst)} of the burst was held open: {last.problem}", last)
    require_response(last)
    if last.status != 429:
        received = (f"{len(burst)} requests in a row answered 2xx" if last.status < 300  # type: ignore[operator]
                    else f"request {len(burst)}: {last.excerpt()}")
        raise ConformanceFailure("error.status-429-rate-limit", "HTTP 429 within the burst", received, last)


@check("error.unknown-path-404")
def unknown_path(exchange: Exchange) -> None:
    """404 with the JSON envelope: HTML from a proxy or a 405/400 leaves clients guessing."""
    requirement = "error.unknown-path-404"
    client_error_status(exchange, (404,), requirement)
    if exchange.media_type != "application/json":
        raise ConformanceFailure(requirement, "Content-Type: application/json", exchange.content_type or "(none)",
                                 exchange)
    error = error_object(exchange, requirement)
    if not isinstance(error.get("message"), str) or not isinstance(error.get("type"), str):
        raise ConformanceFailure(requirement, "an error object with message and type strings", error, exchange)


@check("error.content-type-json")
def content_type_json(exchange: Exchange) -> None:
    require_response(exchange)
    if exchange.media_type != "application/json":
        raise ConformanceFailure("error.content-type-json", "Content-Type: application/json on an error",
                                 exchange.content_type or "(none)", exchange)


def error_object(exchange: Exchange, requirement: str) -> dict[str, Any]:
    body = json_body(exchange, requirement)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise ConformanceFailure(requirement, 'a body {"error": {"message", "type", "param", "code"}}', body, exchange)
    return error


@check("error.envelope")
def envelope(exchange: Exchange) -> None:
    """A JSON object whose `error` member is an object with a string `type` (the other fields have
    requirements of their own, at the levels the documents support)."""
    error = error_object(exchange, "error.envelope")
    if not isinstance(error.get("type"), str):
        raise ConformanceFailure("error.envelope", "error.type: a string",
                                 f"error.type={error.get('type')!r}" if "type" in error else "no error.type", exchange)


@check("error.message-string")
def message_string(exchange: Exchange) -> None:
    message = error_object(exchange, "error.message-string").get("message")
    if not isinstance(message, str) or not message.strip():
        raise ConformanceFailure("error.message-string", "error.message: a non-empty string",
                                 f"{type(message).__name__} {message!r}", exchange)


def _string_or_null_key(requirement: str, name: str) -> Any:
    def key(exchange: Exchange) -> None:
        check_presence(json_body(exchange, requirement), ERROR_SCHEMA, requirement, exchange)
        value = error_object(exchange, requirement).get(name)
        if value is not None and not isinstance(value, str):
            raise ConformanceFailure(requirement, f"error.{name}: a string or null",
                                     f"{type(value).__name__} {value!r}", exchange)
        if value == "None":  # a server's str(None): clients testing `param is None` are misled
            raise ConformanceFailure(requirement, f"error.{name}: null when there is none (not the string \"None\")",
                                     '"None"', exchange)

    # named before registering, so each key check gets its own registry entry
    key.__name__ = requirement.split(".", 1)[1].replace("-", "_")
    return check(requirement)(key)


param_key = _string_or_null_key("error.param-key", "param")
code_key = _string_or_null_key("error.code-key", "code")


@check("error.type-vocabulary")
def type_vocabulary(exchange: Exchange, types: Mapping[int, str] | None = None) -> None:
    """``error.type`` follows the vocabulary of the target's documents: its profile's table
    (specs/profiles: ``errors.types``), else seed 003's. A status the table does not name gives
    nothing to judge."""
    table = dict(types) if types else SEED_003_TYPES
    expected = table.get(exchange.status or 0)
    if expected is None:
        raise NotJudged("error.type-vocabulary", f"HTTP {exchange.status} has no documented error type", exchange)
    got = error_object(exchange, "error.type-vocabulary").get("type")
    if got != expected:
        where = "the profile's table" if types else "seed 003"
        raise ConformanceFailure("error.type-vocabulary", f"type {expected!r} for HTTP {exchange.status} ({where})",
                                 got, exchange)


@check("error.param-names-parameter")
def param_names(exchange: Exchange, parameter: str) -> None:
    """`param` names the offending parameter (its top-level name, or a path starting with it); a
    null or absent `param` is tolerated when the message names it instead."""
    error = error_object(exchange, "error.param-names-parameter")
    got = error.get("param")
    if isinstance(got, str) and (got == parameter or got.startswith((parameter + ".", parameter + "["))):
        return
    if got is None and parameter in str(error.get("message") or ""):
        return
    raise ConformanceFailure("error.param-names-parameter", f"param {parameter!r} (or the message naming it)",
                             f"param={got!r}, message={error.get('message')!r}", exchange)
