"""Streaming: SSE framing, chunk grammar, termination and usage rules.

The raw byte stream is parsed per the WHATWG rules (chatconform.sse), so legal variations
(CRLF, comments, `data:` without the space, events split across reads) are never flagged.
Comparisons between a stream and a non-streamed reply use the deterministic baseline (temperature 0
and a seed) both ways, so two sampled replies are never compared.
"""

import pytest

from chatconform import payloads
from chatconform.checks import streaming
from chatconform.plugin.concurrency import prefetchable

requirement = pytest.mark.requirement
N = 2


@prefetchable
def baseline_stream(client, target):
    """The deterministic baseline (conftest's ``baseline``) streamed."""
    return client.chat(payloads.baseline_streamed(target.model))


@prefetchable
def baseline_stream_with_usage(client, target):
    return client.chat(payloads.baseline_streamed(target.model, include_usage=True))


@prefetchable
def n_stream(client, target):
    return client.chat(payloads.streamed(target.model, n=N, max_completion_tokens=8))


@prefetchable
def invalid_stream(client, target):
    """A streamed request with temperature 3: refused with an HTTP error, or an error inside the stream."""
    return client.chat(payloads.streamed(target.model, temperature=3))


@requirement("stream.content-type")
def test_content_type_is_event_stream(stream):
    streaming.content_type(stream)


@requirement("stream.done-terminates")
def test_stream_ends_with_done(stream):
    streaming.done_terminates(stream)


@requirement("stream.nothing-after-done")
def test_nothing_follows_done(stream):
    streaming.nothing_after_done(stream)


@requirement("stream.chunk-schema")
def test_every_chunk_is_valid_against_the_schema(stream):
    streaming.chunk_schema(stream)


@requirement("stream.chunk-object")
def test_every_chunk_is_a_chat_completion_chunk(stream):
    streaming.chunk_object(stream)


@requirement("stream.single-id")
def test_one_id_across_the_stream(stream):
    streaming.single_id(stream)


@requirement("stream.single-created")
def test_one_created_across_the_stream(stream):
    streaming.single_created(stream)


@requirement("stream.role-first")
def test_role_arrives_in_the_first_delta(stream):
    streaming.role_first(stream)


@requirement("stream.role-first")
def test_role_is_not_repeated(stream):
    streaming.role_not_repeated(stream)


@requirement("stream.finish-reason-key")
def test_chunks_carry_finish_reason_key(stream):
    streaming.finish_reason_key(stream)


@requirement("stream.finish-reason-once")
def test_finish_reason_once_per_choice(stream):
    streaming.finish_reason_once(stream)


@requirement("stream.finish-reason-last")
def test_finish_reason_in_the_last_chunk_of_its_choice(stream):
    streaming.finish_reason_last(stream)


@requirement("stream.finish-reason-enum")
def test_finish_reason_in_the_enum(stream):
    streaming.finish_reason_enum(stream)


@requirement("stream.no-usage-unrequested")
def test_no_usage_without_include_usage(stream):
    streaming.no_usage_unrequested(stream)


@requirement("stream.matches-non-streamed")
def test_streamed_content_matches_non_streamed(baseline_stream, baseline):
    streaming.matches_non_streamed(baseline_stream, baseline)


@requirement("stream.usage-matches-non-streamed")
@pytest.mark.capability("stream_usage")
def test_streamed_usage_matches_non_streamed(baseline_stream_with_usage, baseline):
    streaming.usage_matches_non_streamed(baseline_stream_with_usage, baseline)


@requirement("stream.n-choices-complete")
@pytest.mark.capability("n")
def test_n_choices_each_get_a_role_and_one_finish_reason(n_stream):
    streaming.n_choices_complete(n_stream, N)


@requirement("stream.chunk-schema")
@pytest.mark.capability("n")
def test_n_stream_chunks_are_valid(n_stream):
    streaming.chunk_schema(n_stream)


@requirement("stream.usage-chunk-when-requested")
@pytest.mark.capability("stream_usage")
def test_include_usage_adds_one_usage_chunk_before_done(stream_with_usage):
    streaming.usage_chunk_when_requested(stream_with_usage)


@requirement("stream.usage-chunk-choices-empty")
@pytest.mark.capability("stream_usage")
def test_usage_chunk_has_empty_choices(stream_with_usage):
    streaming.usage_chunk_choices_empty(stream_with_usage)


@requirement("stream.usage-null-otherwise")
@pytest.mark.capability("stream_usage")
def test_other_chunks_carry_usage_null(stream_with_usage):
    streaming.usage_null_otherwise(stream_with_usage)


@requirement("stream.usage-consistent")
@pytest.mark.capability("stream_usage")
def test_streamed_usage_total_is_the_sum(stream_with_usage):
    streaming.usage_consistent(stream_with_usage)


@requirement("stream.chunk-schema")
@pytest.mark.capability("stream_usage")
def test_usage_stream_chunks_are_valid(stream_with_usage):
    streaming.chunk_schema(stream_with_usage)


@requirement("stream.done-terminates")
@pytest.mark.capability("stream_usage")
def test_usage_stream_ends_with_done(stream_with_usage):
    streaming.done_terminates(stream_with_usage)


@requirement("stream.sse-framing")
def test_events_are_well_formed(stream, record):
    streaming.sse_framing(stream)
    stats = stream.stream_stats
    if stats is not None and (stats.comments or stats.line_endings - {"LF"}):
        record.info("stream.sse-framing", f"legal SSE variations seen: {stats.comments} comment lines, "
                                          f"line endings {sorted(stats.line_endings)}")


@requirement("stream.empty-choices-only-usage")
def test_empty_choices_only_on_the_usage_chunk(stream):
    streaming.empty_choices_only_usage(stream)


@requirement("stream.invalid-request-http-error")
def test_invalid_streaming_request_gets_an_http_error(invalid_stream):
    streaming.invalid_request_http_error(invalid_stream)


@requirement("stream.in-band-error-recognisable")
def test_an_error_inside_a_stream_is_recognisable(invalid_stream):
    """Judged where a server reports an error inside a 200 stream (llama.cpp, TGI and OpenRouter do,
    for a request they cannot serve); a server that refuses it with an HTTP error gives nothing to
    judge here (that is stream.invalid-request-http-error's verdict)."""
    streaming.in_band_error_recognisable(invalid_stream)
