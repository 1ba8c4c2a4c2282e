"""A non-streamed chat.completion: schema validity and what its fields say about each other.

Every test here reuses one cached exchange (the ``completion`` fixture) unless it needs a
request of its own (n, a token cap, a stop sequence). Those that need the model to produce
something first send the deterministic baseline (temperature 0 and a seed) and change one
parameter of it: the cap is set below what the baseline used (payloads.cap_below), the stop
sequence is a later word of the baseline's own reply (payloads.pick_stop_word). When the model does not oblige, the requirement is not judged.
"""

import pytest

from chatconform import payloads
from chatconform.checks import headers, responses
from chatconform.failures import NotJudged

requirement = pytest.mark.requirement


@pytest.fixture
def capped(client, target, shared, baseline):
    """(the baseline with only the token cap changed, to fewer tokens than its reply took; the cap),
    or (None, None) when no cap can cut the baseline's reply."""
    cap = payloads.cap_below(responses.tokens_needed(baseline))
    if cap is None:
        return None, None
    # the cap as written: a target seen to ignore it must not be rescued by an added max_tokens here
    return shared(f"baseline.capped={cap}", lambda: client.chat(
        payloads.baseline(target.model, max_completion_tokens=cap), cap_as_written=True)), cap


@pytest.fixture
def stopped(client, target, shared, baseline):
    """The baseline with only a stop sequence added: a later word of the baseline's own reply."""
    try:
        text = baseline.json()["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        text = ""
    word = payloads.pick_stop_word(text) if isinstance(text, str) else None
    if word is None:
        return None
    return shared(f"baseline.stop={word}", lambda: client.chat(payloads.baseline(target.model, stop=[word])))


def _no_stop_word(requirement_id, baseline):
    return NotJudged(requirement_id, f"the baseline reply offers no later word to stop at: {baseline.excerpt(200)}",
                     baseline)


@requirement("response.schema")
def test_response_is_valid_against_the_schema(completion):
    responses.schema(completion)


@requirement("header.json-content-type")
def test_response_is_json(completion):
    headers.json_content_type(completion)


@requirement("response.object-chat-completion")
def test_object_is_chat_completion(completion):
    responses.object_is_chat_completion(completion)


@requirement("response.id-present")
def test_id_is_present(completion):
    responses.id_present(completion)


@requirement("response.model-present")
def test_model_is_present(completion):
    responses.model_present(completion)


@requirement("response.created-unix-seconds")
def test_created_is_integer_unix_seconds(completion):
    responses.created_unix_seconds(completion)


@requirement("response.usage-present")
def test_usage_is_present(completion):
    responses.usage_present(completion)


@requirement("response.usage-total-consistent")
def test_usage_total_is_the_sum(completion):
    responses.usage_total_consistent(completion)


@requirement("response.finish-reason-enum")
def test_finish_reason_is_in_the_enum(completion):
    responses.finish_reason_enum(completion)


@requirement("response.message-content-key")
def test_message_carries_content(completion):
    responses.message_content_key(completion)


@requirement("response.message-refusal-key")
def test_message_carries_refusal_key(completion):
    responses.message_refusal_key(completion)


@requirement("response.choice-logprobs-key")
def test_choice_carries_logprobs_key(completion):
    responses.choice_logprobs_key(completion)


@requirement("response.choice-indices-distinct")
def test_single_choice_has_index_zero(completion):
    responses.choice_indices(completion)


def _uncappable(requirement_id, baseline):
    return NotJudged(requirement_id, f"no cap can cut the baseline reply: {baseline.excerpt(200)}", baseline)


@requirement("response.finish-reason-length")
def test_token_cap_gives_finish_reason_length(capped, baseline):
    exchange, cap = capped
    if exchange is None:
        raise _uncappable("response.finish-reason-length", baseline)
    responses.finish_reason_length(exchange, baseline, cap)


@requirement("response.max-tokens-respected")
def test_token_cap_bounds_completion_tokens(capped, baseline):
    exchange, cap = capped
    if exchange is None:
        raise _uncappable("response.max-tokens-respected", baseline)
    responses.max_tokens_respected(exchange, cap, baseline)


@requirement("response.stop-excluded")
def test_stop_sequence_is_not_in_the_output(stopped, baseline):
    if stopped is None:
        raise _no_stop_word("response.stop-excluded", baseline)
    responses.stop_excluded(stopped, baseline=baseline)


@requirement("response.finish-reason-stop")
def test_stop_sequence_gives_finish_reason_stop(stopped, baseline):
    if stopped is None:
        raise _no_stop_word("response.finish-reason-stop", baseline)
    responses.finish_reason_stop(stopped, baseline)


@requirement("response.n-choices")
@pytest.mark.capability("n")
def test_n_gives_n_choices(n_completion):
    responses.n_choices(n_completion, 2)


@requirement("response.choice-indices-distinct")
@pytest.mark.capability("n")
def test_n_choices_have_indices_0_to_n_minus_1(n_completion):
    responses.choice_indices(n_completion)
