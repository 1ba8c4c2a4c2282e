"""specs/openapi.yaml as validators: loaded once, every $ref resolvable, shared by server and suite.

Loaded lazily: importing this module costs nothing; the document is parsed on first use and
jsonschema (with its format checkers, about 50 ms) is imported only when a validator is asked for.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from .paths import specs_dir

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry

SPEC_URI = "urn:chatconform:openapi"

try:  # the C loader parses the spec several times faster where libyaml is present
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def load_yaml(name: str) -> Any:
    with open(specs_dir() / name, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


@lru_cache(maxsize=1)
def load_openapi() -> dict[str, Any]:
    return load_yaml("openapi.yaml")


@lru_cache(maxsize=1)
def registry() -> Registry:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load_openapi(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    """A validator for components/schemas/<name>, with the whole document as its $ref scope."""
    from jsonschema import Draft202012Validator

    if name not in load_openapi()["components"]["schemas"]:
        raise KeyError(f"specs/openapi.yaml has no components/schemas/{name}")
    return Draft202012Validator(schema_ref(name), registry=registry())


@lru_cache(maxsize=1)
def _fast_registry() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Registry([(SPEC_URI, load_openapi())])


@lru_cache(maxsize=None)
def fast_validator(name: str) -> Any:
    """The same schema compiled by jsonschema-rs (a schemathesis dependency), or None without it.

    jsonschema walks a chat completion request or response in milliseconds (every oneOf branch of
    every message); jsonschema-rs answers "valid?" in microseconds. Formats are not asserted, as
    jsonschema's validator (no format checker) does not. Its error messages are worded otherwise:
    the reference server's answers and the response checks' failures keep jsonschema's; only the
    property tests' shaping reads an invalid request's errors from it (chatconform.fuzz.shaping)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - installed with schemathesis
        return None
    if name not in load_openapi()["components"]["schemas"]:
        raise KeyError(f"specs/openapi.yaml has no components/schemas/{name}")
    return jsonschema_rs.Draft202012Validator(schema_ref(name), registry=_fast_registry(), validate_formats=False,
                                              offline=True)


def surely_valid(name: str, instance: Any) -> bool:
    """True when jsonschema-rs accepts the instance, so jsonschema would find no error either; False
    means "ask jsonschema" (invalid, or a value it cannot take, such as an integer beyond 64 bits)."""
    fast = fast_validator(name)
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(instance))
    except Exception:  # noqa: BLE001 - a value it cannot convert: jsonschema decides
        return False


def resolve(pointer: str) -> Any:
    """The spec node at a JSON pointer such as '#/components/schemas/Error'."""
    node: Any = load_openapi()
    for part in pointer.lstrip("#/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@lru_cache(maxsize=1)
def info() -> dict[str, Any]:
    """The document's ``info`` object, without parsing the rest of it unless it is parsed already.

    The run header, the run record and the Allure links need only this (the spec version, the
    commits it was cross-checked against): parsing 2,400 lines for it made collection slower.
    The top-level keys before ``info`` ends are parsed on their own (a YAML mapping's value ends
    at the next line that starts in column 0); anything unusual falls back to the whole document.
    """
    if load_openapi.cache_info().currsize:
        return load_openapi().get("info", {}) or {}
    head: list[str] = []
    seen_info = False
    with open(specs_dir() / "openapi.yaml", encoding="utf-8") as fh:
        for line in fh:
            starts_key = line[:1] not in ("", " ", "\t", "#", "\n", "\r")
            if starts_key and seen_info:
                break
            if starts_key and line.startswith("info:"):
                seen_info = True
            head.append(line)
    try:
        data = yaml.load("".join(head), Loader=_Loader) if seen_info else None
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("info"), dict):
        return load_openapi().get("info", {}) or {}
    return data["info"]


def version() -> str:
    return str(info().get("version", "unknown"))
