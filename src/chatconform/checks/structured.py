"""response_format: JSON mode, JSON Schema (Structured Outputs), and malformed formats.

A choice cut by the token cap (finish_reason "length") may hold half a JSON document: the documents
say so themselves, so such a choice is not judged; when every choice was cut (after the suite's one
retry with a larger cap), the requirement is not judged. Nor is it when the request got no
completion at all: whether a valid response_format is answered or refused properly is
structured.format-answered-or-refused's question.
"""

from __future__ import annotations

import json
from typing import Any


from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response
from .responses import choices


def _answered(exchange: Exchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300


def all_cut(exchange: Exchange) -> bool:
    """A 2xx completion whose every choice was cut by the token cap: nothing in it can be judged."""
    if not _answered(exchange):
        return False
    try:
        found = exchange.json()["choices"]
        return bool(found) and all(isinstance(c, dict) and c.get("finish_reason") == "length" for c in found)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _judged(exchange: Exchange, requirement: str) -> list[tuple[dict[str, Any], Any]]:
    """(choice, its content) for every choice not cut by the token cap; NotJudged when none is left,
    or when the request got no completion."""
    require_response(exchange)
    if not _answered(exchange):
        raise NotJudged(requirement, f"no completion to judge: {exchange.excerpt(200)} (see "
                                     "structured.format-answered-or-refused)", exchange)
    out = []
    for choice in choices(exchange, requirement):
        if choice.get("finish_reason") == "length":
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        out.append((choice, message.get("content")))
    if not out:
        raise NotJudged(requirement, "every choice was cut by the token cap (finish_reason length): a partial "
                                     "document proves nothing", exchange)
    return out


def _error_text(exchange: Exchange) -> str:
    try:
        body = exchange.json()
    except ValueError:
        return exchange.text[:500]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('param')} {error.get('message')}"
    return str(error if error is not None else body)[:500]


@check("structured.format-answered-or-refused")
def answered_or_refused(exchange: Exchange) -> None:
    """A valid JSON response_format gets a completion, or a 4xx that says it is response_format (or
    the format's type) the server will not take; never a 5xx, which clients retry forever."""
    requirement = "structured.format-answered-or-refused"
    require_response(exchange)
    if _answered(exchange):
        return
    request = exchange.request_json if isinstance(exchange.request_json, dict) else {}
    kind = str((request.get("response_format") or {}).get("type") or "response_format")
    if 400 <= exchange.status < 500 and any(name in _error_text(exchange) for name in ("response_format", kind)):  # type: ignore[operator]
        return
    raise ConformanceFailure(requirement, f"a completion, or a 4xx refusal naming response_format or {kind!r}",
                             exchange.excerpt(), exchange)


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
    import jsonschema  # on first use: importing it costs a tenth of a second of every start-up

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
