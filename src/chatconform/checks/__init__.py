"""Conformance checks: small plain functions, each tied to the requirement IDs it enforces.

A check takes an :class:`~chatconform.client.Exchange` (and sometimes the request that produced
it) and raises :class:`~chatconform.failures.ConformanceFailure` naming one requirement. The
same functions serve the hand-written suites, the schemathesis custom checks and the self-tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Check:
    name: str
    requirements: tuple[str, ...]
    func: Callable[..., Any]


REGISTRY: dict[str, Check] = {}


def check(*requirements: str) -> Callable[[F], F]:
    """Register a check function under the requirement IDs it can fail."""

    def register(func: F) -> F:
        name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
        REGISTRY[name] = Check(name, tuple(requirements), func)
        func.requirements = tuple(requirements)  # type: ignore[attr-defined]
        return func

    return register
