"""Property-based tests: schemathesis generates requests from specs/openapi.yaml and every answer
is judged by the same checks the hand-written suites use.

- positive: requests valid against the spec must be accepted with a conforming completion;
- streaming: the same with stream: true, judged by the streaming suite's grammar;
- negative: requests that violate the spec must be refused with 400 and the error envelope,
  never accepted and never answered with a 5xx;
- boundaries: every documented bound, enum, pattern and required property violated once
  (schemathesis' coverage phase: a fixed set, the same on every run).

Generated requests are shaped before they are sent (chatconform.fuzz.shaping): one short message,
a token cap, n <= 2, only the parameters whose capability the target claims. How many examples,
which seed: --fuzz-examples, --fuzz-seed, --no-fuzz-derandomize (README, "Property tests").
"""

import pytest

from chatconform.fuzz import schema as fuzz_schema

requirement = pytest.mark.requirement

ERROR_BODY = ("error.envelope", "error.message-string", "error.content-type-json", "header.request-id-on-errors")
ACCEPTED = ("request.standard-parameters-accepted", "header.request-id")
REFUSED = (
    "error.status-400-invalid", "error.client-error-not-5xx", "request.model-required", "request.messages-required",
    "request.messages-non-empty", "request.role-enum", "request.wrong-type-rejected", "request.temperature-range",
    "request.top-p-range", "request.presence-penalty-range", "request.frequency-penalty-range", "request.n-range",
    "request.top-logprobs-range", "request.logit-bias-range", "request.stop-max-4",
)


def per_operation(kind):
    """One test per operation, named by schemathesis' label ("POST /chat/completions"); its cases
    are generated when it runs, so collection costs nothing (no schemathesis, no hypothesis)."""
    labels = fuzz_schema.operations(kind)
    return pytest.mark.parametrize("operation", labels, ids=labels)


@per_operation("positive")
@requirement(*ACCEPTED, *ERROR_BODY, "response.schema", "header.json-content-type", "response.usage-total-consistent",
             "response.finish-reason-enum", "response.choice-indices-distinct", "response.n-choices",
             "response.max-tokens-respected", "response.stop-excluded")
def test_valid_requests_get_a_conforming_completion(operation, fuzz):
    fuzz.generated("positive", operation)


@per_operation("streaming")
@requirement(*ACCEPTED, *ERROR_BODY, "stream.content-type", "stream.done-terminates", "stream.nothing-after-done",
             "stream.chunk-schema", "stream.chunk-object", "stream.single-id", "stream.single-created",
             "stream.finish-reason-once", "stream.finish-reason-last", "stream.finish-reason-enum",
             "stream.usage-chunk-when-requested", "stream.usage-chunk-choices-empty", "stream.usage-null-otherwise",
             "stream.usage-consistent", "stream.tool-call-index", "stream.tool-call-first-delta-fields")
def test_valid_streamed_requests_get_a_conforming_stream(operation, fuzz):
    fuzz.generated("streaming", operation)


@per_operation("negative")
@requirement(*REFUSED, *ERROR_BODY)
def test_invalid_requests_are_refused(operation, fuzz):
    fuzz.generated("negative", operation)


@per_operation("boundaries")
@requirement(*REFUSED, *ERROR_BODY)
def test_each_documented_constraint_is_enforced(operation, fuzz):
    """A fixed set, not sampled: schemathesis' coverage phase, generated when the test runs, sent
    concurrently (the client's --concurrency bounds what is in flight), then judged in order.

    Against the embedded server every constraint is violated once (~180 requests, free). Against
    --base-url each kind of constraint of each top-level parameter is violated once (~95): the
    variants dropped repeat the question (a missing `role` in each of the 20-odd message shapes,
    every invalid enum of a nested type) and each names the same requirement as the case kept, while
    a vendor answers every one of them, and bills any it wrongly accepts.
    """
    fuzz.boundaries(operation)
