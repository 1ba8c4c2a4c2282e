"""Conformance checks: small plain functions, each tied to the one requirement ID it enforces.

A check takes an :class:`~chatconform.client.Exchange` (and sometimes the request that produced
it) and either returns (the requirement was judged and met), raises
:class:`~chatconform.failures.ConformanceFailure` (violated), or raises
:class:`~chatconform.failures.NotJudged` (the response gave it nothing to judge). ``@check``
reports each of these to the running test's verdict sink (chatconform.verdict), so a requirement
passes only when a check for it returned; a test that merely did not fail proves nothing. The
same functions serve the hand-written suites, the schemathesis custom checks and the self-tests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import verdict
from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Check:
    name: str
    requirements: tuple[str, ...]
    func: Callable[..., Any]


REGISTRY: dict[str, Check] = {}


def _exchanges(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    return [a for a in (*args, *kwargs.values()) if isinstance(a, Exchange)]


def check(requirement: str) -> Callable[[F], F]:
    """Register a check function under the requirement ID it judges."""

    def register(func: F) -> F:
        name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"

        @functools.wraps(func)
        def judged(*args: Any, **kwargs: Any) -> Any:
            try:
                result = func(*args, **kwargs)
            except ConformanceFailure as exc:
                verdict.observe(exc.requirement, verdict.FAIL, error=exc, exchanges=[exc.exchange])
                raise
            except NotJudged as exc:
                verdict.observe(exc.requirement, verdict.NOT_JUDGED, error=exc, exchanges=[exc.exchange],
                                reason=exc.reason)
                raise
            verdict.observe(requirement, verdict.PASS, exchanges=_exchanges(args, kwargs))
            return result

        REGISTRY[name] = Check(name, (requirement,), judged)
        judged.requirements = (requirement,)  # type: ignore[attr-defined]
        return judged  # type: ignore[return-value]

    return register
