"""API keys: a valid key is accepted in each documented header; a missing, wrong or malformed one gets 401."""

from __future__ import annotations

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import require_response

# 403 is also a refusal of the key: a valid key that may not use the endpoint is not "accepted"
REFUSALS = (401, 403)


def _accepted(exchange: Exchange, requirement: str, how: str) -> None:
    """Authentication passed: anything but 401/403 (a 400 about the body still means the key was taken)."""
    require_response(exchange)
    if exchange.status in REFUSALS:
        raise ConformanceFailure(requirement, f"the valid key accepted when sent as {how}", exchange.excerpt(),
                                 exchange)


def _rejected(exchange: Exchange, requirement: str, what: str) -> None:
    require_response(exchange)
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
