"""Log probabilities: requested with logprobs true and top_logprobs 2 on the echo prompt, absent otherwise."""

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import logprobs
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.plugin.concurrency import declare, uses

requirement = pytest.mark.requirement
pytestmark = uses(declare("logprobs.top2", lambda client, target: client.chat(fp.logprobs_request(target.model))))


@pytest.fixture
def logprobs_exchange(client, target, shared):
    """The shared logprobs exchange, or unsupported if the target refused the parameters."""
    exchange = shared("logprobs.top2")
    unsupported_if_rejected(exchange, "logprobs", "logprobs")
    unsupported_if_rejected(exchange, "logprobs", "top_logprobs")
    return exchange


@requirement("logprobs.content-shape")
@pytest.mark.capability("logprobs")
def test_content_entries_have_token_logprob_and_top_logprobs(logprobs_exchange):
    logprobs.content_shape(logprobs_exchange)


@requirement("logprobs.bytes-key")
@pytest.mark.capability("logprobs")
def test_entries_carry_bytes(logprobs_exchange):
    logprobs.bytes_key(logprobs_exchange)


@requirement("logprobs.logprob-non-positive")
@pytest.mark.capability("logprobs")
def test_logprobs_are_finite_and_not_positive(logprobs_exchange):
    logprobs.logprob_non_positive(logprobs_exchange)


@requirement("logprobs.top-logprobs-count")
@pytest.mark.capability("logprobs")
def test_top_logprobs_holds_at_most_the_requested_number(logprobs_exchange):
    logprobs.top_logprobs_count(logprobs_exchange)


@requirement("logprobs.tokens-concatenate")
@pytest.mark.capability("logprobs")
def test_tokens_concatenate_to_the_content(logprobs_exchange):
    logprobs.tokens_concatenate(logprobs_exchange)


@requirement("logprobs.absent-unrequested")
def test_no_logprobs_unless_requested(completion):
    logprobs.absent_unrequested(completion)
