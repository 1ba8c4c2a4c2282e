"""Keeping secrets out of everything chatconform records: attachments, messages, curl lines, reports."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie", "set-cookie"})
_AUTH_SCHEME = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9._~+/-]*\s+)\S.*$", re.S)


class Redactor:
    """Masks the secret values it knows of, wherever they appear, and every credential header."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._public: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add_public(self, value: str) -> None:
        """A credential the suite made up on purpose (a deliberately wrong key): safe to show."""
        if value not in self._secrets:
            self._public.add(value)

    def add(self, secret: str | None) -> None:
        # very short strings would mask ordinary words; no real key is that short
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value

    def bytes(self, value: bytes) -> bytes:
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret.encode("utf-8", "replace"), MASK.encode())
        return value

    def header(self, name: str, value: str) -> str:
        if name.lower() in SECRET_HEADERS and not any(value.endswith(p) for p in self._public):
            # keep the scheme ("Bearer") so a reader can still tell which auth style was used
            match = _AUTH_SCHEME.match(value)
            return f"{match.group(1)}{MASK}" if match else MASK
        return self.text(value)

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        return [(name, self.header(name, value)) for name, value in items]
