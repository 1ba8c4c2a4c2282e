"""The context-window probe has teeth: a server that silently truncates the conversation fails it;
one that refuses it (the reference server) or cuts the answer with "length" passes."""

import json

from tests.fakes import Request, reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_context.py"
ARGS = ("--profile=reference",)


def _truncating(finish_reason=None):
    """Keeps only the last 8 words of an overlong prompt, as a server that drops what does not fit."""
    inner = reference_proxy()

    def rewrite(payload, req):
        if finish_reason and isinstance(payload, dict):
            for choice in payload.get("choices") or []:
                choice["finish_reason"] = finish_reason
        return payload

    answer = reference_proxy(body=rewrite)

    def handle(req):
        body = req.json()
        if req.method == "POST" and isinstance(body, dict) and body.get("messages"):
            content = body["messages"][-1].get("content")
            if isinstance(content, str) and len(content.split()) > 1000:
                body["messages"][-1]["content"] = " ".join(content.split()[-8:])
                return answer(Request(req.method, req.path, req.headers, json.dumps(body).encode()))
        return inner(req)

    return handle


def test_the_reference_server_refuses_an_overlong_conversation():
    run = run_suite(SUITE)
    assert run.verdict_of("response.context-overflow-signalled") == "pass", run.summary()


def test_silent_truncation_fails_and_a_length_cut_passes():
    silent = run_suite(SUITE, against=_truncating(), args=ARGS)
    assert silent.verdict_of("response.context-overflow-signalled") == "warning", silent.summary()
    cut = run_suite(SUITE, against=_truncating("length"), args=ARGS)
    assert cut.verdict_of("response.context-overflow-signalled") == "pass", cut.summary()


def test_a_profile_without_the_capability_sends_nothing():
    run = run_suite(SUITE, against=_truncating(), args=("--profile=generic",))
    assert run.verdict_of("response.context-overflow-signalled") == "unsupported", run.summary()
    assert run.cost.get("requests", 0) <= 1, run.cost  # at most the pre-flight
