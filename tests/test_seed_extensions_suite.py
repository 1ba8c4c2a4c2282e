"""The seed/logit_bias and extensions suites: their SHOULD/MAY findings become warnings with the right
requirement, and what the documents leave open is recorded as information instead."""

import itertools

from tests.fakes import json_reply, reference_proxy
from tests.harness import run_suite

SUITES = ("suites/test_seed.py", "suites/test_extensions.py")
PROFILE = ("--profile=reference",)  # declares the top_k and enable_thinking extensions


def _drifting_answers(counter, fingerprints):
    def mutate(payload, req):
        if "choices" not in payload:
            return payload
        body = req.json() or {}
        n = next(counter)
        if body.get("seed") is not None:
            payload["choices"][0]["message"]["content"] += f" {n}"  # the same seed, another answer
            if fingerprints:
                payload["system_fingerprint"] = f"fp_{n}"
        elif body.get("logit_bias"):
            payload["choices"][0]["message"]["content"] = "alpha beta gamma delta"  # the bias ignored
        elif "top_k" not in body:
            message = payload["choices"][0]["message"]
            message["content"] = "<think>The user wants an echo.</think>" + message["content"]
        return payload

    return mutate


def _refusing_top_k(inner):
    def handle(req):
        if "top_k" in (req.json() or {}):
            return json_reply({"error": {"message": "Unrecognized request argument supplied: top_k",
                                         "type": "invalid_request_error", "param": "top_k", "code": None}},
                              status=400)
        return inner(req)

    return handle


def test_should_and_may_findings_are_warnings():
    handler = _refusing_top_k(reference_proxy(body=_drifting_answers(itertools.count(), fingerprints=False)))
    run = run_suite(*SUITES, against=handler, args=PROFILE)
    assert run.returncode == 0, run.summary()
    expected = {"request.seed-determinism", "request.logit-bias-honoured", "ext.reasoning-separate",
                "ext.top-k-accepted"}
    assert expected <= run.warned_requirements(), (expected - run.warned_requirements(), run.summary())


def _drifting_backend_and_vendor_extras(counter):
    """Another answer for the same seed, but from another backend (a new system_fingerprint), plus
    vendor fields: a documented extension, an unknown field, and reasoning in a field of its own."""

    def mutate(payload, req):
        if "choices" not in payload:
            return payload
        if (req.json() or {}).get("seed") is not None:
            n = next(counter)
            payload["choices"][0]["message"]["content"] += f" {n}"
            payload["system_fingerprint"] = f"fp_{n}"
        payload["provider"] = "upstream-a"
        payload["timings"] = {"predicted_ms": 3}
        payload["choices"][0]["message"]["reasoning_content"] = "Echo the words."
        return payload

    return mutate


def test_open_questions_are_recorded_as_information():
    run = run_suite(*SUITES, against=reference_proxy(body=_drifting_backend_and_vendor_extras(itertools.count())), args=PROFILE)
    run.assert_clean()
    info = run.notes()
    assert "system_fingerprint" in info.get("request.seed-determinism", ""), info
    assert "documented: provider" in info.get("ext.vendor-fields-tolerated", ""), info
    assert "unknown: timings" in info.get("ext.vendor-fields-tolerated", ""), info
    assert "reasoning_content" in info.get("ext.reasoning-separate", ""), info
