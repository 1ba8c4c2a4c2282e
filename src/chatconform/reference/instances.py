"""Deterministic JSON instances of a JSON Schema, for tool arguments and json_schema replies.

Supports the keywords tool and response schemas use in practice: type (incl. lists), object
properties/required/additionalProperties, array items/prefixItems/minItems/maxItems/uniqueItems,
enum, const, string minLength/maxLength/format (and pattern, from stock samples), number and integer bounds (inclusive, exclusive,
multipleOf), anyOf/oneOf/allOf, and local $ref into $defs/definitions. Values depend only on the
schema and a caller-supplied salt, so the same request always gets the same instance.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import jsonschema

from chatconform.reference.tokens import VOCABULARY

_MAX_DEPTH = 12
_FORMATS = {
    "date": "2024-01-02",
    "date-time": "2024-01-02T03:04:05Z",
    "time": "03:04:05Z",
    "email": "river@example.com",
    "uri": "https://example.com/river",
    "url": "https://example.com/river",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
}


_PATTERN_SAMPLES = ("river", "ABC", "abc", "123", "A1", "a1", "1", "a", "A", "2024-01-02", "03:04", "12345",
                    "+15550100", "AB12", "abc-123", "abc_def", "ABC123", "0", "x", "en-US", "USD", "EUR")


def _pick(salt: str, path: str, modulus: int) -> int:
    digest = hashlib.sha256(f"{salt}\x00{path}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % modulus


class _Generator:
    def __init__(self, root: Any, salt: str, all_properties: bool):
        self.root = root
        self.salt = salt
        self.all_properties = all_properties

    def resolve(self, schema: Any, depth: int) -> Any:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < _MAX_DEPTH:
            ref = schema["$ref"]
            if not ref.startswith("#"):
                return {}
            target: Any = self.root
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    return {}
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, dict) and siblings else target
            depth += 1
        return schema

    def value(self, schema: Any, path: str, depth: int) -> Any:
        schema = self.resolve(schema, depth)
        if schema is True or not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return self.string({}, path)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list):
            merged = dict(schema)
            del merged["allOf"]
            for part in schema["allOf"]:
                part = self.resolve(part, depth)
                if isinstance(part, dict):
                    for key, val in part.items():
                        if key in ("properties",) and isinstance(merged.get(key), dict):
                            merged[key] = {**merged[key], **val}
                        elif key == "required" and isinstance(merged.get(key), list):
                            merged[key] = list(dict.fromkeys(merged[key] + list(val)))
                        else:
                            merged.setdefault(key, val)
            return self.value(merged, path, depth + 1)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k != key}
                ordered = sorted(branches, key=lambda b: _is_null_schema(self.resolve(b, depth)))
                return self.value({**rest, **self.resolve(ordered[0], depth)}, path, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            kind = non_null[0] if non_null else "null"
        if kind is None:
            kind = _infer_type(schema)
        if kind == "object":
            return self.object(schema, path, depth)
        if kind == "array":
            return self.array(schema, path, depth)
        if kind == "integer":
            return self.number(schema, path, integer=True)
        if kind == "number":
            return self.number(schema, path, integer=False)
        if kind == "boolean":
            return _pick(self.salt, path, 2) == 0
        if kind == "null":
            return None
        return self.string(schema, path)

    def object(self, schema: dict, path: str, depth: int) -> dict:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        names = list(properties) if self.all_properties else [n for n in properties if n in required]
        names += [r for r in required if r not in names]
        result = {}
        for name in names:
            sub = properties.get(name)
            if sub is None:
                extra = schema.get("additionalProperties")
                sub = extra if isinstance(extra, dict) else {}
            result[name] = self.value(sub, f"{path}.{name}", depth + 1)
        minimum = schema.get("minProperties", 0)
        extra = schema.get("additionalProperties", True)
        filler = 0
        while len(result) < minimum and extra is not False:
            name = f"{VOCABULARY[_pick(self.salt, f'{path}#{filler}', len(VOCABULARY))]}_{filler}"
            result[name] = self.value(extra if isinstance(extra, dict) else {"type": "string"},
                                      f"{path}.{name}", depth + 1)
            filler += 1
        return result

    def array(self, schema: dict, path: str, depth: int) -> list:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        low = max(schema.get("minItems", 1), len(prefix))
        if isinstance(schema.get("maxItems"), int):
            low = min(low, schema["maxItems"])
        if items is False:
            low = min(low, len(prefix))
        unique = bool(schema.get("uniqueItems"))
        result: list = []
        attempt = 0
        while len(result) < low and attempt < low + 16:
            sub = prefix[attempt] if attempt < len(prefix) else items
            value = self.value(sub, f"{path}[{attempt}]", depth + 1)
            attempt += 1
            if unique and attempt > len(prefix) and value in result:
                continue  # another salt usually gives another value; enum/const items may run out
            result.append(value)
        return result

    def number(self, schema: dict, path: str, integer: bool) -> int | float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        ex_low = schema.get("exclusiveMinimum")
        ex_high = schema.get("exclusiveMaximum")
        step = schema.get("multipleOf")
        if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
            bump = 1 if integer else (step or 0.5)
            low = ex_low + bump if low is None else max(low, ex_low + bump)
        if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
            bump = 1 if integer else (step or 0.5)
            high = ex_high - bump if high is None else min(high, ex_high - bump)
        if low is None and high is None:
            value: float = 1 + _pick(self.salt, path, 99)
        elif low is None:
            value = high
        elif high is None:
            value = low + _pick(self.salt, path, 9)
        else:
            value = low + (high - low) / 2
        if isinstance(step, (int, float)) and step > 0:
            value = math.ceil(value / step) * step
            if high is not None and value > high:
                value -= step
        if integer:
            if isinstance(low, (int, float)):
                return int(max(math.ceil(low), math.floor(value)))
            return int(math.floor(value))
        return float(value)

    def string(self, schema: dict, path: str) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return self.patterned(schema, pattern)
        start = _pick(self.salt, path, len(VOCABULARY))
        words = [VOCABULARY[(start + k * 7) % len(VOCABULARY)] for k in range(2)]
        text = " ".join(words)
        minimum = schema.get("minLength", 0)
        maximum = schema.get("maxLength")
        while len(text) < minimum:
            text += " " + VOCABULARY[(start + len(text)) % len(VOCABULARY)]
        if isinstance(maximum, int) and len(text) > maximum:
            text = text[:maximum].rstrip() or text[:maximum]
        return text


    def patterned(self, schema: dict, pattern: str) -> str:
        """No regex inversion here: the first stock value the pattern accepts, if any."""
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        try:
            regex = re.compile(pattern)
        except re.error:
            return _PATTERN_SAMPLES[0]
        for sample in _PATTERN_SAMPLES + tuple(_FORMATS.values()):
            if regex.search(sample) and len(sample) >= low and (high is None or len(sample) <= high):
                return sample
        return _PATTERN_SAMPLES[0]


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _infer_type(schema: dict) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def instance_for(schema: Any, salt: str) -> Any:
    """An instance of schema; tries every declared property, then only the required ones.

    Returns the first candidate that validates. If none does (schemas with pattern, not, or
    if/then the generator does not model), `{}` is returned when the schema accepts it, and the
    full candidate otherwise: a model's tool arguments are not guaranteed valid either.
    """
    if schema is None or schema is True or schema == {}:
        schema = {"type": "object"}
    validator = jsonschema.Draft202012Validator(schema)
    candidates = [_Generator(schema, salt, all_properties=flag).value(schema, "$", 0)
                  for flag in (True, False)]
    for candidate in candidates:
        if validator.is_valid(candidate):
            return candidate
    if validator.is_valid({}):
        return {}
    return candidates[0]
