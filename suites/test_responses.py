"""A non-streamed chat.completion: schema validity and what its fields say about each other.

Every test here reuses one cached exchange (the ``completion`` fixture) unless it needs a
request of its own (n, a token cap, a stop sequence).
"""

import pytest

from chatconform import payloads
from chatconform.checks import headers, responses

requirement = pytest.mark.requirement


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


@requirement("response.finish-reason-length")
def test_token_cap_gives_finish_reason_length(capped_completion):
    responses.finish_reason_length(capped_completion)


@requirement("response.max-tokens-respected")
def test_token_cap_bounds_completion_tokens(capped_completion):
    responses.max_tokens_respected(capped_completion, payloads.CAPPED_TOKENS)


@requirement("response.stop-excluded")
def test_stop_sequence_is_not_in_the_output(stopped_completion):
    responses.stop_excluded(stopped_completion, payloads.STOP)


@requirement("response.finish-reason-stop")
def test_stop_sequence_gives_finish_reason_stop(stopped_completion):
    responses.finish_reason_stop(stopped_completion)


@requirement("response.n-choices")
@pytest.mark.capability("n")
def test_n_gives_n_choices(n_completion):
    responses.n_choices(n_completion, 2)


@requirement("response.choice-indices-distinct")
@pytest.mark.capability("n")
def test_n_choices_have_indices_0_to_n_minus_1(n_completion):
    responses.choice_indices(n_completion)
