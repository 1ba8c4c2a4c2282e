"""Sampling controls a client can verify from outside: seed reproducibility and a forcing logit_bias."""

from __future__ import annotations

from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .responses import choices, completion_body, content


def fingerprints_differ(first: Exchange, second: Exchange) -> tuple[Any, Any] | None:
    """Both system_fingerprints when they differ: the documents tie determinism to an unchanged backend."""
    try:
        a, b = first.json().get("system_fingerprint"), second.json().get("system_fingerprint")
    except (ValueError, AttributeError):
        return None
    return (a, b) if isinstance(a, str) and isinstance(b, str) and a != b else None


@check("request.seed-determinism")
def same_content(first: Exchange, second: Exchange) -> None:
    requirement = "request.seed-determinism"
    a = [content(c) for c in choices(first, requirement)]
    b = [content(c) for c in choices(second, requirement)]
    if a != b:
        raise ConformanceFailure(requirement, f"the same content for the same seed: {a!r}", repr(b), second)


def _generated_tokens(body: dict[str, Any]) -> int | None:
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    total = usage.get("completion_tokens")
    if isinstance(total, bool) or not isinstance(total, int):
        return None
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return total - reasoning if isinstance(reasoning, int) else total


def _periodic(text: str, count: int | None) -> bool:
    """text is one unit repeated: ``count`` times when the token count is known, else any number >= 2."""
    if count:
        return len(text) % count == 0 and text == text[: len(text) // count] * count
    return any(len(text) % p == 0 and text == text[:p] * (len(text) // p) for p in range(1, len(text) // 2 + 1))


@check("request.logit-bias-honoured")
def forced_token_only(exchange: Exchange) -> str | None:
    """A +100 bias on one token makes it the only token generated: the answer is that token repeated.

    The token's text is never assumed (ids are vendor-specific); only the repetition is judged, with
    whitespace removed because tokenizers attach word-boundary spaces differently. Returns why the
    answer could not be judged, or None when it was.
    """
    requirement = "request.logit-bias-honoured"
    body = completion_body(exchange, requirement)
    count = _generated_tokens(body)
    for choice in choices(exchange, requirement):
        text = content(choice)
        compact = "".join(text.split())
        if not compact:
            return f"the answer {text!r} has no visible characters (the forced token may be whitespace)"
        if (count is not None and count < 2) or len(compact) < 2:
            return f"only {count if count is not None else len(compact)} token(s) generated: {text!r}"
        if not _periodic(compact, count if len(choices(exchange, requirement)) == 1 else None):
            shown = f"{text!r} ({count} tokens)" if count is not None else repr(text)
            raise ConformanceFailure(requirement, "one token repeated at every position (logit_bias +100 on it)",
                                     shown, exchange)
    return None
