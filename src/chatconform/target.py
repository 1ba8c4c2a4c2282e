"""The endpoint under test: where it is, how to authenticate, which model, what it claims to support."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .paths import specs_dir
from .spec import load_yaml

AUTH_STYLES = ("bearer", "api-key")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    base_path: str = "/v1"
    auth_style: str = "bearer"
    capabilities: frozenset[str] = frozenset()
    extensions: dict[str, Any] = field(default_factory=dict)
    conventions: dict[str, Any] = field(default_factory=dict)


def profile_names() -> list[str]:
    return sorted(p.stem for p in (specs_dir() / "profiles").glob("*.yaml"))


@lru_cache(maxsize=None)
def load_profile(name: str) -> Profile:
    path = specs_dir() / "profiles" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; known profiles: {', '.join(profile_names())}")
    raw = load_yaml(f"profiles/{name}.yaml")
    return Profile(
        name=raw["name"],
        description=raw.get("description", ""),
        base_path=raw.get("base_path", "/v1"),
        auth_style=raw.get("auth_style", "bearer"),
        capabilities=frozenset(raw.get("capabilities") or ()),
        extensions=dict(raw.get("extensions") or {}),
        conventions=dict(raw.get("conventions") or {}),
    )


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
