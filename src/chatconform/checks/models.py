"""The model list (OpenAI's GET /models and GET /models/{id}).

Used by suites/test_models.py. A target that does not serve the routes at all (405, a 404 that
is not an API error, OpenAI's "Invalid URL") lacks the `models` capability; see stored.route_missing.
"""

from __future__ import annotations

from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import page_items, success_object
from .errors import client_error_status, error_object
from .schema import check_schema

LIST_SCHEMA = "ListModelsResponse"
MODEL_SCHEMA = "Model"


def listed_ids(exchange: Exchange) -> list[str]:
    """The ids of a model list, for the record (never raises)."""
    return [m["id"] for m in page_items(exchange) if isinstance(m, dict) and isinstance(m.get("id"), str)]


@check("models.list-envelope")
def list_envelope(exchange: Exchange) -> None:
    """GET /models: a JSON `{"object": "list", "data": [...]}` valid against ListModelsResponse."""
    requirement = "models.list-envelope"
    body = success_object(exchange, requirement)
    if exchange.media_type != "application/json":
        raise ConformanceFailure(requirement, "Content-Type application/json", exchange.media_type, exchange)
    if body.get("object") != "list" or not isinstance(body.get("data"), list):
        raise ConformanceFailure(requirement, '{"object": "list", "data": [...]}',
                                 {k: body.get(k) for k in ("object", "data")}, exchange)
    check_schema(body, LIST_SCHEMA, requirement, exchange)


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"not an object: {item!r}"
    if not (isinstance(item.get("id"), str) and item["id"]):
        return f"id {item.get('id')!r} is not a non-empty string"
    if item.get("object") != "model":
        return f"object {item.get('object')!r}, not 'model'"
    created = item.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return f"created {created!r} is not an integer (Unix seconds)"
    if not isinstance(item.get("owned_by"), str):
        return f"owned_by {item.get('owned_by')!r} is not a string"
    return None


@check("models.item-fields")
def item_fields(exchange: Exchange) -> None:
    """Every listed model has id, object "model", integer created and owned_by."""
    requirement = "models.item-fields"
    data = success_object(exchange, requirement).get("data")
    if not isinstance(data, list):
        raise ConformanceFailure(requirement, "data: a list of models", data, exchange)
    for n, item in enumerate(data):
        problem = _item_problem(item)
        if problem:
            raise ConformanceFailure(requirement, "id, object 'model', integer created, owned_by on every model",
                                     problem, exchange, where=f"data[{n}]")


@check("models.retrieve")
def retrieve(exchange: Exchange, model_id: str) -> None:
    """GET /models/{id} for a listed id returns that model, valid against Model."""
    requirement = "models.retrieve"
    body = success_object(exchange, requirement)
    check_schema(body, MODEL_SCHEMA, requirement, exchange)
    if body.get("id") != model_id:
        raise ConformanceFailure(requirement, f"the model {model_id!r}", f"id {body.get('id')!r}", exchange)


@check("models.unknown-id-404")
def unknown_id_404(exchange: Exchange) -> None:
    requirement = "models.unknown-id-404"
    client_error_status(exchange, (404,), requirement)
    error = error_object(exchange, requirement)
    if not isinstance(error.get("type"), str):
        raise ConformanceFailure(requirement, "the error envelope with a string type", error, exchange)


@check("models.configured-model-listed")
def configured_model_listed(exchange: Exchange, model: str) -> None:
    requirement = "models.configured-model-listed"
    success_object(exchange, requirement)
    ids = listed_ids(exchange)
    if model not in ids:
        shown = ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")
        raise ConformanceFailure(requirement, f"{model!r} among the listed models", shown or "an empty list", exchange)
