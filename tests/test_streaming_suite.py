"""The streaming suite fails on broken streams with the right requirement, and accepts legal framings."""

import itertools
import json

import pytest

from tests.fakes import Reply, reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_streaming.py"


def _drop_done(events, req):
    return [e for e in events if e != "[DONE]"]


def _change_id(events, req):
    return [dict(e, id=f"{e['id']}-{n}") if isinstance(e, dict) else e for n, e in enumerate(events)]


@pytest.mark.parametrize(
    "mutation, requirement",
    [(_drop_done, "stream.done-terminates"), (_change_id, "stream.single-id")],
    ids=["no-done", "changing-id"],
)
def test_broken_stream_fails_with_its_requirement(mutation, requirement):
    run = run_suite(SUITE, against=reference_proxy(chunks=mutation))
    assert run.returncode == 1, run.summary()
    assert requirement in run.failed_requirements(), run.summary()


@pytest.mark.parametrize(
    "framing",
    [dict(newline="\r\n"), dict(comment_every=2), dict(no_space=True), dict(read_size=7)],
    ids=["crlf", "keep-alive-comments", "data-without-space", "split-reads"],
)
def test_legal_framing_is_accepted(framing):
    run = run_suite(SUITE, against=reference_proxy(**framing))
    run.assert_clean()


# -- false verdicts of real servers (issue 11) and the requirements they showed were missing ----------
def _usage_key_absent(events, req):
    """LiteLLM's and llama-cpp-python's chunks: no `usage` key at all except on the usage chunk."""
    for event in events:
        if isinstance(event, dict) and event.get("usage") is None:
            event.pop("usage", None)
    return events


def test_an_absent_usage_key_meets_usage_null_otherwise():
    run = run_suite(SUITE, against=reference_proxy(chunks=_usage_key_absent))
    run.assert_clean()
    assert run.verdict_of("stream.usage-null-otherwise") == "pass", run.summary()


def _sampled_unless_deterministic(counter):
    """A real model: without temperature 0 and a seed every reply is another sample."""

    def rewrite(payload, req):
        body = req.json() or {}
        if body.get("temperature") == 0 and body.get("seed") is not None:
            return payload
        n = next(counter)
        for choice in payload.get("choices") or []:
            if "message" in choice:
                choice["message"]["content"] = f"sample {n}"
            elif (choice.get("delta") or {}).get("content"):
                choice["delta"]["content"] = f"sample {n} "
        return payload

    return rewrite


def test_streamed_and_plain_replies_are_compared_deterministic():
    rewrite = _sampled_unless_deterministic(itertools.count())
    run = run_suite(SUITE, against=reference_proxy(body=rewrite, chunks=lambda events, req: [
        rewrite(e, req) if isinstance(e, dict) else e for e in events]))
    run.assert_clean()
    assert run.verdict_of("stream.matches-non-streamed") == "pass", run.summary()


def _problem_json_refusal(inner):
    def handle(req):
        body = req.json() or {}
        if body.get("stream") and body.get("temperature", 0) > 2:
            problem = {"type": "about:blank", "title": "Bad Request", "status": 400,
                       "detail": "temperature must be at most 2"}
            return Reply(400, {"Content-Type": "application/problem+json", "x-request-id": "req_fake"},
                         json.dumps(problem).encode())
        return inner(req)

    return handle


def test_a_problem_json_refusal_meets_invalid_request_http_error():
    run = run_suite(SUITE, "-k", "invalid_streaming_request", against=_problem_json_refusal(reference_proxy()))
    run.assert_clean()
    assert run.verdict_of("stream.invalid-request-http-error") == "pass", run.summary()


def _text_refusal(inner):
    def handle(req):
        body = req.json() or {}
        if body.get("stream") and body.get("temperature", 0) > 2:
            return Reply(400, {"Content-Type": "text/plain"}, b"temperature must be at most 2")
        return inner(req)

    return handle


def _usage_differs_and_n_broken(events, req):
    """The usage chunk counts one token more than the plain reply; with n=2, choice 1 gets no role
    and two finish_reasons."""
    body = req.json() or {}
    out = []
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("usage"), dict) and event.get("choices") == []:
            event["usage"]["completion_tokens"] += 1
            event["usage"]["total_tokens"] += 1
        if body.get("n") == 2 and isinstance(event, dict):
            for choice in event.get("choices") or []:
                if choice.get("index") == 1:
                    choice["delta"].pop("role", None)
                    if choice.get("finish_reason"):
                        out.append(json.loads(json.dumps(event)))
        out.append(event)
    return out


def test_wrong_usage_n_streams_and_text_refusals_fail_their_requirements():
    run = run_suite(SUITE, against=_text_refusal(reference_proxy(chunks=_usage_differs_and_n_broken)))
    run.assert_fails({"stream.n-choices-complete", "stream.invalid-request-http-error"},
                     warned={"stream.usage-matches-non-streamed"})


def _usage_stream_says_other_words(events, req):
    body = req.json() or {}
    if (body.get("stream_options") or {}).get("include_usage"):
        for event in events:
            for choice in event.get("choices") or [] if isinstance(event, dict) else []:
                if (choice.get("delta") or {}).get("content"):
                    choice["delta"]["content"] = "other "
    return events


def test_usage_is_not_compared_when_the_replies_differ():
    run = run_suite(SUITE, "-k", "usage", against=reference_proxy(chunks=_usage_stream_says_other_words))
    assert run.returncode == 0, run.summary()
    assert run.verdict_of("stream.usage-matches-non-streamed") == "not_judged", run.summary()
