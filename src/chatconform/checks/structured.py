"""response_format: JSON mode, JSON Schema (Structured Outputs), and malformed formats.

A choice cut by the token cap (finish_reason "length") may hold half a JSON document: the documents
say so themselves, so such a choice is not judged.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import require_response
from .responses import choices


def _judged(exchange: Exchange, requirement: str) -> list[tuple[dict[str, Any], Any]]:
    """(choice, its content) for every choice not cut by the token cap."""
    out = []
    for choice in choices(exchange, requirement):
        if choice.get("finish_reason") == "length":
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        out.append((choice, message.get("content")))
    return out


def _parse_object(requirement: str, exchange: Exchange, choice: dict[str, Any], content: Any) -> dict[str, Any]:
    where = f"choice {choice.get('index')}"
    if not isinstance(content, str):
        raise ConformanceFailure(requirement, "message.content: a JSON document as a string", repr(content),
                                 exchange, where=where)
    try:
        value = json.loads(content)
    except ValueError as exc:
        raise ConformanceFailure(requirement, "content that parses as JSON", f"{exc}: {content!r}", exchange,
                                 where=where) from None
    if not isinstance(value, dict):
        raise ConformanceFailure(requirement, "a JSON object", f"a {type(value).__name__}: {content!r}", exchange,
                                 where=where)
    return value


def _schema(exchange: Exchange) -> dict[str, Any]:
    request = exchange.request_json if isinstance(exchange.request_json, dict) else {}
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


@check("structured.json-object")
def json_object(exchange: Exchange) -> None:
    for choice, content in _judged(exchange, "structured.json-object"):
        _parse_object("structured.json-object", exchange, choice, content)


@check("structured.json-schema-valid")
def json_schema_valid(exchange: Exchange) -> None:
    requirement = "structured.json-schema-valid"
    validator = jsonschema.Draft202012Validator(_schema(exchange))
    for choice, content in _judged(exchange, requirement):
        value = _parse_object(requirement, exchange, choice, content)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            path = "".join(f"[{p!r}]" for p in error.absolute_path) or "(root)"
            raise ConformanceFailure(requirement, "content valid against the supplied schema",
                                     f"{content!r}: at {path}: {error.message}", exchange,
                                     where=f"choice {choice.get('index')}")


def _strict_violations(value: Any, schema: Any, path: str) -> list[str]:
    """Required properties missing, and properties the schema does not allow, at every object level."""
    if not isinstance(schema, dict):
        return []
    found: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        found += [f"{path}.{name} missing" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            found += [f"{path}.{name} not allowed" for name in value if name not in properties]
        for name, sub in properties.items():
            if name in value:
                found += _strict_violations(value[name], sub, f"{path}.{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for n, item in enumerate(value):
            found += _strict_violations(item, schema["items"], f"{path}[{n}]")
    return found


@check("structured.json-schema-strict")
def json_schema_strict(exchange: Exchange) -> None:
    """Under strict: every required property present, no property the schema leaves out."""
    requirement = "structured.json-schema-strict"
    schema = _schema(exchange)
    for choice, content in _judged(exchange, requirement):
        violations = _strict_violations(_parse_object(requirement, exchange, choice, content), schema, "$")
        if violations:
            raise ConformanceFailure(requirement, "exactly the schema's properties, every required one present",
                                     f"{'; '.join(violations[:5])} in {content!r}", exchange,
                                     where=f"choice {choice.get('index')}")


@check("structured.malformed-format-rejected")
def malformed_rejected(exchange: Exchange) -> None:
    require_response(exchange)
    if exchange.status != 400:
        raise ConformanceFailure("structured.malformed-format-rejected", "HTTP 400 for a malformed response_format",
                                 exchange.excerpt(), exchange)
