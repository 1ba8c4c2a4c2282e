"""API keys: `Authorization: Bearer <key>` (scheme case-insensitive, RFC 7235) or `api-key: <key>`.

When both headers are sent, Authorization decides. A present but malformed Authorization header
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


def presented_key(headers: Headers) -> str:
    authorization = headers.get("authorization")
    if authorization is not None:
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise _unauthorized("Malformed Authorization header: expected 'Authorization: Bearer <API key>'.")
        return parts[1]
    key = (headers.get("api-key") or "").strip()
    if not key:
        raise _unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <API key>' "
                            "or in an 'api-key' header.")
    return key


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def authenticate(config: ServerConfig, headers: Headers) -> str:
    """The caller's key if it authenticates (permission is checked separately); else APIError(401)."""
    key = presented_key(headers)
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
