"""The fixtures suites use: ``target``, ``client``, ``shared`` and ``record``."""

from __future__ import annotations

from typing import Any

import pytest

from ..client import Client
from ..target import Target
from . import grading
from .concurrency import declared, declared_key
from .session import state


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return state(pytestconfig).target()


@pytest.fixture(scope="session")
def client(pytestconfig: pytest.Config) -> Client:
    return state(pytestconfig).client()


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> Any:
    """``shared(key, make)``: one exchange per key per session, reused by every test that asks;
    ``shared(key)``: the exchange declared as ``key`` (chatconform.plugin.concurrency.declare).

    Vendors bill each request, so parametrized tests that judge one response share it. The memo
    is the session's (chatconform.plugin.concurrency): a key may already be on its way, sent
    ahead of the test by the prefetch pool; then the test waits for it instead of sending it.
    """
    session = state(pytestconfig)

    def get(key: str, make: Any = None) -> Any:
        if make is None:
            return session.memo.get(declared_key(key), declared(key, session.client(), session.target(), session))
        return session.memo.get(key, make)

    return get


class Recorder:
    """Informational observations and support-table rows for one test."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def info(self, requirement: str, message: str) -> None:
        grading.note(self.item, requirement, message)

    def support(self, parameter: str, case: str, verdict: str) -> None:
        grading.support(self.item, parameter, case, verdict)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Recorder:
    return Recorder(request.node)
