"""Stateful property tests: schemathesis follows the links of specs/openapi.yaml.

A scenario creates a completion with store: true, then retrieves it and lists its messages by the
id the create returned (the spec's links), now and then trying an id that was never issued. A
retrieval must return the completion as created; an unknown id must give 404.

The state machine is built when the test runs, not at collection. Every scenario creates a
completion, billed by a vendor: against --base-url the test runs fuzz.REMOTE_BILLED_EXAMPLES
scenarios (the embedded server, fuzz.EXAMPLES), unless --fuzz-examples says otherwise.
"""

import pytest

from chatconform.fuzz import stateful

requirement = pytest.mark.requirement


@requirement("stored.retrieve-same", "stored.messages-list-envelope", "stored.messages-match-request",
             "stored.unknown-id-404", "request.standard-parameters-accepted", "header.request-id",
             "header.json-content-type", "response.schema", "response.usage-total-consistent",
             "response.finish-reason-enum", "response.choice-indices-distinct", "response.n-choices",
             "response.max-tokens-respected", "response.stop-excluded", "error.envelope", "error.message-string",
             "error.content-type-json", "header.request-id-on-errors")
@pytest.mark.capability("store")
def test_stored_completions_follow_the_links(fuzz):
    stateful.run(fuzz)
