"""The typed outcomes a check can raise: a conformance failure, or a capability the target lacks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Exchange

EXCERPT = 400


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """A received value as a person reads it: JSON as it was on the wire, not a Python repr."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class ConformanceFailure(AssertionError):
    """A requirement was violated: what was expected, what was received, and how to reproduce it."""

    def __init__(
        self,
        requirement: str,
        expected: str,
        received: Any,
        exchange: Exchange | None = None,
        *,
        where: str | None = None,
    ) -> None:
        self.requirement = requirement
        self.expected = expected
        self.received = excerpt(received)
        self.exchange = exchange
        self.where = where
        super().__init__(self.render())

    def render(self) -> str:
        from .requirements import catalogue  # late: failures are raised long after the catalogue loads

        try:
            req = catalogue()[self.requirement]
            head = f"[{req.id}] {req.level.value}: {req.statement}"
        except KeyError:
            head = f"[{self.requirement}] (not in the catalogue)"
        lines = [head]
        if self.where:
            lines.append(f"  at:       {self.where}")
        lines.append(f"  expected: {self.expected}")
        lines.append(f"  received: {self.received}")
        if self.exchange is not None:
            if self.exchange.problem:
                lines.append(f"  problem:  {self.exchange.problem}")
            lines.append(f"  reproduce: {self.exchange.curl()}")
        return "\n".join(lines)


class NotJudged(Exception):
    """The check ran, but the response gave it nothing to judge (the endpoint is absent, the reply
    was cut by the token cap, the model never produced the text the check needs). Never a pass."""

    def __init__(self, requirement: str, reason: str, exchange: Exchange | None = None) -> None:
        self.requirement = requirement
        self.reason = reason
        self.exchange = exchange
        super().__init__(f"[{requirement}] not judged: {reason}")


class NotApplicable(Exception):
    """A requirement the target's profile says does not apply (Azure: the model is in the URL, so
    `request.model-required` does not apply): the test is not run; its requirements are informational."""

    def __init__(self, requirement: str, reason: str) -> None:
        self.requirement = requirement
        self.reason = reason
        super().__init__(f"[{requirement}] not applicable: {reason}")


class Unsupported(Exception):
    """The target lacks an optional capability: reported as unsupported, never as a failure."""

    def __init__(self, capability: str, reason: str) -> None:
        self.capability = capability
        self.reason = reason
        super().__init__(f"unsupported capability {capability!r}: {reason}")


class HarnessProblem(AssertionError):
    """No usable response (timeout, connection failure, size cap): the test fails, filed apart from
    conformance verdicts because the cause may be the network rather than the implementation."""

    def __init__(self, exchange: Exchange, what: str = "a response") -> None:
        self.exchange = exchange
        self.what = what
        super().__init__(
            f"[harness] expected {what}, got {exchange.excerpt()}\n"
            f"  problem:  {exchange.problem}\n  reproduce: {exchange.curl()}"
        )


class ConformanceWarning(UserWarning):
    """A SHOULD/MAY requirement was not met: shown in the warnings summary, fails only under --strict."""
