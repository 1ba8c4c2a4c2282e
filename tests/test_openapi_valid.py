"""specs/openapi.yaml is a valid OpenAPI 3.1 document that keeps its own conventions and drives schemathesis."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatconform.paths import specs_dir

SPEC_URI = "urn:chatconform:test-openapi"
ERROR_STATUSES = ("400", "401", "403", "404", "429", "500", "503")
OPERATIONS = {
    "createChatCompletion": ("post", "/chat/completions"),
    "getChatCompletion": ("get", "/chat/completions/{completion_id}"),
    "getChatCompletionMessages": ("get", "/chat/completions/{completion_id}/messages"),
    "listChatCompletions": ("get", "/chat/completions"),
    "updateChatCompletion": ("post", "/chat/completions/{completion_id}"),
    "deleteChatCompletion": ("delete", "/chat/completions/{completion_id}"),
    "listModels": ("get", "/models"),
    "retrieveModel": ("get", "/models/{model}"),
}
SEED_IDS = {"000", "001", "002", "003", "004"}
# Required-but-nullable keys whose absence is graded, not failed outright: schema, property, requirement, level.
PRESENCE_POLICY = [
    ("ChatCompletionResponseMessage", "content", "response.message-content-key", "MUST"),
    ("ChatCompletionResponseMessage", "refusal", "response.message-refusal-key", "SHOULD"),
    ("ChatCompletionChoice", "logprobs", "response.choice-logprobs-key", "SHOULD"),
    ("ChatCompletionStreamChoice", "finish_reason", "stream.finish-reason-key", "SHOULD"),
    ("Error", "param", "error.param-key", "SHOULD"),
    ("Error", "code", "error.code-key", "SHOULD"),
    ("ChatCompletionTokenLogprob", "bytes", "logprobs.bytes-key", "SHOULD"),
]
# Discrepancies (spec-notes IDs) the spec must decide somewhere.
DECIDED = {
    "D01", "D02", "D03", "D05", "D06", "D07", "D08", "D12", "D13", "D14", "D15", "D17",
    "D19", "D20", "D21", "E01", "E02", "E05", "P03", "P04", "R01", "R02",
}  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with open(specs_dir() / "openapi.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"]


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every node of the document with its path, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_is_a_valid_openapi_3_1_document(spec):
    assert spec["openapi"] == "3.1.0"
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_null_is_spelled_as_a_type_never_nullable(spec):
    # A property may legitimately be *named* "nullable"; the keyword may not appear anywhere else.
    offenders = [
        "/".join(map(str, path))
        for path, node in walk(spec)
        if isinstance(node, dict) and "nullable" in node and (not path or path[-1] != "properties")
    ]
    assert offenders == []


def test_operations_are_exactly_the_documented_ones(spec):
    found = {
        op["operationId"]: (method, path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert found == OPERATIONS


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_every_operation_documents_the_error_responses(spec, operation_id):
    method, path = OPERATIONS[operation_id]
    responses = spec["paths"][path][method]["responses"]
    for status in ERROR_STATUSES:
        assert status in responses, f"{operation_id} lacks {status}"
        response = deref(spec, responses[status])
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (operation_id, status)
        assert "x-request-id" in response["headers"], (operation_id, status)
        if status in ("429", "503"):
            assert "Retry-After" in response["headers"], (operation_id, status)
    assert "x-request-id" in responses["200"]["headers"]


def test_create_links_to_the_stored_completion_operations(spec):
    links = spec["paths"]["/chat/completions"]["post"]["responses"]["200"]["links"]
    assert {name: link["operationId"] for name, link in links.items()} == {
        "GetCompletion": "getChatCompletion",
        "GetCompletionMessages": "getChatCompletionMessages",
    }
    for link in links.values():
        assert link["parameters"] == {"completion_id": "$response.body#/id"}


def test_presence_annotations_are_well_formed_and_only_on_required_keys(spec):
    seen = 0
    for path, node in walk(spec):
        if not (isinstance(node, dict) and isinstance(node.get("properties"), dict)):
            continue
        for name, prop in node["properties"].items():
            if not isinstance(prop, dict) or "x-when-absent" not in prop:
                continue
            seen += 1
            where = "/".join(map(str, (*path, "properties", name)))
            rule = prop["x-when-absent"]
            assert rule.get("level") in {"MUST", "SHOULD"}, where
            assert re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)+", str(rule.get("requirement", ""))), where
            assert str(rule.get("reason", "")).strip(), where
            assert name in node.get("required", []), f"{where} is annotated but not required"
    assert seen >= len(PRESENCE_POLICY)


@pytest.mark.parametrize(("schema", "prop", "requirement", "level"), PRESENCE_POLICY)
def test_required_nullable_keys_carry_their_presence_policy(schemas, schema, prop, requirement, level):
    node = schemas[schema]
    assert prop in node["required"]
    rule = node["properties"][prop]["x-when-absent"]
    assert (rule["requirement"], rule["level"]) == (requirement, level)


def test_request_properties_name_their_seeds(schemas):
    request = schemas["CreateChatCompletionRequest"]
    assert request["additionalProperties"] is False
    assert set(request["required"]) == {"model", "messages"}
    for name, prop in request["properties"].items():
        sources = prop.get("x-source")
        assert sources and set(sources) <= SEED_IDS, f"{name}: x-source {sources!r}"


def test_every_required_discrepancy_is_decided(spec):
    decided: set[str] = set()
    for _, node in walk(spec):
        if isinstance(node, dict) and isinstance(node.get("x-decision"), dict):
            decision = node["x-decision"]
            assert decision.get("winner") and decision.get("reason"), decision
            ids = decision.get("discrepancy", [])
            decided.update([ids] if isinstance(ids, str) else ids)
    assert all(re.fullmatch(r"[DREP][0-9]{2}", i) for i in decided), decided
    assert DECIDED <= decided, sorted(DECIDED - decided)


def test_every_default_satisfies_its_own_schema(spec):
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    checked = 0
    for path, node in walk(spec["components"]["schemas"], ("components", "schemas")):
        # A `properties` map holds names, not keywords: a property called "default" is not one.
        if isinstance(node, dict) and "default" in node and path[-1] != "properties":
            pointer = "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)
            validator = Draft202012Validator({"$ref": f"{SPEC_URI}#/{pointer}"}, registry=registry)
            errors = [e.message for e in validator.iter_errors(node["default"])]
            assert errors == [], f"{pointer}: default {node['default']!r}"
            checked += 1
    assert checked


# --------------------------------------------------------------------------- schemathesis


@pytest.fixture(scope="module")
def st_schema():
    schemathesis = pytest.importorskip("schemathesis")
    return schemathesis.openapi.from_path(str(specs_dir() / "openapi.yaml"))


def test_schemathesis_loads_every_operation(st_schema):
    operations = [result.ok() for result in st_schema.get_all_operations()]
    assert sorted(op.definition.raw["operationId"] for op in operations) == sorted(OPERATIONS)


def test_schemathesis_follows_the_links(st_schema):
    machine = st_schema.as_state_machine()
    rules = [name for name in dir(machine) if name.startswith("POST_chat_completions")]
    assert any("GetCompletion__" in rule for rule in rules), rules
    assert any("GetCompletionMessages" in rule for rule in rules), rules


def _sse(*datas: str) -> httpx.Response:
    body = "".join(f"data: {data}\n\n" for data in datas).encode()
    response = httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=body,
        request=httpx.Request("POST", "http://127.0.0.1:8765/v1/chat/completions"),
    )
    response.read()
    response.elapsed = datetime.timedelta(0)
    return response


CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": None}],
}
USAGE_CHUNK = {**CHUNK, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def test_schemathesis_accepts_a_well_formed_stream(st_schema):
    operation = st_schema["/chat/completions"]["POST"]
    operation.validate_response(_sse(json.dumps(CHUNK), json.dumps(USAGE_CHUNK), "[DONE]"))


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({**CHUNK, "object": "text_completion"}),
        json.dumps({**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "done"}]}),
        "not json",
        "[done]",
    ],
    ids=["wrong-object", "bad-finish-reason", "not-json", "sentinel-case"],
)
def test_schemathesis_rejects_a_bad_event(st_schema, data):
    operation = st_schema["/chat/completions"]["POST"]
    with pytest.raises(BaseException) as caught:  # schemathesis raises a failure or a FailureGroup
        operation.validate_response(_sse(data, "[DONE]"))
    assert "violates schema" in str(caught.value)
