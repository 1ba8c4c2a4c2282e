"""`chatconform serve --profile NAME`: each profile's paths, auth, required headers, error types
and vendor fields, served through the same Profile object the suite reads."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from chatconform.profiles import load_profile, profile_names
from chatconform.reference.app import create_app
from chatconform.reference.config import ServerConfig
from chatconform.spec import validator

KEY = "sk-test"
MODEL = "openai/gpt-4o"  # fits every profile, vendor-prefixed's model_vendor/model included
MESSAGES = [{"role": "user", "content": "Repeat exactly: alpha beta"}]


def _client(name: str) -> TestClient:
    return TestClient(create_app(ServerConfig(api_key=KEY, profile=name)))


def _headers(profile) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEY}"} if profile.auth_style == "bearer" else {"api-key": KEY}
    headers.update({name: profile.header_examples.get(name, "x") for name in profile.required_headers})
    return headers


def _url(profile, path: str) -> str:
    full = profile.url("http://testserver" + profile.base_path, path, {"model": MODEL, "deployment": "gpt-4o"})
    parts = urlsplit(full)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _values_at(body: dict, path: str) -> list:
    """Values at a dotted extension path (`choices[].message.context`), where present."""
    nodes = [body]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nodes = [n[key] for n in nodes if isinstance(n, dict) and key in n]
        if many:
            nodes = [item for n in nodes if isinstance(n, list) for item in n]
    return nodes


@pytest.mark.parametrize("name", profile_names())
def test_each_profile_serves_a_valid_completion_with_its_fields(name):
    profile = load_profile(name)
    client = _client(name)
    body = {"messages": MESSAGES, "model": MODEL, "store": True}
    if "data_sources" in profile.extensions:
        body["data_sources"] = [{"type": "azure_search", "parameters": {"endpoint": "https://s.invalid",
                                 "index_name": "i", "authentication": {"type": "api_key", "key": "k"}}}]
    if "enable_thinking" in profile.extensions:
        body["enable_thinking"] = True
    response = client.post(_url(profile, "/chat/completions"), json=body, headers=_headers(profile))
    assert response.status_code == 200, response.text
    completion = response.json()
    errors = [e.message for e in validator("CreateChatCompletionResponse").iter_errors(completion)]
    assert errors == []
    assert response.headers[profile.request_id_header]
    for path, extension in profile.extensions.response.items():
        values = _values_at(completion, path)
        assert values, f"{name}: no {path} in {json.dumps(completion)[:300]}"
        for value in values:
            assert extension.errors(value) == [], path


@pytest.mark.parametrize("name", profile_names())
def test_each_profile_streams_valid_chunks(name):
    profile = load_profile(name)
    response = _client(name).post(_url(profile, "/chat/completions"), headers=_headers(profile),
                                  json={"messages": MESSAGES, "model": MODEL, "stream": True})
    assert response.status_code == 200, response.text
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        assert [e.message for e in validator("CreateChatCompletionStreamResponse").iter_errors(chunk)] == []
    assert len({c["id"] for c in chunks}) == 1
    if "prompt_filter_results" in profile.extensions.response:  # Azure's annotation chunk first
        assert chunks[0]["choices"] == [] and chunks[0]["prompt_filter_results"]
        assert profile.extensions.response["prompt_filter_results"].errors(chunks[0]["prompt_filter_results"]) == []
    else:
        assert chunks[0]["choices"]


def test_reference_default_is_unchanged():
    client = TestClient(create_app(ServerConfig(api_key=KEY)))
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                           headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert "prompt_filter_results" not in response.json() and "provider" not in response.json()


def test_azure_takes_the_model_from_the_deployment_and_needs_api_version():
    client = _client("azure")
    ok = client.post("/openai/deployments/my-dep/chat/completions?api-version=2024-10-21",
                     json={"messages": MESSAGES}, headers={"api-key": KEY})
    assert ok.status_code == 200 and ok.json()["model"] == "my-dep"
    assert ok.headers["apim-request-id"] and ok.headers["x-request-id"]
    missing = client.post("/openai/deployments/my-dep/chat/completions", json={"messages": MESSAGES},
                          headers={"api-key": KEY})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "api-version"
    assert client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                       headers={"api-key": KEY}).status_code == 404


def test_gateway_refuses_a_request_without_its_deployment_header():
    client = _client("gateway")
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                           headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "x-deployment-name" and "x-deployment-name" in error["message"]
    assert error["code"] == "missing_required_header"
    ok = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES, "service_tier": "auto"},
                     headers={"Authorization": f"Bearer {KEY}", "x-deployment-name": "d"})
    assert ok.status_code == 200 and ok.json()["service_tier"] == "default"


def test_openai_accepts_only_bearer_and_uses_openai_error_types():
    client = _client("openai")
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, headers={"api-key": KEY})
    assert response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"
    hicap = _client("hicap").post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                                  headers={"Authorization": "Bearer wrong"})
    assert hicap.status_code == 401 and hicap.json()["error"]["type"] == "authentication_error"


def test_hicap_v2_is_served_under_v2_openai_with_its_stored_paths():
    client = _client("hicap-v2")
    created = client.post("/v2/openai/chat/completions", json={"model": "m", "messages": MESSAGES, "store": True},
                          headers={"api-key": KEY})
    assert created.status_code == 200
    cid = created.json()["id"]
    assert client.get(f"/v2/openai/chat/completions/{cid}", headers={"api-key": KEY}).status_code == 200
    assert client.get(f"/v2/openai/chat/completions/{cid}/messages", headers={"api-key": KEY}).status_code == 200
    assert client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES},
                       headers={"api-key": KEY}).status_code == 404


def test_vendor_prefixed_wants_vendor_model_ids():
    client = _client("vendor-prefixed")
    headers = {"Authorization": f"Bearer {KEY}"}
    bare = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}, headers=headers)
    assert bare.status_code == 404 and "model_vendor/model" in bare.json()["error"]["message"]
    ok = client.post("/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": MESSAGES, "top_k": 5},
                     headers=headers)
    assert ok.status_code == 200
    listed = client.get("/v1/models", headers=headers).json()
    assert "openai/gpt-4o" in [m["id"] for m in listed["data"]]
    assert client.get("/v1/models/openai/gpt-4o", headers=headers).json()["owned_by"] == "openai"


def test_models_and_stored_surface_validate_against_the_spec():
    client = TestClient(create_app(ServerConfig(api_key=KEY, models=("m",))))
    headers = {"Authorization": f"Bearer {KEY}"}
    listing = client.get("/v1/models", headers=headers).json()
    assert [e.message for e in validator("ListModelsResponse").iter_errors(listing)] == []
    assert [m["id"] for m in listing["data"]] == ["m"]
    unknown = client.get("/v1/models/nope", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    ids = [client.post("/v1/chat/completions", headers=headers, json={
        "model": "m", "messages": MESSAGES, "store": True, "metadata": {"run": "r", "n": str(n)}}).json()["id"]
        for n in range(3)]
    page = client.get("/v1/chat/completions?metadata[run]=r&limit=2&order=desc", headers=headers).json()
    assert [e.message for e in validator("ChatCompletionList").iter_errors(page)] == []
    assert [c["id"] for c in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    rest = client.get(f"/v1/chat/completions?metadata[run]=r&limit=2&order=desc&after={ids[1]}", headers=headers).json()
    assert [c["id"] for c in rest["data"]] == [ids[0]] and rest["has_more"] is False
    assert client.get("/v1/chat/completions?limit=0", headers=headers).status_code == 400
    assert client.get("/v1/chat/completions?order=up", headers=headers).status_code == 400
    updated = client.post(f"/v1/chat/completions/{ids[0]}", json={"metadata": {"k": "v"}}, headers=headers)
    assert updated.json()["metadata"] == {"k": "v"}
    assert client.post(f"/v1/chat/completions/{ids[0]}", json={}, headers=headers).status_code == 400
    assert client.post(f"/v1/chat/completions/{ids[0]}", json={"metadata": {"k": 1}}, headers=headers).status_code == 400
    deleted = client.delete(f"/v1/chat/completions/{ids[0]}", headers=headers).json()
    assert deleted == {"object": "chat.completion.deleted", "id": ids[0], "deleted": True}
    assert client.get(f"/v1/chat/completions/{ids[0]}", headers=headers).status_code == 404
    assert client.delete(f"/v1/chat/completions/{ids[0]}", headers=headers).status_code == 404
