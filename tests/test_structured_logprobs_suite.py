"""The structured-output and logprobs suites fail on broken output with the right requirement, and
accept what the documents allow (fewer top_logprobs than requested, null bytes, padded JSON)."""

import json

import pytest

from tests.fakes import FakeServer, json_reply, reference_proxy
from tests.harness import run_suite

SUITES = ("suites/test_structured_output.py", "suites/test_logprobs.py")


def _kind(req):
    """Which of the suites' requests this is: json_object, json_schema, logprobs or plain."""
    body = req.json() or {}
    response_format = body.get("response_format") or {}
    if body.get("logprobs"):
        return "logprobs"
    return response_format.get("type", "plain") if isinstance(response_format, dict) else "plain"


def _contents(payload):
    return [c["message"] for c in payload.get("choices") or []]


# One logprobs exchange serves every logprobs test, so each run breaks it one way.
def _not_json_and_logprobs_dropped(payload, req):
    if "choices" not in payload:
        return payload
    kind = _kind(req)
    if kind == "json_object":
        for message in _contents(payload):
            message["content"] = "Sure! Here it is: " + message["content"]
    if kind == "logprobs":
        for choice in payload["choices"]:
            choice["logprobs"] = None
    return payload


def _schema_mismatch_and_bad_logprobs(payload, req):
    if "choices" not in payload:
        return payload
    kind = _kind(req)
    if kind == "json_schema":
        for message in _contents(payload):
            value = json.loads(message["content"])
            value.pop("country")
            value["population"] = 2.1  # not allowed by additionalProperties: false
            message["content"] = json.dumps(value)
    if kind == "logprobs":
        entries = payload["choices"][0]["logprobs"]["content"]
        entries[0]["top_logprobs"] = entries[0]["top_logprobs"] * 2  # 4 entries for top_logprobs 2
        entries[1]["logprob"] = 0.25
        entries[2]["top_logprobs"][1]["bytes"] = "gamma"
    if kind == "plain":
        for choice in payload["choices"]:
            choice["logprobs"] = {"content": [], "refusal": None}
    return payload


def _accepting_malformed_formats(inner):
    def handle(req):
        response_format = (req.json() or {}).get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") in (None, "not_a_format"):
            return json_reply({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                               "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                            "message": {"role": "assistant", "content": "ok", "refusal": None}}]})
        return inner(req)

    return handle


BROKEN = {
    "not-json-no-logprobs": (_accepting_malformed_formats(reference_proxy(body=_not_json_and_logprobs_dropped)),
                             {"structured.json-object", "logprobs.content-shape",
                              "structured.malformed-format-rejected"},
                             set()),
    "schema-mismatch-bad-logprobs": (reference_proxy(body=_schema_mismatch_and_bad_logprobs),
                                     {"structured.json-schema-valid", "structured.json-schema-strict",
                                      "logprobs.top-logprobs-count", "logprobs.logprob-non-positive"},
                                     {"logprobs.bytes-key", "logprobs.absent-unrequested"}),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_output_fails_with_its_requirements(name):
    handler, failing, warned = BROKEN[name]
    run = run_suite(*SUITES, against=handler)
    run.assert_fails(failing, warned)


def _legal_variations(payload, req):
    if "choices" not in payload:
        return payload
    kind = _kind(req)
    if kind in ("json_object", "json_schema"):
        for message in _contents(payload):
            message["content"] = "\n" + json.dumps(json.loads(message["content"]), indent=2) + "\n"
    if kind == "logprobs":
        for choice in payload["choices"]:
            choice["logprobs"].pop("refusal", None)  # optional here (specs/openapi.yaml)
            for entry in choice["logprobs"]["content"]:
                entry["top_logprobs"] = entry["top_logprobs"][:1]  # "may hold fewer than requested"
                entry["bytes"] = None  # nullable: tokens are compared as text instead
    return payload


def test_legal_variations_are_accepted():
    run = run_suite(*SUITES, against=reference_proxy(body=_legal_variations))
    run.assert_clean()


def _refusing_the_features(inner):
    """A server without JSON mode, Structured Outputs or logprobs, saying so the way OpenAI does."""

    def handle(req):
        kind = _kind(req)
        if kind in ("json_object", "json_schema", "logprobs"):
            param = "logprobs" if kind == "logprobs" else "response_format"
            return json_reply({"error": {"message": f"'{param}' is not supported with this model.",
                                         "type": "invalid_request_error", "param": param, "code": None}}, status=400)
        return inner(req)

    return handle


def test_refused_features_are_unsupported_not_failed():
    run = run_suite(*SUITES, against=_refusing_the_features(reference_proxy()))
    run.assert_clean()
    assert {"json_object", "json_schema", "logprobs"} <= run.unsupported(), run.summary()
    assert run.verdict_of("structured.format-answered-or-refused") == "unsupported", run.summary()


# -- what real servers showed (issue 11) ----------------------------------------------------------
def _json_schema_500(inner):
    """llama-cpp-python: its request model knows only text and json_object, and a validation error
    there is a 500."""

    def handle(req):
        if _kind(req) == "json_schema":
            message = ("1 validation error: ('body', 'response_format', 'type'): Input should be 'text' or "
                       "'json_object'")
            return json_reply({"error": {"message": message, "type": "internal_server_error", "param": None,
                                         "code": None}}, status=500)
        return inner(req)

    return handle


def test_a_5xx_to_json_schema_fails_the_refusal_requirement_not_the_schema_ones():
    run = run_suite(*SUITES, against=_json_schema_500(reference_proxy()))
    run.assert_fails({"structured.format-answered-or-refused"})
    for rid in ("structured.json-schema-valid", "structured.json-schema-strict"):
        assert run.verdict_of(rid) == "not_judged", (rid, run.summary())
    assert run.verdict_of("structured.json-object") == "pass", run.summary()


def _cut_json(always):
    """JSON mode answers cut by the cap (finish_reason length): at the first cap, or at every cap."""

    def mutate(payload, req):
        body = req.json() or {}
        if _kind(req) == "json_object" and "choices" in payload and (
                always or body.get("max_completion_tokens") == 40):
            for choice in payload["choices"]:
                choice["message"]["content"] = choice["message"]["content"][:6]
                choice["finish_reason"] = "length"
        return payload

    return mutate


def test_a_json_reply_cut_by_the_cap_is_retried_once_with_a_larger_cap():
    server = FakeServer(reference_proxy(body=_cut_json(always=False)))
    with server as url:
        run = run_suite("suites/test_structured_output.py", "-k", "json_mode", base_url=url)
    run.assert_clean()
    assert run.verdict_of("structured.json-object") == "pass", run.summary()
    caps = [(r.json() or {}).get("max_completion_tokens") for r in server.requests if _kind(r) == "json_object"]
    assert caps == [40, 64], caps


def test_a_json_reply_always_cut_by_the_cap_is_not_judged():
    # before: the only reply was cut, nothing was judged, and structured.json-object passed
    run = run_suite("suites/test_structured_output.py", "-k", "json_mode",
                    against=reference_proxy(body=_cut_json(always=True)))
    assert run.returncode == 0, run.summary()
    assert run.verdict_of("structured.json-object") == "not_judged", run.summary()
