"""The requests the suites send: as small as a request can be, so a vendor run costs cents.

Prompts ask the model to repeat a few words after a colon. Real models do that reliably, and the
reference server answers such prompts the same way, so one expectation fits both.
"""

from __future__ import annotations

import copy
from typing import Any

ECHO_WORDS = "alpha beta gamma delta"
ECHO_PROMPT = f"Repeat exactly, nothing else: {ECHO_WORDS}"
MAX_TOKENS = 16  # enough for the echo, small enough to be cheap
CAPPED_TOKENS = 2  # the echo needs 4+ tokens, so this cap must cut it
STOP = ["gamma"]  # occurs in the echo, so a stop sequence must end it early


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
