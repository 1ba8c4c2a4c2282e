"""API keys: a valid key is accepted in each documented header; a missing, wrong or malformed one gets 401."""

from __future__ import annotations

from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response

# 403 is also a refusal of the key: a valid key that may not use the endpoint is not "accepted"
REFUSALS = (401, 403)


def _is_api_answer(exchange: Exchange) -> bool:
    """A JSON object body: what an API sends, as opposed to an HTML page or a proxy's text."""
    try:
        return isinstance(exchange.json(), dict)
    except ValueError:
        return False


def _accepted(exchange: Exchange, requirement: str, how: str) -> None:
    """Authentication passed: a 2xx API answer, or a 400/422 API error about the body (the key was
    taken). 401/403 is a refusal. Anything else (an HTML page, a 404, a 5xx) says nothing about the
    key: not judged, never a pass."""
    require_response(exchange)
    if exchange.status in REFUSALS:
        raise ConformanceFailure(requirement, f"the valid key accepted when sent as {how}", exchange.excerpt(),
                                 exchange)
    taken = 200 <= exchange.status < 300 or exchange.status in (400, 422)  # type: ignore[operator]
    if not (taken and _is_api_answer(exchange)):
        raise NotJudged(requirement, f"the answer says nothing about the key ({exchange.excerpt(120)})", exchange)


def _rejected(exchange: Exchange, requirement: str, what: str) -> None:
    """401 is the answer. Another refusal (403, 400) or an API answer that accepted the request is a
    violation; a page that is not the API at all (HTML, a framework 404, a 5xx) judges nothing."""
    require_response(exchange)
    status = exchange.status or 0
    if status != 401 and not _is_api_answer(exchange) and (status < 400 or status == 404 or status >= 500):
        raise NotJudged(requirement, f"not an API answer ({exchange.excerpt(120)})", exchange)
    if exchange.status != 401:
        verdict = " (the server accepted it)" if exchange.status < 300 else ""  # type: ignore[operator]
        raise ConformanceFailure(requirement, f"HTTP 401 for {what}", exchange.excerpt() + verdict, exchange)


@check("auth.bearer-accepted")
def bearer_accepted(exchange: Exchange) -> None:
    _accepted(exchange, "auth.bearer-accepted", "Authorization: Bearer <key>")


@check("auth.api-key-header-accepted")
def api_key_header_accepted(exchange: Exchange) -> None:
    _accepted(exchange, "auth.api-key-header-accepted", "api-key: <key>")


@check("auth.api-key-header-accepted")
def wrong_api_key_rejected(exchange: Exchange) -> None:
    _rejected(exchange, "auth.api-key-header-accepted", "a wrong key in the api-key header")


@check("auth.missing-key-401")
def missing_key_rejected(exchange: Exchange) -> None:
    _rejected(exchange, "auth.missing-key-401", "a request without any key")


@check("auth.wrong-key-401")
def wrong_key_rejected(exchange: Exchange) -> None:
    _rejected(exchange, "auth.wrong-key-401", "a wrong Bearer key")


@check("auth.malformed-header-401")
def malformed_header_rejected(exchange: Exchange) -> None:
    _rejected(exchange, "auth.malformed-header-401", "a malformed Authorization header")
