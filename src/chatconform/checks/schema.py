"""Validating bodies against specs/openapi.yaml, telling absent from null from wrong.

A field the spec marks required-but-nullable carries ``x-when-absent: {level, requirement}``:
null always passes, a wrong type fails the schema requirement, and absence is filed under the
field's own requirement at the level the spec decided (with its reason, in the spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import spec
from ..client import Exchange
from ..failures import ConformanceFailure
from .common import path_str

if TYPE_CHECKING:  # jsonschema is imported with the first validator (chatconform.spec)
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True)
class Violation:
    requirement: str | None  # None: the schema requirement of whoever asked
    path: str
    message: str


def _presence_requirement(error: ValidationError) -> list[tuple[str, str | None]]:
    """For a `required` error: each missing property with its x-when-absent requirement (or None)."""
    missing = [p for p in error.validator_value if isinstance(error.instance, dict) and p not in error.instance]
    properties = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    out = []
    for prop in missing:
        policy = properties.get(prop, {}).get("x-when-absent") if isinstance(properties.get(prop), dict) else None
        out.append((prop, policy.get("requirement") if isinstance(policy, dict) else None))
    return out


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """Descend into oneOf/anyOf so a missing field deep in a branch is still recognised as absence."""
    if error.context:
        best: list[ValidationError] = []
        for sub in error.context:
            best += _leaf_errors(sub)
        return best
    return [error]


def violations(instance: Any, schema_name: str) -> list[Violation]:
    if spec.surely_valid(schema_name, instance):  # most bodies are valid: no walk for the detail
        return []
    found: list[Violation] = []
    for error in spec.validator(schema_name).iter_errors(instance):
        leaves = _leaf_errors(error) if error.validator in ("oneOf", "anyOf") else [error]
        only_presence = all(leaf.validator == "required" for leaf in leaves) and leaves
        if error.validator == "required" or (only_presence and error.validator in ("oneOf", "anyOf")):
            for leaf in leaves:
                for prop, requirement in _presence_requirement(leaf):
                    where = path_str([*leaf.absolute_path, prop])
                    found.append(Violation(requirement, where, f"required property {prop!r} is absent"))
            continue
        found.append(Violation(None, path_str(error.absolute_path), error.message))
    return found


def check_schema(
    instance: Any, schema_name: str, requirement: str, exchange: Exchange | None = None, where: str | None = None
) -> None:
    """Fail ``requirement`` on every violation not covered by a presence policy."""
    wrong = [v for v in violations(instance, schema_name) if v.requirement is None]
    if wrong:
        listed = "; ".join(f"{v.path}: {v.message}" for v in wrong[:5])
        more = f" (+{len(wrong) - 5} more)" if len(wrong) > 5 else ""
        raise ConformanceFailure(requirement, f"a body valid against {schema_name}", listed + more, exchange, where=where)


def check_presence(
    instance: Any, schema_name: str, requirement: str, exchange: Exchange | None = None, where: str | None = None
) -> None:
    """Fail ``requirement`` where a field whose absence the spec files under it is absent."""
    absent = [v for v in violations(instance, schema_name) if v.requirement == requirement]
    if absent:
        paths = ", ".join(sorted({v.path for v in absent})[:5])
        raise ConformanceFailure(requirement, "the key present (null is fine)", f"absent at {paths}", exchange, where=where)
