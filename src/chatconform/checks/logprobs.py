"""Token log probabilities: the shape of choices[].logprobs.content and what its numbers may be."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .responses import SCHEMA, choices, completion_body, content
from .schema import check_presence


def _requested_top(exchange: Exchange) -> int:
    request = exchange.request_json if isinstance(exchange.request_json, dict) else {}
    top = request.get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) else 0


def token_entries(exchange: Exchange, requirement: str, *, strict: bool = False
                  ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, token entry, its choice) for every entry of every choice's logprobs.content.

    With ``strict``, a choice without a logprobs.content array fails ``requirement`` (the request
    asked for log probabilities); otherwise such a choice is left to logprobs.content-shape.
    """
    for choice in choices(exchange, requirement):
        where = f"choice {choice.get('index')}"
        logprobs = choice.get("logprobs")
        entries = logprobs.get("content") if isinstance(logprobs, dict) else None
        if not isinstance(entries, list):
            if strict:
                raise ConformanceFailure(requirement, "choices[].logprobs.content: an array (logprobs were requested)",
                                         f"logprobs={logprobs!r}", exchange, where=where)
            continue
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict):
                if strict:
                    raise ConformanceFailure(requirement, "token entries as objects", repr(entry), exchange,
                                             where=f"{where}, content[{n}]")
                continue
            yield f"{where}, content[{n}]", entry, choice


@check("logprobs.content-shape")
def content_shape(exchange: Exchange) -> None:
    requirement = "logprobs.content-shape"
    for where, entry, _choice in token_entries(exchange, requirement, strict=True):
        wrong = []
        if not isinstance(entry.get("token"), str):
            wrong.append(f"token={entry.get('token')!r}")
        logprob = entry.get("logprob")
        if isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            wrong.append(f"logprob={logprob!r}")
        if not isinstance(entry.get("top_logprobs"), list):
            wrong.append(f"top_logprobs={entry.get('top_logprobs')!r}")
        if wrong:
            raise ConformanceFailure(requirement, "token (string), logprob (number), top_logprobs (array)",
                                     ", ".join(wrong), exchange, where=where)


def _alternatives(entry: dict[str, Any]) -> list[Any]:
    value = entry.get("top_logprobs")
    return value if isinstance(value, list) else []


@check("logprobs.bytes-key")
def bytes_key(exchange: Exchange) -> None:
    requirement = "logprobs.bytes-key"
    check_presence(completion_body(exchange, requirement), SCHEMA, requirement, exchange)
    for where, entry, _choice in token_entries(exchange, requirement):
        for label, item in [("", entry)] + [(f".top_logprobs[{k}]", a) for k, a in enumerate(_alternatives(entry))]:
            value = item.get("bytes") if isinstance(item, dict) else None
            ok = value is None or (isinstance(value, list) and all(
                isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value))
            if not ok:
                raise ConformanceFailure(requirement, "bytes: an array of byte values (0..255) or null",
                                         repr(value), exchange, where=where + label)


@check("logprobs.logprob-non-positive")
def logprob_non_positive(exchange: Exchange) -> None:
    requirement = "logprobs.logprob-non-positive"
    for where, entry, _choice in token_entries(exchange, requirement):
        for label, item in [("", entry)] + [(f".top_logprobs[{k}]", a) for k, a in enumerate(_alternatives(entry))]:
            value = item.get("logprob") if isinstance(item, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # a missing or non-numeric logprob is logprobs.content-shape's failure
            if not math.isfinite(value) or value > 0:
                raise ConformanceFailure(requirement, "a finite logprob <= 0", repr(value), exchange,
                                         where=where + label)


@check("logprobs.top-logprobs-count")
def top_logprobs_count(exchange: Exchange) -> None:
    """At most the requested number of alternatives; at least one when one or more were requested."""
    requirement = "logprobs.top-logprobs-count"
    requested = _requested_top(exchange)
    for where, entry, _choice in token_entries(exchange, requirement):
        got = len(_alternatives(entry))
        if got > requested or (requested >= 1 and got < 1):
            expected = f"1..{requested} entries" if requested else "no entries"
            raise ConformanceFailure(requirement, f"top_logprobs with {expected} (top_logprobs={requested})",
                                     f"{got} entries", exchange, where=where)


@check("logprobs.tokens-concatenate")
def tokens_concatenate(exchange: Exchange) -> None:
    """Compared as bytes where every entry gives them: tokens may split a character between them."""
    requirement = "logprobs.tokens-concatenate"
    for choice in choices(exchange, requirement):
        logprobs = choice.get("logprobs")
        entries = logprobs.get("content") if isinstance(logprobs, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            continue  # logprobs.content-shape's failure
        text = content(choice)
        if entries and all(isinstance(e.get("bytes"), list) for e in entries):
            joined = bytes(b for e in entries for b in e["bytes"] if isinstance(b, int) and 0 <= b <= 255)
            same = joined == text.encode("utf-8")
            shown = joined.decode("utf-8", "replace")
        else:
            shown = "".join(e.get("token") if isinstance(e.get("token"), str) else "" for e in entries)
            same = shown == text
        if not same:
            raise ConformanceFailure(requirement, f"tokens that concatenate to the content {text!r}", repr(shown),
                                     exchange, where=f"choice {choice.get('index')}")


@check("logprobs.absent-unrequested")
def absent_unrequested(exchange: Exchange) -> None:
    requirement = "logprobs.absent-unrequested"
    for choice in choices(exchange, requirement):
        if choice.get("logprobs") is not None:
            raise ConformanceFailure(requirement, "logprobs null or absent when not requested",
                                     choice.get("logprobs"), exchange, where=f"choice {choice.get('index')}")
