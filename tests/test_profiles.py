"""specs/profiles/*.yaml: valid against specs/profile.schema.json, every citation real, and the
URL templates mapping the suites' canonical paths to each vendor's URLs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatconform.profiles import Profile, load_profile, profile_names, profile_from_dict, validate_profile
from chatconform.requirements import catalogue
from chatconform.spec import load_yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PROFILES = profile_names()
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_the_issue_s_profiles_exist():
    assert {"generic", "reference", "openai", "hicap", "hicap-v2", "azure", "gateway", "servicestack",
            "vendor-prefixed"} <= set(PROFILES)


@pytest.mark.parametrize("name", PROFILES)
def test_profile_is_valid(name):
    raw = load_yaml(f"profiles/{name}.yaml")
    assert raw["name"] == name
    assert validate_profile(raw) == []
    load_profile(name)  # and loads


@pytest.mark.parametrize("name", PROFILES)
def test_levels_name_known_requirements_and_capabilities_are_known(name):
    profile = load_profile(name)
    cat = catalogue()
    assert set(profile.levels) <= {r.id for r in cat}
    assert profile.capabilities <= set(cat.capabilities)


def test_the_validator_catches_an_uncited_document_and_a_bad_level():
    raw = load_yaml("profiles/hicap.yaml")
    raw = {**raw, "levels": {"header.request-id": {"level": "MUST", "reason": "r", "source": {"doc": "999", "quote": "q"}}}}
    assert any("cites '999'" in p for p in validate_profile(raw))
    raw["levels"]["header.request-id"]["level"] = "CRITICAL"
    assert validate_profile(raw)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _sources(node: Any):
    if isinstance(node, dict):
        if "source" in node:
            src = node["source"]
            yield from (src if isinstance(src, list) else [src])
        for value in node.values():
            yield from _sources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _sources(value)


@pytest.mark.parametrize("name", PROFILES)
def test_seed_quotes_occur_and_spec_pointers_resolve(name):
    seeds_dir, reference = SHARED / "seeds", SHARED / "reference"
    if not seeds_dir.is_dir() or not reference.is_dir():
        pytest.skip("shared/seeds or shared/reference not found; citations stay unchecked")
    raw = load_yaml(f"profiles/{name}.yaml")
    specs = {"openai": reference / "openai-openapi.yaml", "azure": reference / "azure-inference.yaml"}
    problems = []
    for source in _sources(raw):
        doc = source["doc"]
        if "quote" in source and re.fullmatch(r"00\d", doc):
            text = _normalise(next(seeds_dir.glob(f"{doc}_*.txt")).read_text(encoding="utf-8"))
            if _normalise(source["quote"]) not in text:
                problems.append(f"seed {doc}: {source['quote']!r}")
        if "pointer" in source and doc in specs:
            node: Any = _spec(specs[doc])
            for part in source["pointer"].split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                node = node[int(key)] if isinstance(node, list) else node.get(key) if isinstance(node, dict) else None
                if node is None:
                    problems.append(f"{doc}: {source['pointer']}")
                    break
    assert problems == []


_SPECS: dict[Path, Any] = {}


def _spec(path: Path) -> Any:
    if path not in _SPECS:
        with open(path, encoding="utf-8") as fh:
            _SPECS[path] = yaml.load(fh, Loader=_Loader)
    return _SPECS[path]


# -- Profile.url -------------------------------------------------------------------------------
AZURE = load_profile("azure")
GENERIC = load_profile("generic")


@pytest.mark.parametrize(("base", "path", "params", "url"), [
    ("https://api.vendor.example/v1", "/chat/completions", {}, "https://api.vendor.example/v1/chat/completions"),
    ("https://h/v1/", "/chat/completions/c%2F1/messages?limit=2&order=desc", {},
     "https://h/v1/chat/completions/c%2F1/messages?limit=2&order=desc"),
    ("https://h/v1?tenant=a", "/models", {}, "https://h/v1/models?tenant=a"),
    ("https://h/v1", "/chat/completions?metadata%5Brun%5D=x&limit=1", {}, "https://h/v1/chat/completions?metadata[run]=x&limit=1"),
])
def test_generic_urls_are_base_plus_path_and_keep_the_base_query(base, path, params, url):
    assert GENERIC.url(base, path, params) == url


@pytest.mark.parametrize(("base", "params", "url"), [
    ("https://r.openai.azure.com", {"model": "gpt-4o"},
     "https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"),
    ("https://r.openai.azure.com/", {"model": "m", "deployment": "prod 1", "api_version": "2025-01-01"},
     "https://r.openai.azure.com/openai/deployments/prod%201/chat/completions?api-version=2025-01-01"),
    # a base typed with its deployment and api-version keeps both
    ("https://r.openai.azure.com/openai/deployments/dep?api-version=2024-06-01", {"model": "m"},
     "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-06-01"),
    ("https://r.openai.azure.com/openai", {"model": "m"},
     "https://r.openai.azure.com/openai/deployments/m/chat/completions?api-version=2024-10-21"),
])
def test_azure_deployment_urls(base, params, url):
    assert AZURE.url(base, "/chat/completions", params) == url


def test_unrouted_paths_go_to_base_plus_path_with_the_base_query():
    assert AZURE.url("https://r/x?k=1", "/models", {"model": "m"}) == "https://r/x/models?k=1"


def test_profile_fields_the_plugin_reads():
    assert AZURE.model_in_path and AZURE.base_path == "" and AZURE.auth_style == "api-key"
    assert AZURE.url_parameters == {"deployment": None, "api_version": "2024-10-21"}
    assert AZURE.levels["request.model-required"] == "not-applicable"
    assert AZURE.levels["request.model-required"].reason and AZURE.levels["request.model-required"].source
    gateway = load_profile("gateway")
    assert list(gateway.required_headers) == ["x-deployment-name"]
    assert gateway.header_examples["x-deployment-name"] == "test-deployment"
    assert load_profile("hicap").levels["header.request-id"] == "MUST"
    assert load_profile("generic").levels["header.request-id"] == "SHOULD"
    assert load_profile("openai").levels["error.type-vocabulary"] == "informational"
    assert "top_k" in load_profile("vendor-prefixed").extensions  # request fields, as a mapping
    assert "choices[].content_filter_results" in load_profile("hicap-v2").extensions.response


def test_extension_schemas_judge_values():
    ext = AZURE.extensions.response["choices[].content_filter_results"]
    assert ext.errors({"hate": {"filtered": False, "severity": "safe"}}) == []
    assert ext.errors({"hate": {"filtered": "no", "severity": "none"}})
    assert ext.errors("flagged")


def test_a_minimal_profile_dict_loads_with_defaults():
    p = profile_from_dict({"name": "x"})
    assert isinstance(p, Profile) and p.base_path == "/v1" and p.auth_styles == ("bearer",) and not p.routes
