"""Error responses: the status, the JSON envelope and its fields, the type vocabulary."""

from __future__ import annotations

from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
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


@check("error.client-error-not-5xx")
def client_error_status(exchange: Exchange, expected: tuple[int, ...] = (400,),
                        requirement: str = "error.client-error-not-5xx") -> None:
    """A request the client got wrong is answered with one of ``expected``, never 2xx or 5xx."""
    require_response(exchange)
    if exchange.status not in expected:
        kind = "accepted it" if exchange.status < 300 else ("failed on the server" if exchange.status >= 500 else "")  # type: ignore[operator]
        raise ConformanceFailure(requirement, f"HTTP {' or '.join(map(str, expected))}",
                                 f"{exchange.excerpt()}" + (f" (the server {kind})" if kind else ""), exchange)


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
    """{"error": {...}} with message and type strings, param and code string or null when present."""
    error = error_object(exchange, "error.envelope")
    wrong = []
    for name in ("message", "type"):
        if not isinstance(error.get(name), str):
            wrong.append(f"{name}={error.get(name)!r}")
    for name in ("param", "code"):
        if name in error and error[name] is not None and not isinstance(error[name], str):
            wrong.append(f"{name}={error[name]!r}")
    if wrong:
        raise ConformanceFailure("error.envelope", "message and type strings; param and code string or null",
                                 ", ".join(wrong), exchange)


def _presence(requirement: str) -> Any:
    @check(requirement)
    def presence(exchange: Exchange) -> None:
        check_presence(json_body(exchange, requirement), ERROR_SCHEMA, requirement, exchange)

    presence.__name__ = requirement.split(".", 1)[1].replace("-", "_")
    return presence


param_key = _presence("error.param-key")
code_key = _presence("error.code-key")


@check("error.type-vocabulary")
def type_vocabulary(exchange: Exchange) -> None:
    expected = SEED_003_TYPES.get(exchange.status or 0)
    if expected is None:
        return
    got = error_object(exchange, "error.type-vocabulary").get("type")
    if got != expected:
        raise ConformanceFailure("error.type-vocabulary", f"type {expected!r} for HTTP {exchange.status} (seed 003)",
                                 got, exchange)


@check("error.param-names-parameter")
def param_names(exchange: Exchange, parameter: str) -> None:
    """`param` names the offending parameter (its top-level name, or a path starting with it)."""
    got = error_object(exchange, "error.param-names-parameter").get("param")
    if not (isinstance(got, str) and (got == parameter or got.startswith((parameter + ".", parameter + "[")))):
        raise ConformanceFailure("error.param-names-parameter", f"param {parameter!r}", got, exchange)
