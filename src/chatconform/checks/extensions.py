"""Vendor extensions the documents describe: extra response fields, reasoning, vendor request fields.

All of them are optional; which ones a server has is recorded. The request-side ones are exercised
only where the profile declares them (its `extensions` and `conventions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import spec
from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import require_success
from .responses import choices, completion_body

# where each object of a completion sits, and the spec schema that declares its fields
_LEVELS = (("", "CreateChatCompletionResponse"), ("choices[]", "ChatCompletionChoice"),
           ("choices[].message", "ChatCompletionResponseMessage"), ("usage", "CompletionUsage"))
_REASONING_BLOCK = re.compile(r"^\s*<(think|thinking|reasoning)>", re.I)
REASONING_FIELDS = ("reasoning", "reasoning_content")


def _declared(schema_name: str) -> tuple[set[str], set[str]]:
    """(standard property names, documented extension names) of a spec schema."""
    properties = spec.resolve(f"#/components/schemas/{schema_name}").get("properties", {})
    extensions = {n for n, p in properties.items() if isinstance(p, dict) and p.get("x-extension")}
    return set(properties) - extensions, extensions


def _objects_at(body: dict[str, Any], where: str) -> list[Any]:
    if where == "":
        return [body]
    if where == "usage":
        return [body.get("usage")]
    found = [c for c in body.get("choices") or [] if isinstance(c, dict)]
    if where == "choices[].message":
        found = [c.get("message") for c in found]
    return found


def vendor_fields(body: Any) -> dict[str, list[str]]:
    """Fields beyond the OpenAI schema: {"documented": [...], "unknown": [...]}, as dotted paths.

    Documented ones are the vendor fields the seed documents describe (x-extension in the spec).
    """
    out: dict[str, list[str]] = {"documented": [], "unknown": []}
    if not isinstance(body, dict):
        return out
    for where, schema_name in _LEVELS:
        standard, extensions = _declared(schema_name)
        for obj in _objects_at(body, where):
            if not isinstance(obj, dict):
                continue
            for name in obj:
                path = f"{where}.{name}" if where else name
                if name in extensions and path not in out["documented"]:
                    out["documented"].append(path)
                elif name not in standard and name not in extensions and path not in out["unknown"]:
                    out["unknown"].append(path)
    return out


@check("ext.reasoning-separate")
def reasoning_separate(exchange: Exchange) -> None:
    """Reasoning, where a server returns it, is a string field of its own, never a block in content."""
    requirement = "ext.reasoning-separate"
    for choice in choices(exchange, requirement):
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        where = f"choice {choice.get('index')}"
        text = message.get("content")
        if isinstance(text, str) and _REASONING_BLOCK.match(text):
            raise ConformanceFailure(requirement, "reasoning in a separate field, not inside content",
                                     text, exchange, where=where)
        for name in REASONING_FIELDS:
            if message.get(name) is not None and not isinstance(message[name], str):
                raise ConformanceFailure(requirement, f"message.{name}: a string (or null)",
                                         repr(message[name]), exchange, where=where)


def reasoning_fields(exchange: Exchange) -> list[str]:
    """Which reasoning fields the response fills, for the record."""
    try:
        body = exchange.json()
        messages = [c.get("message") or {} for c in body.get("choices") or []]
    except (ValueError, AttributeError):
        return []
    return sorted({name for m in messages if isinstance(m, dict) for name in REASONING_FIELDS if m.get(name)})


def _accepted(requirement: str) -> Any:
    def accepted(exchange: Exchange) -> None:
        """The request carrying the extension was answered (2xx with choices)."""
        choices(exchange, requirement)

    accepted.__name__ = requirement.split(".", 1)[1].replace("-", "_")
    return check(requirement)(accepted)  # registered under its own name, not "accepted"


top_k_accepted = _accepted("ext.top-k-accepted")
model_vendor_prefix = _accepted("ext.model-vendor-prefix")
developer_name_convention = _accepted("ext.developer-name-convention")
vendor_request_field = _accepted("ext.vendor-request-fields")


@check("ext.data-sources")
def grounded_with_citations(exchange: Exchange) -> None:
    """A data_sources request is answered, and the answer carries message.context with citations."""
    requirement = "ext.data-sources"
    require_success(exchange, requirement)
    completion_body(exchange, requirement)
    for choice in choices(exchange, requirement):
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        context = message.get("context")
        if not (isinstance(context, dict) and isinstance(context.get("citations"), list)):
            raise ConformanceFailure(requirement, "message.context with a citations list on a grounded answer",
                                     repr(context), exchange, where=f"choice {choice.get('index')}")


def _values_at(body: Any, path: str) -> list[tuple[str, Any]]:
    """(concrete path, value) at a profile extension path such as `choices[].content_filter_results`
    (`[]`: every element), where present."""
    nodes: list[tuple[str, Any]] = [("", body)]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nodes = [(f"{where}.{key}" if where else key, node[key]) for where, node in nodes
                 if isinstance(node, dict) and key in node]
        if many:
            nodes = [(f"{where}[{n}]", item) for where, node in nodes if isinstance(node, list)
                     for n, item in enumerate(node)]
    return nodes


@check("ext.declared-field-schema")
def declared_fields_valid(exchange: Exchange, declared: Mapping[str, Any], bodies: list[Any] | None = None) -> int:
    """Every field the profile declares (`declared`: path -> chatconform.profiles.Extension) fits
    its schema in `bodies` (default: the exchange's JSON body). Returns how many values were
    judged; undeclared fields are not looked at."""
    requirement = "ext.declared-field-schema"
    if bodies is None:
        bodies = [completion_body(exchange, requirement)]
    judged = 0
    for n, body in enumerate(bodies):
        for path, extension in declared.items():
            for where, value in _values_at(body, path):
                judged += 1
                problems = extension.errors(value)
                if problems:
                    chunk = f"chunk #{n}: " if len(bodies) > 1 else ""
                    raise ConformanceFailure(requirement, f"{where} valid against the profile's schema for {path}",
                                             "; ".join(problems[:3]), exchange, where=chunk + where)
    return judged
