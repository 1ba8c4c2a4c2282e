"""Stored completions: create one with store true, retrieve it, list its messages, ask for unknown
ids; list stored completions (metadata filter, model, limit/after/order), update one's metadata,
delete one.

Retrieval is polled for a few seconds: a hosted store may make a completion readable only shortly
after it was created. A server without the endpoints at all (405, or a 404 that is not an API
error) is reported as lacking the store capability rather than failing.
"""

import time
import uuid
from urllib.parse import quote, urlencode

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import stored
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.checks.responses import completion_body
from chatconform.failures import Unsupported
from chatconform.plugin.concurrency import declare, uses

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


CREATED = declare("stored.created", lambda client, target: client.chat(fp.stored_request(target.model)))


@pytest.fixture
def created(shared):
    """created(): the shared store: true exchange, or unsupported if the target refused store."""

    def get():
        exchange = shared(CREATED)
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
@uses(CREATED)
def test_retrieval_returns_the_stored_completion(client, shared, created):
    _, retrieved = _retrieved(client, shared, created, "stored.retrieve-same")
    stored.retrieve_same(retrieved, created())


def _listing(client, shared, created, requirement_id):
    completion_id, _ = _retrieved(client, shared, created, requirement_id)
    return shared("stored.messages", lambda: _get(client, _path(completion_id, "/messages"), poll=True))


@requirement("stored.messages-list-envelope")
@uses(CREATED)
def test_messages_come_in_a_list_envelope(client, shared, created):
    stored.messages_envelope(_listing(client, shared, created, "stored.messages-list-envelope"))


@requirement("stored.messages-match-request")
@uses(CREATED)
def test_listed_messages_are_the_requests(client, shared, created):
    stored.messages_match(_listing(client, shared, created, "stored.messages-match-request"), fp.STORED_MESSAGES)


@requirement("stored.unknown-id-404")
@pytest.mark.parametrize("suffix", ["", "/messages"], ids=["retrieve", "messages"])
@uses(CREATED)
def test_an_unknown_id_gives_404(client, shared, created, suffix):
    _retrieved(client, shared, created, "stored.unknown-id-404")  # only judged where the store works
    stored.unknown_id_404(_get(client, _path(fp.NEVER_ISSUED_ID, suffix)))


@requirement("stored.retrieve-not-stored-404")
@uses(CREATED)
def test_a_completion_created_without_store_is_not_retrievable(client, shared, created, completion):
    _retrieved(client, shared, created, "stored.retrieve-not-stored-404")
    completion_id = completion_body(completion, "stored.retrieve-not-stored-404").get("id")
    if not isinstance(completion_id, str) or not completion_id:
        pytest.skip("the plain completion has no id (see response.id-present)")
    stored.not_stored_404(_get(client, _path(completion_id)))


# -- list, update, delete (OpenAI's surface beyond seed 003's two endpoints) -------------------
RUN_TAG = uuid.uuid4().hex[:16]  # this run's completions, whatever else the store holds
TAG = {"chatconform_run": RUN_TAG}


def _list_path(**query):
    pairs = [(f"metadata[{k}]", v) for k, v in query.pop("metadata", {}).items()] + sorted(query.items())
    return "/chat/completions?" + urlencode(pairs)


def _stored(client, target, metadata):
    exchange = client.chat(fp.minimal(target.model, messages=fp.STORED_MESSAGES, store=True, metadata=metadata))
    unsupported_if_rejected(exchange, "store", "store")
    completion_id = completion_body(exchange, "stored.list-metadata-filter").get("id")
    if not isinstance(completion_id, str) or not completion_id:
        pytest.skip("a store: true completion has no id (see response.id-present)")
    return completion_id


# one after the other: the listing tests need them oldest first
TAGGED = declare("stored.tagged", lambda client, target: [_stored(client, target, {**TAG, "n": str(n)}) for n in range(2)])
for _purpose in ("update", "delete"):
    declare(f"stored.disposable.{_purpose}",
            lambda client, target, purpose=_purpose: _stored(client, target, {"chatconform_run": f"{RUN_TAG}-{purpose}"}))


