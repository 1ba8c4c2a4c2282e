"""Response headers seed 003 documents: request IDs, rate-limit counters, Retry-After."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence

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


@check("header.request-id")
def request_ids_unique(exchanges: Sequence[Exchange]) -> None:
    """Distinct requests get distinct ids: a constant id cannot locate one request in the logs."""
    seen: dict[str, int] = {}
    for n, exchange in enumerate(exchanges):
        _request_id(exchange, "header.request-id")
        value = exchange.headers["x-request-id"].strip()
        if value in seen:
            raise ConformanceFailure("header.request-id", "a different x-request-id on every response",
                                     f"responses {seen[value] + 1} and {n + 1} of {len(exchanges)} both say {value!r}",
                                     exchange)
        seen[value] = n


@check("header.request-id-on-errors")
def request_id_on_error(exchange: Exchange) -> None:
    _request_id(exchange, "header.request-id-on-errors")


def _count(value: str) -> int | None:
    value = value.strip()
    return int(value) if re.fullmatch(r"[0-9]+", value) else None


@check("header.ratelimit")
def ratelimit(exchange: Exchange) -> None:
    """All six headers; limits and remaining counts are non-negative integers, remaining <= limit."""
    require_response(exchange)
    missing = [h for h in RATELIMIT_HEADERS if h not in exchange.headers]
    if missing:
        raise ConformanceFailure("header.ratelimit", f"the headers {', '.join(RATELIMIT_HEADERS)}",
                                 f"missing {', '.join(missing)}", exchange)
    for unit in ("requests", "tokens"):
        names = (f"x-ratelimit-limit-{unit}", f"x-ratelimit-remaining-{unit}")
        limit, remaining = (_count(exchange.headers[name]) for name in names)
        shown = ", ".join(f"{name}: {exchange.headers[name]}" for name in names)
        if limit is None or remaining is None:
            raise ConformanceFailure("header.ratelimit", "limit and remaining as non-negative integers", shown,
                                     exchange)
        if remaining > limit:
            raise ConformanceFailure("header.ratelimit", "remaining not above the limit", shown, exchange)


@check("header.retry-after-429")
def retry_after(exchange: Exchange) -> None:
    """Delay-seconds of at least 1 (OpenAI's minimum) or an HTTP-date."""
    require_response(exchange)
    raw = exchange.headers.get("retry-after", "").strip()
    if re.fullmatch(r"[0-9]+", raw):
        valid = int(raw) >= 1
    else:
        try:
            valid = bool(raw) and email.utils.parsedate_to_datetime(raw) is not None
        except (TypeError, ValueError, IndexError):
            valid = False
    if not valid:
        raise ConformanceFailure("header.retry-after-429", "Retry-After: whole seconds >= 1, or an HTTP-date, on a 429",
                                 raw or "(absent)", exchange)
