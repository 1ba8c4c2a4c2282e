"""The stored-completions suite fails on wrong retrievals with the right requirement, waits for a
store that is slow to show a completion, and calls a server without the endpoints unsupported."""

from tests.fakes import json_reply, reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_stored_completions.py"
NEVER_ISSUED = "chatcmpl-chatconform-never-issued"


def _is_listing(req):
    return req.method == "GET" and req.path.split("?")[0].endswith("/messages")


def _different_completion_and_wrong_envelope(payload, req):
    if req.method != "GET" or "error" in payload:
        return payload
    if _is_listing(req):
        return {"messages": payload["data"]}  # not the list envelope
    payload["choices"][0]["message"]["content"] = "a different answer"
    return payload


def _unknown_ids_answered_400_and_unstored_ones_200(inner):
    def handle(req):
        reply = inner(req)
        if req.method == "GET" and reply.status == 404:
            if NEVER_ISSUED in req.path:
                return json_reply({"error": {"message": "bad id", "type": "invalid_request_error", "param": None,
                                             "code": None}}, status=400)
            return json_reply({"id": req.path.rsplit("/", 1)[-1], "object": "chat.completion", "created": 1,
                               "model": "m", "choices": []})  # as if every completion were stored
        return reply

    return handle


def test_wrong_retrievals_fail_with_their_requirements():
    handler = _unknown_ids_answered_400_and_unstored_ones_200(
        reference_proxy(body=_different_completion_and_wrong_envelope))
    run = run_suite(SUITE, against=handler)
    assert run.returncode == 1, run.summary()
    expected = {"stored.retrieve-same", "stored.messages-list-envelope", "stored.messages-match-request",
                "stored.unknown-id-404"}
    assert expected <= run.failed_requirements(), (expected - run.failed_requirements(), run.summary())
    assert "stored.retrieve-not-stored-404" in run.warned_requirements(), run.summary()


def _slow_store(inner):
    """The first read of each stored completion answers 404, as a store that lags behind would."""
    seen = set()

    def handle(req):
        path = req.path.split("?")[0]
        by_id = not path.endswith("/chat/completions")  # the list itself does not lag
        if req.method == "GET" and by_id and NEVER_ISSUED not in path and path not in seen:
            seen.add(path)
            return json_reply({"error": {"message": "not found yet", "type": "invalid_request_error", "param": None,
                                         "code": None}}, status=404)
        return inner(req)

    return handle


def _extra_fields(payload, req):
    if req.method == "GET" and "error" not in payload:
        payload["x_vendor"] = {"stored_at": 1}
        for message in payload.get("data") or []:
            message["created_at"] = 1
        if "data" in payload and _is_listing(req):  # the reply listed after the input, as llama-stack does
            payload["data"].append({"id": "reply-1", "role": "assistant", "content": "alpha beta gamma delta"})
    return payload


def test_a_lagging_store_and_extra_fields_are_accepted():
    run = run_suite(SUITE, against=_slow_store(reference_proxy(body=_extra_fields)))
    run.assert_clean()


def _no_retrieval_endpoints(inner):
    def handle(req):
        if req.method == "GET":
            return json_reply({"detail": "Not Found"}, status=404)  # a framework's default, not an API error
        return inner(req)

    return handle


def test_a_server_without_the_endpoints_lacks_the_store_capability():
    run = run_suite(SUITE, against=_no_retrieval_endpoints(reference_proxy()))
    run.assert_clean()
    assert run.unsupported() == {"store"}, run.summary()
