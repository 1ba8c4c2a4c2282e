"""The context window: a conversation longer than it is refused or cut, never answered as if whole."""

from __future__ import annotations

from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response


@check("response.context-overflow-signalled")
def overflow_signalled(exchange: Exchange) -> None:
    """A 400/413 error, or a completion whose choices end with "length": the client learns the prompt
    did not fit. A completion ending with "stop" means the server dropped part of the conversation."""
    requirement = "response.context-overflow-signalled"
    require_response(exchange)
    status = exchange.status or 0
    if status in (400, 413):
        return
    if not 200 <= status < 300:
        raise NotJudged(requirement, f"neither an answer nor a refusal ({exchange.excerpt(120)})", exchange)
    try:
        choices = exchange.json().get("choices") or []
    except (ValueError, AttributeError):
        raise NotJudged(requirement, f"the answer is not a completion ({exchange.excerpt(120)})", exchange) from None
    reasons = [c.get("finish_reason") for c in choices if isinstance(c, dict)]
    if not reasons or any(r != "length" for r in reasons):
        raise ConformanceFailure(requirement, 'HTTP 400, or finish_reason "length" on every choice',
                                 f"HTTP {status} with finish_reason {reasons}: the overflow went unsignalled",
                                 exchange)
