"""Response headers seed 003 documents: request IDs, rate-limit counters, Retry-After."""

from __future__ import annotations

import email.utils

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import require_response

RATELIMIT_HEADERS = tuple(
    f"x-ratelimit-{kind}-{unit}" for kind in ("limit", "remaining", "reset") for unit in ("requests", "tokens")
)


@check("header.json-content-type")
def json_content_type(exchange: Exchange) -> None:
    require_response(exchange)
    if exchange.media_type != "application/json":
        raise ConformanceFailure("header.json-content-type", "Content-Type: application/json",
                                 exchange.content_type or "(none)", exchange)


def _request_id(exchange: Exchange, requirement: str) -> None:
    require_response(exchange)
    if not exchange.headers.get("x-request-id", "").strip():
        raise ConformanceFailure(requirement, "an x-request-id header",
                                 f"HTTP {exchange.status} headers: {sorted(exchange.headers.keys())}", exchange)


@check("header.request-id")
def request_id(exchange: Exchange) -> None:
    _request_id(exchange, "header.request-id")


@check("header.request-id-on-errors")
def request_id_on_error(exchange: Exchange) -> None:
    _request_id(exchange, "header.request-id-on-errors")


@check("header.ratelimit")
def ratelimit(exchange: Exchange) -> None:
    require_response(exchange)
    missing = [h for h in RATELIMIT_HEADERS if h not in exchange.headers]
    if missing:
        raise ConformanceFailure("header.ratelimit", f"the headers {', '.join(RATELIMIT_HEADERS)}",
                                 f"missing {', '.join(missing)}", exchange)


@check("header.retry-after-429")
def retry_after(exchange: Exchange) -> None:
    require_response(exchange)
    raw = exchange.headers.get("retry-after", "").strip()
    valid = raw.isdigit()
    if raw and not valid:
        try:
            valid = email.utils.parsedate_to_datetime(raw) is not None
        except (TypeError, ValueError, IndexError):
            valid = False
    if not valid:
        raise ConformanceFailure("header.retry-after-429", "Retry-After: delay-seconds or an HTTP-date on a 429",
                                 raw or "(absent)", exchange)
