"""The responses suite judges the stop sequence and the token cap only where the model showed it
would produce what the check needs (the baseline first, one parameter changed), never passes a
check that had nothing to judge, and still fails the servers that get them wrong."""

import dataclasses
import json

from tests.fakes import Request, reference_proxy
from tests.harness import run_suite

SUITE = "suites/test_responses.py"
# 24 words: more than the baseline's cap of 16, and never the prompt's old stop word "gamma"
BABBLE = ("sunny warm river city blue seven night light stone fast small cold "
          "moon star road tree wind rain snow hill lake bird fish leaf")


def _rewriting(inner, rewrite):
    """Forward to ``inner`` after ``rewrite(body) -> body`` changed the request."""

    def handle(req: Request):
        body = req.json()
        if isinstance(body, dict):
            req = dataclasses.replace(req, body=json.dumps(rewrite(body)).encode())
        return inner(req)

    return handle


def _babbling_model(body):
    """A model that ignores the echo instruction and says its own words, deterministically."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            message["content"] = f"Repeat exactly: {BABBLE}"
    return body


def test_a_model_that_never_says_the_prompts_stop_word_is_judged_on_its_own_words():
    # before: stop ["gamma"] never occurred, the reply ran into the cap ("length") and
    # response.finish-reason-stop failed although the server did nothing wrong
    run = run_suite(SUITE, against=_rewriting(reference_proxy(), _babbling_model))
    run.assert_clean()
    for rid in ("response.finish-reason-stop", "response.stop-excluded", "response.finish-reason-length",
                "response.max-tokens-respected"):
        assert run.verdict_of(rid) == "pass", (rid, run.summary())


def _unrepeatable_when_stopped(payload, req):
    """The stopped request gets another reply (a model that does not repeat itself even at
    temperature 0), which never reaches the stop word and runs into the cap."""
    body = req.json() or {}
    if body.get("stop") and "choices" in payload:
        payload["choices"][0]["message"]["content"] = "one two three"
        payload["choices"][0]["finish_reason"] = "length"
    return payload


def test_a_stop_sequence_the_model_never_produced_is_not_judged():
    # before: the stop text was absent, so response.stop-excluded passed without judging anything
    run = run_suite(SUITE, against=reference_proxy(body=_unrepeatable_when_stopped))
    assert run.returncode == 0, run.summary()
    assert run.verdict_of("response.stop-excluded") == "not_judged", run.summary()
    assert run.verdict_of("response.finish-reason-stop") == "not_judged", run.summary()


def _without_caps(body):
    body.pop("max_completion_tokens", None)
    body.pop("max_tokens", None)
    return body


def test_an_ignored_cap_fails_max_tokens_not_finish_reason_length():
    # before: the uncut reply's finish_reason "stop" failed response.finish-reason-length too
    run = run_suite(SUITE, against=_rewriting(reference_proxy(), _without_caps))
    run.assert_fails({"response.max-tokens-respected"})
    assert run.verdict_of("response.finish-reason-length") == "not_judged", run.summary()
    assert "response.finish-reason-length" not in run.failed_requirements(), run.summary()


def _stop_ignored_and_cut_called_stop(payload, req):
    body = req.json() or {}
    if "choices" not in payload:
        return payload
    choice = payload["choices"][0]
    if body.get("stop"):
        choice["message"]["content"] = "alpha beta gamma delta"  # the stop sequence left in
        choice["finish_reason"] = "stop"
    if choice["finish_reason"] == "length":
        choice["finish_reason"] = "stop"  # cut by the cap, but says it ended naturally
    return payload


def test_wrong_stop_and_cap_handling_still_fails():
    run = run_suite(SUITE, against=reference_proxy(body=_stop_ignored_and_cut_called_stop))
    run.assert_fails({"response.stop-excluded", "response.finish-reason-length"})
    assert run.verdict_of("response.finish-reason-stop") == "not_judged", run.summary()


def _terse_model(body):
    """A tiny model at temperature 0: two tokens, then the end token."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            message["content"] = "Repeat exactly: fast small"
    return body


def test_a_terse_model_gets_a_cap_below_its_own_reply():
    # a cap of 2 would prove nothing against a two-token reply: the suite caps it at 1
    honoured = run_suite(SUITE, against=_rewriting(reference_proxy(), _terse_model))
    honoured.assert_clean()
    for rid in ("response.finish-reason-length", "response.max-tokens-respected"):
        assert honoured.verdict_of(rid) == "pass", (rid, honoured.summary())
    ignored = run_suite(SUITE, against=_rewriting(reference_proxy(), lambda b: _without_caps(_terse_model(b))))
    ignored.assert_fails({"response.max-tokens-respected"})
    assert ignored.verdict_of("response.finish-reason-length") == "not_judged", ignored.summary()
