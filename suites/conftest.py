"""Exchanges shared by many tests: one request answers every assertion that can share it.

Each is ``@prefetchable``: sent once per session, and with ``--concurrency`` above 1 sent ahead
of the first test that needs it, alongside the others (chatconform.plugin.concurrency), never
for a test that will not run.
"""

from __future__ import annotations

import pytest

from chatconform import payloads
from chatconform.payloads import errors as error_cases
from chatconform.client import Client, Exchange
from chatconform.plugin.concurrency import prefetchable
from chatconform.target import Target


@prefetchable
def completion(client: Client, target: Target, session) -> Exchange:
    """A plain non-streamed completion of the minimal request (the pre-flight's, when it sent this one)."""
    body = payloads.minimal(target.model)
    return session.reuse_preflight(body) or client.chat(body)


@prefetchable
def baseline(client: Client, target: Target) -> Exchange:
    """The deterministic baseline (temperature 0, a seed): what the responses and streaming suites
    change one parameter of, and compare a stream with."""
    return client.chat(payloads.baseline(target.model))


@prefetchable
def stream(client: Client, target: Target) -> Exchange:
    """The same request streamed, without stream_options."""
    return client.chat(payloads.streamed(target.model))


@prefetchable
def stream_with_usage(client: Client, target: Target) -> Exchange:
    """The same request streamed with stream_options.include_usage: true."""
    return client.chat(payloads.streamed(target.model, include_usage=True))


@prefetchable
def capped_completion(client: Client, target: Target) -> Exchange:
    """The echo request capped below the tokens it needs."""
    return client.chat(payloads.minimal(target.model, max_completion_tokens=payloads.CAPPED_TOKENS))


@prefetchable
def stopped_completion(client: Client, target: Target) -> Exchange:
    """The echo request with a stop sequence that occurs in the echo."""
    return client.chat(payloads.minimal(target.model, stop=payloads.STOP))


@prefetchable
def n_completion(client: Client, target: Target) -> Exchange:
    """The echo request with n=2 (only where the target supports n)."""
    return client.chat(payloads.minimal(target.model, n=2, max_completion_tokens=8))


@pytest.fixture
def cases(pytestconfig, client: Client, target: Target, shared):
    """The deliberately wrong requests shared by the errors, headers and auth suites."""
    return error_cases.context(pytestconfig, client, target, shared)


@pytest.fixture
def error_case(cases):
    """error_case(name): the exchange of one shared error case, sent once per session."""
    return lambda name: error_cases.exchange(cases, name)
