"""What `chatconform serve --profile NAME` changes: routes, auth, required headers, error types
and the vendor fields the profile declares, all read from the same Profile the suite uses.

The added fields are fixed, deterministic values that validate against the profile's extension
schemas (tests/reference/test_profiles_server.py checks that for every profile).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from chatconform.profiles import Profile

# One canonical name per operation; the profile maps it to the vendor's URL.
OPERATIONS = {
    "create": "/chat/completions",
    "list": "/chat/completions",
    "completion": "/chat/completions/{completion_id}",
    "messages": "/chat/completions/{completion_id}/messages",
    "models": "/models",
    "model": "/models/{model}",
}

_SAFE = {"filtered": False, "severity": "safe"}
_NOT_DETECTED = {"filtered": False, "detected": False}
PROMPT_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE,
                 "jailbreak": _NOT_DETECTED}
CHOICE_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE,
                 "protected_material_text": _NOT_DETECTED, "protected_material_code": _NOT_DETECTED}
PROVIDER = "chatconform-reference"
CITATION_URL = "https://chatconform.invalid/reference"


def route_path(profile: Profile, canonical: str) -> tuple[str, dict[str, str]]:
    """(Starlette path, required query parameters {name: url parameter}) for one operation.

    `{base}` becomes the profile's base_path, so a server started with `--profile azure` is
    reached at the root the way AzureOpenAI(azure_endpoint=...) builds its URLs."""
    template = profile.routes.get(canonical, "{base}" + canonical)
    path, _, query = template.replace("{base}", profile.base_path).partition("?")
    path = path.replace("{model}", "{model:path}")  # vendor/model ids (seed 004) hold a slash
    required = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        m = re.fullmatch(r"\{([a-z_]+)\}", value)
        required[name] = m.group(1) if m else value
    return path, required


def _response_paths(profile: Profile) -> set[str]:
    return set(profile.extensions.response)


def decorate_completion(profile: Profile, completion: dict, body: dict) -> dict:
    """The completion with the profile's response fields added (a new dict)."""
    fields = _response_paths(profile)
    if not fields:
        return completion
    out = copy.deepcopy(completion)
    if "prompt_filter_results" in fields:
        out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": copy.deepcopy(PROMPT_FILTER)}]
    if "provider" in fields:
        out["provider"] = PROVIDER
    if "policy_detections" in fields:
        out["policy_detections"] = []  # nothing in a deterministic echo trips a guardrail
    if "service_tier" in fields and isinstance(body.get("service_tier"), str):
        # seed 001: the body reports the tier used when one was asked for; "auto" resolves to default
        out["service_tier"] = "default" if body["service_tier"] == "auto" else body["service_tier"]
    for choice in out.get("choices") or []:
        message = choice.get("message") or {}
        if "choices[].content_filter_results" in fields:
            choice["content_filter_results"] = copy.deepcopy(CHOICE_FILTER)
        if "choices[].message.context" in fields and body.get("data_sources"):
            # no search index behind the server: a grounded answer with nothing retrieved
            message["context"] = {"citations": [], "intent": "[]"}
        if "choices[].message.reasoning" in fields and body.get("enable_thinking") is True:
            message["reasoning"] = "The request asks for a reply; the reference server echoes deterministically."
        if "choices[].message.annotations" in fields and isinstance(message.get("content"), str) and message["content"]:
            message["annotations"] = [{"type": "url_citation", "url_citation": {
                "start_index": 0, "end_index": len(message["content"]), "url": CITATION_URL,
                "title": "chatconform reference server"}}]
    return out


def decorate_chunks(profile: Profile, chunks: list[Any], completion: dict) -> list[Any]:
    """Stream chunks with the profile's fields: under a profile with prompt_filter_results, a
    first prompt-annotation chunk with `choices: []` (Azure's, ST-17), and content-filter
    results on every choice entry that carries content."""
    fields = _response_paths(profile)
    if not fields or not chunks:
        return chunks
    out = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            out.append(chunk)
            continue
        chunk = copy.deepcopy(chunk)
        for entry in chunk.get("choices") or []:
            if "choices[].content_filter_results" in fields and (entry.get("delta") or {}).get("content"):
                entry["content_filter_results"] = copy.deepcopy(CHOICE_FILTER)
        if "provider" in fields:
            chunk["provider"] = PROVIDER
        out.append(chunk)
    if "prompt_filter_results" in fields and isinstance(out[0], dict):
        # id, created and model as in the other chunks (real Azure sends "" and 0 there; a client
        # keying on the id would break, and that is not what this emulation is for)
        first = {k: v for k, v in out[0].items() if k != "choices"}
        first["choices"] = []
        first["prompt_filter_results"] = completion.get("prompt_filter_results") or [
            {"prompt_index": 0, "content_filter_results": copy.deepcopy(PROMPT_FILTER)}]
        out.insert(0, first)
    return out


def model_id_problem(profile: Profile, model: str) -> str | None:
    """Why a model id does not fit the profile's convention, or None (seed 004: vendor/model)."""
    if profile.conventions.get("model_id") == "vendor/model" and not re.fullmatch(r"[^/\s]+/\S+", model):
        return (f"The model '{model}' is not of the form model_vendor/model (for example "
                f"{profile.conventions.get('model_vendor', 'openai')}/gpt-4o).")
    return None
