"""Getting from an exchange to something a check can judge, failing clearly when that is impossible."""

from __future__ import annotations

from typing import Any

from .. import verdict
from ..client import Exchange
from ..failures import ConformanceFailure, HarnessProblem, NotJudged


def require_response(exchange: Exchange, requirement: str = "run.budget") -> None:
    """No status at all (timeout, refused, reset before headers) is a harness-level failure; a
    request the run's budget or deadline kept from being sent leaves nothing to judge."""
    if exchange.problem_kind == "budget":
        raise NotJudged(requirement, exchange.problem or "not sent: a limit of the run", exchange)
    if exchange.status is None:
        raise HarnessProblem(exchange)


def judged(requirement: str, exchange: Exchange) -> None:
    """A table-driven test's own requirement (a parameter case's) is met: every check the test made
    on ``exchange`` returned. Called last, so an earlier failure leaves the requirement blocked."""
    verdict.observe(requirement, verdict.PASS, exchanges=[exchange])


def require_success(exchange: Exchange, requirement: str) -> None:
    require_response(exchange, requirement)
    if not 200 <= exchange.status < 300:  # type: ignore[operator]
        raise ConformanceFailure(requirement, "a 2xx response to a valid request", exchange.excerpt(), exchange)


def json_body(exchange: Exchange, requirement: str) -> Any:
    """The JSON body of a complete response, or a failure under ``requirement`` saying why not."""
    require_response(exchange, requirement)
    if exchange.problem:
        raise ConformanceFailure(requirement, "a complete response body", exchange.excerpt(), exchange)
    try:
        return exchange.json()
    except ValueError as exc:
        raise ConformanceFailure(requirement, "a JSON body", f"{exc}; {exchange.excerpt()}", exchange) from None


def page_items(exchange: Exchange) -> list[Any]:
    """The ``data`` items of a list envelope (models, stored completions), for the record and for
    paging; never raises (the envelope itself is judged by its own check)."""
    try:
        data = exchange.json().get("data")
    except (ValueError, AttributeError):
        return []
    return list(data) if isinstance(data, list) else []


def success_object(exchange: Exchange, requirement: str) -> dict[str, Any]:
    """The JSON object body of a 2xx response, or a failure under ``requirement`` saying why not."""
    require_success(exchange, requirement)
    body = json_body(exchange, requirement)
    if not isinstance(body, dict):
        raise ConformanceFailure(requirement, "a JSON object", body, exchange)
    return body


def path_str(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"
