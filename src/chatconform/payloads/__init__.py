"""The requests the suites send: as small as a request can be, so a vendor run costs cents.

Prompts ask the model to repeat a few words after a colon. Real models do that reliably, and the
reference server answers such prompts the same way, so one expectation fits both.
"""

from __future__ import annotations

import copy
import re
from typing import Any

ECHO_WORDS = "alpha beta gamma delta"
ECHO_PROMPT = f"Repeat exactly, nothing else: {ECHO_WORDS}"
MAX_TOKENS = 16  # enough for the echo, small enough to be cheap
CAPPED_TOKENS = 2  # the echo needs 4+ tokens, so this cap must cut it
STOP = ["gamma"]  # occurs in the echo, so a stop sequence must end it early
# A check that needs the model to produce something (a stop sequence, more tokens than a cap) first
# sends the baseline, as repeatable as a request can be, then the baseline with one parameter changed.
BASELINE_SEED = 424242
DETERMINISTIC = {"temperature": 0, "seed": BASELINE_SEED}


def minimal(model: str, **overrides: Any) -> dict[str, Any]:
    """The smallest valid request; ``overrides`` change (or, with value ``...``, remove) one parameter."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": ECHO_PROMPT}],
        "max_completion_tokens": MAX_TOKENS,
    }
    for key, value in overrides.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = copy.deepcopy(value)
    return body


def streamed(model: str, include_usage: bool | None = None, **overrides: Any) -> dict[str, Any]:
    body = minimal(model, stream=True, **overrides)
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    return body


def baseline(model: str, **overrides: Any) -> dict[str, Any]:
    """The minimal request made deterministic (temperature 0 and a fixed seed); ``overrides`` change
    one parameter, so a reply that differs from the baseline's differs because of that parameter."""
    return minimal(model, **{**DETERMINISTIC, **overrides})


def cap_below(needed: int | None) -> int | None:
    """A token cap that must cut a reply of ``needed`` tokens: CAPPED_TOKENS, or fewer for a model
    whose baseline is shorter (a tiny model at temperature 0 may say two tokens and stop); None when
    no cap can cut it (a reply of one token, or no baseline)."""
    if needed is None or needed < 2:
        return None
    return min(CAPPED_TOKENS, needed - 1)


def baseline_streamed(model: str, include_usage: bool | None = None, **overrides: Any) -> dict[str, Any]:
    return streamed(model, include_usage, **{**DETERMINISTIC, **overrides})


_WORD = re.compile(r"[^\W\d_]{3,}")


def pick_stop_word(content: str) -> str | None:
    """A stop sequence the model is known to produce: a later word of its own baseline reply.

    Never the first word (the text before the stop must be non-empty to be judged) and, when there
    are enough words, not the last (a reply cut by the cap may end inside a word); the word's first
    occurrence in the content is the word itself, so the stop point is unambiguous. None when the
    reply offers no such word."""
    matches = list(_WORD.finditer(content))
    later = matches[1:-1] if len(matches) >= 3 else matches[1:]
    candidates = [m.group() for m in later if content.find(m.group()) == m.start()]
    return candidates[len(candidates) // 2] if candidates else None
