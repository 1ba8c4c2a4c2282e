"""The endpoint under test: where it is, how to authenticate, which model, what it claims to support."""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from urllib.parse import urlsplit

# the profile format lives in the spec layer (the reference server reads it too); re-exported here
from .profiles import AUTH_STYLES, Profile, load_profile, profile_names

__all__ = ["AUTH_STYLES", "Profile", "Target", "load_profile", "profile_names"]

SECRET_HEADER = re.compile(r"key|token|secret|auth|password|cookie|signature|credential", re.I)


@dataclass(frozen=True)
class Target:
    base_url: str
    model: str
    profile: Profile
    auth_style: str = "bearer"
    api_key: str | None = field(default=None, repr=False)  # never printed: see Redactor
    restricted_api_key: str | None = field(default=None, repr=False)  # authenticates without permission (403)
    rate_limit_probe: str | None = field(default=None, repr=False)  # a key with a tiny rate limit (429)
    embedded: bool = False
    capabilities: frozenset[str] = frozenset()
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # --header: sent on every request
    url_parameters: dict[str, str] = field(default_factory=dict)  # model, deployment, api_version

    def url_for(self, path: str) -> str:
        """The vendor's URL for an OpenAI path the suites speak (``/chat/completions``, ...): the
        profile's template decides (Azure deployments, ``?api-version``, a root-mounted server)."""
        url = getattr(self.profile, "url", None)
        if url is None:
            return self.base_url.rstrip("/") + path
        return url(self.base_url, path, self.url_parameters)

    def secret_header_values(self) -> list[str]:
        """Values of --header headers that look like credentials: redacted like the key."""
        return [v for k, v in self.headers.items() if SECRET_HEADER.search(k) and v]

    @property
    def name(self) -> str:
        if self.embedded:
            return "reference"
        return urlsplit(self.base_url).hostname or self.base_url

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def describe(self) -> str:
        where = "embedded reference server" if self.embedded else "remote"
        return (
            f"target {self.base_url} ({where}), model {self.model}, profile {self.profile.name}, "
            f"auth {self.auth_style}"
        )
