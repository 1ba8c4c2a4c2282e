"""`chatconform probe` drafts a profile from a handful of cheap requests: bounded, and right."""

import yaml

from chatconform.probe import MAX_BILLED, probe
from chatconform.profiles import profile_from_dict, validate_profile
from chatconform.reference.config import ServerConfig
from tests.fakes import FakeServer, json_reply, reference_proxy
from tests.harness import API_KEY


def _drafted(handler, base_suffix=""):
    server = FakeServer(handler)
    with server as url:
        text, found = probe(url.removesuffix("/v1") + base_suffix, API_KEY, "fake-model", "vendor-draft")
    return yaml.safe_load(text), found, server


def test_a_reference_like_server_gets_a_valid_draft_in_a_few_requests():
    draft, found, server = _drafted(reference_proxy(server_config=ServerConfig(api_key=API_KEY)))
    assert validate_profile(draft) == [] and profile_from_dict(draft).name == "vendor-draft"
    assert draft["base_path"] == "/v1" and draft["auth"]["style"] == "bearer"
    assert {"models", "stream_usage", "store", "request_id"} <= set(draft["capabilities"])
    assert len(server.requests) == found.requests <= 12 and found.billed <= MAX_BILLED
    assert all(API_KEY not in str(v) for v in draft.values())


def test_a_server_without_models_or_stored_routes_is_drafted_without_them():
    inner = reference_proxy()

    def bare(req):
        path = req.path.split("?")[0]
        if path.endswith("/models") or path.startswith("/v1/chat/completions/"):
            return json_reply({"detail": "Not Found"}, status=404)
        return inner(req)

    draft, found, _ = _drafted(bare)
    assert "models" not in draft["capabilities"] and "store" not in draft["capabilities"]
    assert "stream_usage" in draft["capabilities"] and found.billed == 2
