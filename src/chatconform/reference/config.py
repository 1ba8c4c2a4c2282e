"""How a reference server instance behaves; built by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass

# Without --rate-limit the headers still report a window; it is merely too large to run out.
NOMINAL_REQUESTS_PER_MINUTE = 10_000
TOKENS_PER_MINUTE = 1_000_000


@dataclass(frozen=True)
class ServerConfig:
    api_key: str | None = None              # None: any non-empty key authenticates
    restricted_api_key: str | None = None   # authenticates, but may do nothing (403)
    models: tuple[str, ...] | None = None   # None: any model string is accepted
    rate_limit_rpm: int | None = None       # None: never answers 429
    rate_limited_api_key: str | None = None  # authenticates; if set, rate_limit_rpm applies to it alone
    max_body_bytes: int = 1 << 20
    context_tokens: int = 4096              # prompt + completion cap: longer is refused, as OpenAI does
    store_capacity: int = 10_000            # stored completions kept, oldest dropped first
    faults: tuple[str, ...] = ()            # catalogue entries to inject (chatconform.reference.faults)
    variations: tuple[str, ...] = ()        # legal variations to show, from the same catalogue
    profile: str = "reference"              # specs/profiles/<name>.yaml: paths, auth, headers, fields

    @property
    def auth_styles(self) -> tuple[str, ...]:
        from chatconform.profiles import load_profile

        return load_profile(self.profile).auth_styles
