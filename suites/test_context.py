"""The context window (opt-in: capability context_overflow): one prompt a few tokens longer than
the window the profile names must be refused, or cut with finish_reason "length"."""

import pytest

from chatconform import payloads
from chatconform.checks import context
from chatconform.failures import Unsupported

requirement = pytest.mark.requirement
FILLER = "blue"  # one token in every tokenizer in use (and in the reference server's)


@requirement("response.context-overflow-signalled")
@pytest.mark.capability("context_overflow")
def test_a_conversation_longer_than_the_context_is_signalled(client, target):
    window = (target.profile.conventions or {}).get("context_tokens")
    if not isinstance(window, int) or window < 1:
        raise Unsupported("context_overflow", f"profile {target.profile.name} names no conventions.context_tokens")
    prompt = " ".join([FILLER] * (window + 16))
    exchange = client.chat(payloads.minimal(target.model, messages=[{"role": "user", "content": prompt}]))
    context.overflow_signalled(exchange)
