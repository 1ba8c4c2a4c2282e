"""Every profile end to end (issue 10): the whole suite against the reference server emulating
that profile, addressed as a user of that vendor would (its base path, auth, required headers),
passes; pointed at the wrong emulation, the run stops at the pre-flight with the reason."""

from __future__ import annotations

import pytest

from chatconform.embedded import EmbeddedServer
from chatconform.target import load_profile, profile_names
from tests.harness import API_KEY, run_suite

PROFILES = [name for name in profile_names() if name != "reference"]  # the default run covers reference


def _model(profile: str) -> str:
    vendor = (load_profile(profile).conventions or {}).get("model_vendor")
    return f"{vendor}/fake-model" if vendor else "fake-model"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_whole_suite_passes_against_the_profiles_emulation(profile):
    p = load_profile(profile)
    headers = [f"--header={k}: {v}" for k, v in p.header_examples.items() if k in p.required_headers]
    model = _model(profile)
    with EmbeddedServer(API_KEY, models=[model], profile=profile) as server:
        base = server.base_url.rstrip("/")
        base = base.removesuffix(p.base_path) if p.base_path else base  # the bare host a user types
        run = run_suite("suites", base_url=base, model=model, preflight=True,
                        args=(f"--profile={profile}", "--fuzz-examples=3", *headers))
    assert run.returncode == 0, run.summary()
    assert not run.failed_requirements() and not run.warned_requirements(), run.summary()


def test_the_wrong_emulation_stops_at_the_preflight():
    """Hicap's /v2/openai server, addressed as a plain OpenAI-compatible /v1: the wrong path."""
    with EmbeddedServer(API_KEY, models=["fake-model"], profile="hicap-v2") as server:
        host = server.base_url.rstrip("/").removesuffix(load_profile("hicap-v2").base_path)
        run = run_suite("suites/test_responses.py", base_url=host + "/v1", preflight=True, args=("--profile=generic",))
    assert run.returncode == 13, run.summary()
    assert "wrong path" in run.output, run.output[-2000:]
