"""Every OpenAI Chat Completions request parameter is either in specs/openapi.yaml or knowingly omitted.

Reads the public OpenAI spec from outside the repository (`<repo>/../shared/reference/`, or the folder
named by CHATCONFORM_REFERENCE_DIR) and skips when it is not there: nothing at runtime depends on it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatconform.paths import specs_dir

REFERENCE_ENV = "CHATCONFORM_REFERENCE_DIR"
REFERENCE_FILE = "openai-openapi.yaml"
REQUEST_SCHEMA = "CreateChatCompletionRequest"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def reference_path() -> Path:
    override = os.environ.get(REFERENCE_ENV)
    base = Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    return base / REFERENCE_FILE


def _load(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


def request_properties(schemas: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Property names of a schema, following $ref and allOf (the way OpenAI composes its request)."""
    if "$ref" in schema:
        return request_properties(schemas, schemas[schema["$ref"].rsplit("/", 1)[-1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= request_properties(schemas, part)
    return names


@pytest.fixture(scope="module")
def openai_properties() -> set[str]:
    path = reference_path()
    if not path.is_file():
        pytest.skip(f"public OpenAI spec not found at {path} (set {REFERENCE_ENV} to its folder)")
    # Only the request schemas are walked; the parse itself (3 MB) is the slow part, hence the C loader.
    schemas = _load(path)["components"]["schemas"]
    names = request_properties(schemas, schemas[REQUEST_SCHEMA])
    assert {"model", "messages"} <= names, "the reference no longer looks like OpenAI's request schema"
    return names


@pytest.fixture(scope="module")
def our_request() -> dict[str, Any]:
    return _load(specs_dir() / "openapi.yaml")["components"]["schemas"][REQUEST_SCHEMA]


@pytest.fixture(scope="module")
def omitted() -> dict[str, Any]:
    return _load(specs_dir() / "omitted-parameters.yaml")["parameters"]


def test_every_openai_parameter_is_specified_or_omitted(openai_properties, our_request, omitted):
    unaccounted = openai_properties - set(our_request["properties"]) - set(omitted)
    assert not unaccounted, f"add to specs/openapi.yaml or specs/omitted-parameters.yaml: {sorted(unaccounted)}"


def test_nothing_is_both_specified_and_omitted(our_request, omitted):
    assert not set(our_request["properties"]) & set(omitted)


def test_omissions_are_current_openai_parameters_with_reasons(openai_properties, omitted):
    assert not set(omitted) - openai_properties, "stale entries in specs/omitted-parameters.yaml"
    for name, entry in omitted.items():
        assert str((entry or {}).get("reason", "")).strip(), f"{name} has no reason"


def test_parameters_openai_lacks_are_marked_as_extensions(openai_properties, our_request):
    unmarked = [
        name
        for name, prop in our_request["properties"].items()
        if name not in openai_properties and prop.get("x-extension") is not True
    ]
    assert not unmarked, f"not OpenAI parameters, so they need x-extension: true: {unmarked}"
