"""Stored completions (store: true): retrieving one, listing its messages, unknown ids.

Used by suites/test_stored_completions.py and by the stateful property tests (chatconform.fuzz).
"""

from __future__ import annotations

from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import page_items, success_object
from .errors import client_error_status, error_object
from .schema import check_schema

COMPLETION_SCHEMA = "CreateChatCompletionResponse"
LIST_SCHEMA = "ChatCompletionMessageList"


def _answers(body: Any) -> list[tuple[Any, Any, Any]]:
    """(index, role, content) of every choice: what "the same completion" must keep."""
    out = []
    for choice in body.get("choices") or [] if isinstance(body, dict) else []:
        message = choice.get("message") if isinstance(choice, dict) else None
        message = message if isinstance(message, dict) else {}
        out.append((choice.get("index") if isinstance(choice, dict) else None, message.get("role"),
                    message.get("content")))
    return sorted(out, key=repr)


@check("stored.retrieve-same")
def retrieve_same(retrieved: Exchange, created: Exchange) -> None:
    """GET /chat/completions/{id} returns the completion the create request returned: same id,
    model and message content, valid against the response schema."""
    requirement = "stored.retrieve-same"
    body = success_object(retrieved, requirement)
    check_schema(body, COMPLETION_SCHEMA, requirement, retrieved)
    original = created.json()
    for name in ("id", "model"):
        if body.get(name) != original.get(name):
            raise ConformanceFailure(requirement, f"{name} {original.get(name)!r} as created",
                                     f"{name} {body.get(name)!r}", retrieved)
    if _answers(body) != _answers(original):
        raise ConformanceFailure(requirement, f"the created choices {_answers(original)}", _answers(body), retrieved)


def route_missing(exchange: Exchange) -> bool:
    """The endpoint is not served at all: 405, a 404 that is not a JSON API error (a proxy's or
    framework's "no such route"), or OpenAI's own "Invalid URL" 404. Such a target lacks the store
    capability; it is not wrong."""
    if exchange.status == 405:
        return True
    if exchange.status != 404:
        return False
    try:
        body = exchange.json()
    except ValueError:
        return True
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return True
    return error.get("code") == "unknown_url" or str(error.get("message", "")).startswith("Invalid URL")


@check("stored.messages-list-envelope")
def messages_envelope(exchange: Exchange) -> None:
    requirement = "stored.messages-list-envelope"
    check_schema(success_object(exchange, requirement), LIST_SCHEMA, requirement, exchange)


def _text(content: Any) -> Any:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content


