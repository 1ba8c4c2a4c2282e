"""The reference server a run without ``--base-url`` starts, with throwaway keys for each role."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import pytest

from ..embedded import EmbeddedServer
from ..target import Target


def start_embedded(config: pytest.Config, target: Target) -> tuple[Any, Target]:
    """Start the server for ``target``'s profile; the target it returns points at it."""
    api_key = "cc-ref-" + secrets.token_urlsafe(18)
    restricted_key = "cc-ref-restricted-" + secrets.token_urlsafe(12)
    probe_key = "cc-ref-limited-" + secrets.token_urlsafe(12)
    extra = [f"--restricted-api-key={restricted_key}", f"--rate-limited-api-key={probe_key}", "--rate-limit=3"]
    extra += [f"--fault={f}" for f in config.getoption("cc_reference_faults")]
    extra += [f"--variation={v}" for v in config.getoption("cc_reference_variations")]
    profile = target.profile
    server = EmbeddedServer(api_key, models=[target.model], extra_args=extra,
                            profile=None if profile.name == "reference" else profile.name)
    base_url = server.start().rstrip("/")  # the server announces its profile's base path
    # the emulation requires what the vendor requires (a gateway's deployment header): send the
    # profile's example values unless --header gave the user's own
    headers = {**{k: v for k, v in profile.header_examples.items() if k in profile.required_headers},
               **target.headers}
    return server, replace(target, base_url=base_url, api_key=api_key, restricted_api_key=restricted_key,
                           rate_limit_probe=probe_key, headers=headers)
