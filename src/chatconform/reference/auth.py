"""API keys: `Authorization: Bearer <key>` (scheme case-insensitive, RFC 7235) or `api-key: <key>`.

Which headers count is the profile's (`auth.accepted`): under `--profile openai` an api-key
header is not a key at all, as at OpenAI. When both are accepted and sent, Authorization decides. A present but malformed Authorization header
(`Basic ...`, `Bearer` without a token) is a 401 even if api-key would have been fine: the
client's intent is ambiguous, and OpenAI-style servers look at Authorization first.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers

from chatconform.reference.config import ServerConfig
from chatconform.reference.errors import APIError


def _unauthorized(message: str) -> APIError:
    return APIError(401, message, code="invalid_api_key")


def presented_key(headers: Headers, accepted: tuple[str, ...] = ("bearer", "api-key")) -> str:
    authorization = headers.get("authorization") if "bearer" in accepted else None
    if authorization is not None:
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise _unauthorized("Malformed Authorization header: expected 'Authorization: Bearer <API key>'.")
        return parts[1]
    key = (headers.get("api-key") or "").strip() if "api-key" in accepted else ""
    if not key:
        ways = {"bearer": "as 'Authorization: Bearer <API key>'", "api-key": "in an 'api-key' header"}
        raise _unauthorized("You didn't provide an API key. Send it " + " or ".join(ways[a] for a in accepted) + ".")
    return key


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def authenticate(config: ServerConfig, headers: Headers) -> str:
    """The caller's key if it authenticates (permission is checked separately); else APIError(401)."""
    key = presented_key(headers, config.auth_styles)
    for extra in (config.restricted_api_key, config.rate_limited_api_key):
        if extra is not None and _same(key, extra):
            return key
    if config.api_key is not None and not _same(key, config.api_key):
        raise _unauthorized("Incorrect API key provided.")
    return key


def check_permission(config: ServerConfig, key: str) -> None:
    if config.restricted_api_key is not None and _same(key, config.restricted_api_key):
        raise APIError(403, "This API key does not have permission to use this endpoint.",
                       code="insufficient_permissions")