@check("stored.messages-match-request")
def messages_match(exchange: Exchange, sent: list[dict[str, Any]], *, order: str = "asc",
                   limit: int = 20) -> None:
    """The listed page holds the request's messages (role and text), in the requested order, each
    with an id. The completion's own reply may be listed after them (before them in desc order):
    the documents leave that open and llama-stack lists it."""
    requirement = "stored.messages-match-request"
    data = success_object(exchange, requirement).get("data")
    if not isinstance(data, list):
        raise ConformanceFailure(requirement, "data: a list of messages", data, exchange)
    inputs = [(m.get("role"), _text(m.get("content"))) for m in sent]
    got = [(m.get("role"), _text(m.get("content"))) if isinstance(m, dict) else m for m in data]
    if got != _page(inputs, order, limit) and not _with_reply(got, _page(inputs + [REPLY], order, limit)):
        raise ConformanceFailure(requirement, f"the request's messages ({order}, at most {limit}): "
                                              f"{_page(inputs, order, limit)}", got, exchange)
    missing = [n for n, m in enumerate(data) if not (isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"])]
    if missing:
        raise ConformanceFailure(requirement, "an id on every listed message", f"no id on items {missing[:5]}",
                                 exchange)


REPLY = ("assistant", ...)  # the completion's reply: any assistant message


def _page(messages: list[Any], order: str, limit: int) -> list[Any]:
    return (list(messages) if order != "desc" else list(reversed(messages)))[:limit]


def _with_reply(got: list[Any], page: list[Any]) -> bool:
    return REPLY in page and len(got) == len(page) and all(
        g == p or (p is REPLY and isinstance(g, tuple) and g[0] == "assistant") for g, p in zip(got, page))


@check("stored.unknown-id-404")
def unknown_id_404(exchange: Exchange) -> None:
    requirement = "stored.unknown-id-404"
    client_error_status(exchange, (404,), requirement)
    error = error_object(exchange, requirement)
    if not isinstance(error.get("type"), str):
        raise ConformanceFailure(requirement, "the error envelope with a string type", error, exchange)


@check("stored.retrieve-not-stored-404")
def not_stored_404(exchange: Exchange) -> None:
    """A completion created without store: true is not retrievable."""
    client_error_status(exchange, (404,), "stored.retrieve-not-stored-404")


# -- the rest of OpenAI's stored surface: list, update, delete ----------------------------------
COMPLETION_LIST_SCHEMA = "ChatCompletionList"
DELETED_SCHEMA = "ChatCompletionDeleted"


def listed_ids(exchange: Exchange) -> list[Any]:
    """The ids on a page of completions (never raises)."""
    return [c.get("id") if isinstance(c, dict) else c for c in page_items(exchange)]


@check("stored.list-envelope")
def list_envelope(exchange: Exchange) -> None:
    """GET /chat/completions: a list of chat.completion objects, valid against ChatCompletionList."""
    requirement = "stored.list-envelope"
    check_schema(success_object(exchange, requirement), COMPLETION_LIST_SCHEMA, requirement, exchange)


@check("stored.list-metadata-filter")
def list_metadata_filter(exchange: Exchange, created_ids: list[str], metadata: dict[str, str]) -> None:
    """A listing filtered by metadata holds every completion created with those pairs (all of
    `created_ids`) and nothing whose metadata lacks one of them."""
    requirement = "stored.list-metadata-filter"
    data = success_object(exchange, requirement).get("data")
    if not isinstance(data, list):
        raise ConformanceFailure(requirement, "data: a list of completions", data, exchange)
    listed = listed_ids(exchange)
    missing = [i for i in created_ids if i not in listed]
    if missing:
        raise ConformanceFailure(requirement, f"the completions created with metadata {metadata}: {created_ids}",
                                 f"listed {listed}; missing {missing}", exchange)
    for n, item in enumerate(data):
        held = item.get("metadata") if isinstance(item, dict) else None
        held = held if isinstance(held, dict) else {}
        if any(held.get(k) != v for k, v in metadata.items()):
            raise ConformanceFailure(requirement, f"only completions whose metadata has {metadata}",
                                     f"{item.get('id') if isinstance(item, dict) else item!r} with metadata "
                                     f"{held}", exchange, where=f"data[{n}]")


@check("stored.list-pagination")
def list_pagination(pages: list[Exchange], expected_ids: list[str], *, limit: int, order: str) -> None:
    """Paging through a filtered listing with `limit` and `after` yields `expected_ids` (in
    `order`), `limit` at a time, has_more true on every page but the last."""
    requirement = "stored.list-pagination"
    seen: list[Any] = []
    for n, page in enumerate(pages):
        body = success_object(page, requirement)
        ids = listed_ids(page)
        if len(ids) > limit:
            raise ConformanceFailure(requirement, f"at most limit={limit} completions a page", ids, page,
                                     where=f"page {n + 1}")
        last = n == len(pages) - 1
        if body.get("has_more") is not (not last):
            raise ConformanceFailure(requirement, f"has_more {not last} on page {n + 1} of {len(pages)}",
                                     f"has_more {body.get('has_more')!r}", page)
        seen += ids
    wanted = list(expected_ids) if order == "asc" else list(reversed(expected_ids))
    if seen != wanted:
        raise ConformanceFailure(requirement, f"the completions in {order} order of creation, paged with after: "
                                              f"{wanted}", seen, pages[-1])


@check("stored.update-metadata")
def update_metadata(updated: Exchange, retrieved: Exchange, completion_id: str, metadata: dict[str, str]) -> None:
    """The update answers with the completion carrying the new metadata, and so does a retrieval."""
    requirement = "stored.update-metadata"
    for exchange, what in ((updated, "the update's answer"), (retrieved, "a later retrieval")):
        body = success_object(exchange, requirement)
        check_schema(body, COMPLETION_SCHEMA, requirement, exchange)
        if body.get("id") != completion_id:
            raise ConformanceFailure(requirement, f"{what}: completion {completion_id!r}", f"id {body.get('id')!r}",
                                     exchange)
        if body.get("metadata") != metadata:
            raise ConformanceFailure(requirement, f"{what}: metadata {metadata}", f"metadata {body.get('metadata')!r}",
                                     exchange)


@check("stored.delete")
def delete(deleted: Exchange, afterwards: Exchange, completion_id: str) -> None:
    """DELETE answers chat.completion.deleted for the id with deleted true; the id is then 404."""
    requirement = "stored.delete"
    body = success_object(deleted, requirement)
    check_schema(body, DELETED_SCHEMA, requirement, deleted)
    expected = {"object": "chat.completion.deleted", "id": completion_id, "deleted": True}
    if {k: body.get(k) for k in expected} != expected:
        raise ConformanceFailure(requirement, expected, {k: body.get(k) for k in expected}, deleted)
    if afterwards.status != 404:
        raise ConformanceFailure(requirement, "404 for the deleted id", afterwards.excerpt(), afterwards)