@pytest.fixture
def tagged(shared):
    """Two completions stored with this run's tag, oldest first (ids)."""
    return shared(TAGGED)


def _listed_with_tag(client, shared, tagged):
    """The tagged listing, polled until both completions show (a hosted store may lag)."""

    def make():
        exchange = _get(client, _list_path(metadata=TAG, limit=20))
        for wait in POLL_WAITS:
            if exchange.status != 200 or set(tagged) <= set(stored.listed_ids(exchange)):
                break
            time.sleep(wait)
            exchange = _get(client, _list_path(metadata=TAG, limit=20))
        return exchange

    return shared("stored.list-tagged", make)


@requirement("stored.list-envelope")
@uses(CREATED)
def test_stored_completions_come_in_a_list_envelope(client, shared, created):
    created()  # only judged where the store works
    stored.list_envelope(shared("stored.list", lambda: _get(client, _list_path(limit=2))))


@requirement("stored.list-metadata-filter")
@uses(TAGGED)
def test_listing_filters_by_metadata(client, shared, tagged):
    stored.list_metadata_filter(_listed_with_tag(client, shared, tagged), tagged, TAG)


@requirement("stored.list-metadata-filter")
@uses(TAGGED)
def test_listing_filters_by_metadata_and_model(client, shared, tagged, target):
    _listed_with_tag(client, shared, tagged)  # polled until the store shows them
    exchange = _get(client, _list_path(metadata={**TAG, "n": "1"}, model=target.model))
    stored.list_metadata_filter(exchange, tagged[1:], {**TAG, "n": "1"})


@requirement("stored.list-pagination")
@pytest.mark.parametrize("order", ["asc", "desc"])
@uses(TAGGED)
def test_listing_pages_with_limit_and_after(client, shared, tagged, order):
    _listed_with_tag(client, shared, tagged)
    pages = [_get(client, _list_path(metadata=TAG, limit=1, order=order))]
    while len(pages) < len(tagged) + 1 and pages[-1].status == 200 and stored.listed_ids(pages[-1]):
        if not (pages[-1].json() or {}).get("has_more"):
            break
        pages.append(_get(client, _list_path(metadata=TAG, limit=1, order=order, after=stored.listed_ids(pages[-1])[-1])))
    stored.list_pagination(pages, tagged, limit=1, order=order)


@pytest.fixture
def disposable(shared):
    """disposable(purpose): a completion stored for one update or delete test alone, so neither
    depends on the other having run (or not) first."""
    return lambda purpose: shared(f"stored.disposable.{purpose}")


@requirement("stored.update-metadata")
@uses("stored.disposable.update")
def test_metadata_can_be_updated(client, shared, disposable):
    completion_id = disposable("update")
    metadata = {"chatconform_run": f"{RUN_TAG}-update", "updated": "yes"}
    updated = shared("stored.updated",
                     lambda: client.request("POST", _path(completion_id), json_body={"metadata": metadata}))
    if stored.route_missing(updated):
        raise Unsupported("store", f"POST /chat/completions/{{id}} is not served: {updated.excerpt(200)}")
    stored.update_metadata(updated, _get(client, _path(completion_id), poll=True), completion_id, metadata)


@requirement("stored.delete")
@uses("stored.disposable.delete")
def test_a_stored_completion_can_be_deleted(client, shared, disposable):
    completion_id = disposable("delete")
    _get(client, _path(completion_id), poll=True)  # readable first: a lagging store is not a failed delete
    deleted = shared("stored.deleted", lambda: client.request("DELETE", _path(completion_id)))
    if stored.route_missing(deleted):
        raise Unsupported("store", f"DELETE /chat/completions/{{id}} is not served: {deleted.excerpt(200)}")
    stored.delete(deleted, client.request("GET", _path(completion_id)), completion_id)
