"""The SDK suite passes on the reference server, fails the right sdk.* requirement on every fault
that breaks the official OpenAI SDK as a client, accepts legal variations, and calls a store
without list / update / delete unsupported instead of passing it.

Each fault below was checked by hand to break the SDK itself (the exception it raises is named),
not merely to violate a requirement another suite judges.
"""

import pytest

from tests.fakes import json_reply, reference_proxy
from tests.harness import API_KEY, run_suite

pytest.importorskip("openai")

SUITE = "suites/test_sdk.py"

# fault -> (sdk.* requirements it must fail, sdk.* requirements it must warn)
SDK_BREAKING = {
    # the .stream() helper indexes tool_calls by delta index: TypeError: list indices must be integers ... not NoneType
    "tool-call-delta-without-index": ({"sdk.stream-helper-consumes"}, set()),
    # the helper asserts chunk.object == "chat.completion.chunk": AssertionError
    "chunk-object-wrong": ({"sdk.stream-helper-consumes"}, set()),
    # Stream.__iter__ json-decodes every event: JSONDecodeError in the iterator and in the helper
    "malformed-json-event": ({"sdk.stream-iterator-consumes", "sdk.stream-helper-consumes"}, set()),
    # a 200 stream carrying the validation error: openai.APIError, not BadRequestError
    "in-band-validation-error": ({"sdk.error-bad-request"}, set()),
    # arguments as an object: json.loads() raises TypeError, parse() raises pydantic ValidationError
    "tool-arguments-object": ({"sdk.tool-round-trip", "sdk.parse-tool-arguments"}, set()),
    # a 403 for a wrong key: openai.PermissionDeniedError, which `except AuthenticationError` misses
    "auth-failure-403": ({"sdk.error-authentication"}, set()),
    # a bare list for the messages: SyncCursorPage construction raises AttributeError
    "stored-messages-bare-list": ({"sdk.stored-messages"}, set()),
    # {"error": "<message>"}: still BadRequestError, but .param is None
    "error-as-string": (set(), {"sdk.error-param"}),
}


def test_the_sdk_suite_is_clean_on_the_reference_server():
    run = run_suite(SUITE)
    run.assert_clean()
    assert len(run.outcome("passed")) >= 20, run.summary()


@pytest.mark.parametrize("fault", sorted(SDK_BREAKING))
def test_a_fault_that_breaks_the_sdk_fails_its_requirement(fault):
    failing, warned = SDK_BREAKING[fault]
    run = run_suite(SUITE, args=(f"--reference-fault={fault}",))
    if failing:
        run.assert_fails(failing, warned)
    else:  # a SHOULD alone: the run passes with the warning
        assert run.returncode == 0 and warned <= run.warned_requirements(), run.summary()
    # what the SDK raised (or returned) is what was received, with the exchange to reproduce it
    for verdict in run.verdicts:
        if verdict.requirement in failing | warned and verdict.outcome in ("fail", "warning"):
            assert verdict.received and verdict.where, verdict
            assert any(e.curl.startswith("curl ") for e in verdict.exchanges), verdict
    broken = [v for v in run.verdicts if v.outcome == "error"]
    assert not broken, [(v.test, v.reason) for v in broken]  # every failure is a verdict, none a suite error
    assert API_KEY not in run.output


def test_legal_variations_do_not_trouble_the_sdk():
    variations = ("unknown-extra-fields", "optional-fields-null", "whole-tool-call-in-one-delta",
                  "finish-reason-with-last-token", "split-network-reads", "keep-alive-comments")
    run = run_suite(SUITE, args=tuple(f"--reference-variation={v}" for v in variations))
    run.assert_clean()


def test_a_429_then_success_is_retried_like_the_rest_of_the_suite():
    run = run_suite(SUITE, args=("--reference-variation=rate-limited-then-success",
                                 "-k", "create_returns or iterator"))
    run.assert_clean()


def _without_choices(payload, req):
    if req.method == "POST" and isinstance(payload, dict) and "choices" in payload and not (req.json() or {}).get("n"):
        del payload["choices"]
    return payload


REMOTE = ("--profile=reference",)  # a fake proxies the reference server, with its capabilities


def test_a_completion_without_choices_fails_create_parses():
    from chatconform.reference.config import ServerConfig

    run = run_suite(SUITE, against=reference_proxy(body=_without_choices, server_config=ServerConfig(api_key=API_KEY)),
                    args=(*REMOTE, "-k", "create_returns"))
    run.assert_fails({"sdk.create-parses"})


def _store_without_list_update_delete(inner):
    """Retrieval and messages are served; list, update and delete are 405, as on servers that
    implement only what seed 003 documents."""

    def handle(req):
        path = req.path.split("?")[0]
        listing = req.method == "GET" and path.endswith("/chat/completions")
        changing = req.method in ("POST", "DELETE") and "/chat/completions/" in path
        if listing or changing:
            return json_reply({"detail": "Method Not Allowed"}, status=405)
        return inner(req)

    return handle


def test_a_store_without_list_update_delete_is_unsupported_not_passed():
    from chatconform.reference.config import ServerConfig

    handler = _store_without_list_update_delete(reference_proxy(server_config=ServerConfig(api_key=API_KEY)))
    run = run_suite(SUITE, against=handler, args=(*REMOTE, "-k", "stored or list or update or delete"))
    assert run.returncode == 0 and not run.failed, run.summary()
    assert "store" in run.unsupported(), run.summary()
    for rid in ("sdk.stored-list", "sdk.stored-update", "sdk.stored-delete"):
        assert run.verdict_of(rid) == "unsupported", (rid, run.summary())
    for rid in ("sdk.stored-retrieve", "sdk.stored-messages"):
        assert run.verdict_of(rid) == "pass", (rid, run.summary())


def test_only_the_runs_key_is_billed_through_the_sdk_transport():
    """A request the SDK sends with another key (the wrong-key test) is free: with the run's billed
    completions spent it is still sent, while one more with the run's key is held back."""
    from chatconform.checks.sdk import Recorder, http_client
    from chatconform.client import Auth, Client, ClientSettings
    from tests.fakes import FakeServer

    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 16}
    with FakeServer(reference_proxy()) as url:
        run = Client(url, Auth("bearer", API_KEY), ClientSettings(max_billed=1))
        assert run.chat(body).status == 200  # the one billed completion
        recorder = Recorder()
        wrong = http_client(run, recorder, {"Authorization": "Bearer sk-some-other-key"})
        assert wrong.post(f"{url}/chat/completions", json=body).status_code == 200  # sent: not the run's key
        own = http_client(run, recorder, {"Authorization": f"Bearer {API_KEY}"})
        with pytest.raises(Exception, match="billed"):
            own.post(f"{url}/chat/completions", json=body)
    assert [e.attempts for e in recorder.exchanges] == [1, 0]
