"""Stored completions: create one with store true, retrieve it, list its messages, ask for unknown ids.

Retrieval is polled for a few seconds: a hosted store may make a completion readable only shortly
after it was created. A server without the endpoints at all (405, or a 404 that is not an API
error) is reported as lacking the store capability rather than failing.
"""

import time
from urllib.parse import quote

import pytest

from chatconform import feature_payloads as fp
from chatconform.checks import stored
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.checks.responses import completion_body
from chatconform.failures import Unsupported

requirement = pytest.mark.requirement
pytestmark = pytest.mark.capability("store")

POLL_WAITS = (1.0, 2.0, 4.0, 8.0)  # seconds between attempts while a stored id still answers 404


def _get(client, path, poll=False):
    exchange = client.request("GET", path)
    for wait in POLL_WAITS if poll else ():
        if exchange.status != 404 or stored.route_missing(exchange):
            break
        time.sleep(wait)
        exchange = client.request("GET", path)
    if stored.route_missing(exchange):
        raise Unsupported("store", f"GET {path.split('?')[0]} is not served: {exchange.excerpt(200)}")
    return exchange


@pytest.fixture
def created(client, target, shared):
    """created(): the shared store: true exchange, or unsupported if the target refused store."""

    def get():
        exchange = shared("stored.created", lambda: client.chat(fp.stored_request(target.model)))
        unsupported_if_rejected(exchange, "store", "store")
        return exchange

    return get


def _path(completion_id, suffix=""):
    return f"/chat/completions/{quote(completion_id, safe='')}{suffix}"


def _retrieved(client, shared, created, requirement_id):
    completion_id = completion_body(created(), requirement_id).get("id")
    if not isinstance(completion_id, str) or not completion_id:
        pytest.skip("the store: true completion has no id to retrieve (see response.id-present)")
    return completion_id, shared("stored.retrieved", lambda: _get(client, _path(completion_id), poll=True))


@requirement("stored.retrieve-same")
def test_retrieval_returns_the_stored_completion(client, shared, created):
    _, retrieved = _retrieved(client, shared, created, "stored.retrieve-same")
    stored.retrieve_same(retrieved, created())


def _listing(client, shared, created, requirement_id):
    completion_id, _ = _retrieved(client, shared, created, requirement_id)
    return shared("stored.messages", lambda: _get(client, _path(completion_id, "/messages"), poll=True))


@requirement("stored.messages-list-envelope")
def test_messages_come_in_a_list_envelope(client, shared, created):
    stored.messages_envelope(_listing(client, shared, created, "stored.messages-list-envelope"))


@requirement("stored.messages-match-request")
def test_listed_messages_are_the_requests(client, shared, created):
    stored.messages_match(_listing(client, shared, created, "stored.messages-match-request"), fp.STORED_MESSAGES)


@requirement("stored.unknown-id-404")
@pytest.mark.parametrize("suffix", ["", "/messages"], ids=["retrieve", "messages"])
def test_an_unknown_id_gives_404(client, shared, created, suffix):
    _retrieved(client, shared, created, "stored.unknown-id-404")  # only judged where the store works
    stored.unknown_id_404(_get(client, _path(fp.NEVER_ISSUED_ID, suffix)))


@requirement("stored.retrieve-not-stored-404")
def test_a_completion_created_without_store_is_not_retrievable(client, shared, created, completion):
    _retrieved(client, shared, created, "stored.retrieve-not-stored-404")
    completion_id = completion_body(completion, "stored.retrieve-not-stored-404").get("id")
    if not isinstance(completion_id, str) or not completion_id:
        pytest.skip("the plain completion has no id (see response.id-present)")
    stored.not_stored_404(_get(client, _path(completion_id)))
