"""Capability facts are settled once per session, before anything depends on them (issue 11, item 1).

LiteLLM and llama-cpp-python answer the stored-completion routes with their framework's
``404 {"detail": "Not Found"}``. Tests outside the stored suite (the auth and error cases that
use those routes, the property tests' GET operations, the stateful test) used to fail MUST on
those 404s before the run learnt that ``store`` is unsupported.
"""

from chatconform.reference.config import ServerConfig
from tests.fakes import json_reply, reference_proxy
from tests.harness import API_KEY, run_suite

SUITES = ("suites/test_auth.py", "suites/test_errors.py", "suites/test_headers.py", "suites/test_stateful.py",
          "suites/test_stored_completions.py", "suites/test_property_based.py")


def _no_store_routes(inner):
    def handle(req):
        path = req.path.split("?")[0]
        if path.startswith("/v1/chat/completions/") or (req.method == "GET" and path == "/v1/chat/completions"):
            return json_reply({"detail": "Not Found"}, status=404)  # the framework's, not an API error
        return inner(req)

    return handle


def test_a_server_without_stored_routes_is_unsupported_not_failed():
    backend = reference_proxy(server_config=ServerConfig(api_key=API_KEY, models=("fake-model",)))
    run = run_suite(*SUITES, against=_no_store_routes(backend), args=("--fuzz-examples=3",))
    run.assert_clean()
    assert "store" in run.unsupported(), run.summary()
    stored = [v for v in run.verdicts if v.requirement.startswith("stored.")]
    assert stored and {v.outcome for v in stored} == {"unsupported"}, run.summary()
    # the auth cases that need those routes are unsupported too; the others were judged
    assert run.verdict_of("auth.missing-key-401") == "pass", run.summary()
    missing_key = [v for v in run.verdicts if v.requirement == "auth.missing-key-401"]
    assert {v.outcome for v in missing_key} == {"pass", "unsupported"}, run.summary()
