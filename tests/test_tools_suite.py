"""The tools suites fail on broken tool calls with the right requirement, and accept legal variations."""

import dataclasses
import json

import pytest

from tests.fakes import json_reply, reference_proxy
from tests.harness import run_suite

SUITES = ("suites/test_tools.py", "suites/test_streaming_tools.py")


def _choice(req):
    body = req.json() or {}
    return body.get("tool_choice"), body


def _calls(payload):
    return [c for ch in payload.get("choices") or [] for c in (ch.get("message") or {}).get("tool_calls") or []]


# -- run A: faults in the calls themselves ----------------------------------------------------------
def _broken_calls(payload, req):
    if "choices" not in payload:
        return payload
    choice, body = _choice(req)
    calls = _calls(payload)
    if choice == "required" and body.get("parallel_tool_calls") is None and len(calls) >= 2:
        calls[0]["function"]["arguments"] = json.loads(calls[0]["function"]["arguments"])  # an object
        del calls[1]["id"]
        payload["choices"][0]["finish_reason"] = "stop"
    elif isinstance(choice, dict):
        for call in calls:
            call["function"]["name"] = "get_weather"  # not the named function
    elif choice == "none":
        message = payload["choices"][0]["message"]
        message["tool_calls"] = [{"id": "call_x", "type": "function",
                                  "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    elif body.get("parallel_tool_calls") is False and calls:
        payload["choices"][0]["message"]["tool_calls"] = calls + [dict(calls[0], id=calls[0]["id"] + "b")]
    return payload


def _deltas_without_index(events, req):
    for event in events:
        for choice in event.get("choices", []) if isinstance(event, dict) else []:
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                delta.pop("index", None)
    return events


# -- run B: faults in what surrounds the calls ----------------------------------------------------
def _calls_as_text(events, req):
    out = []
    for event in events:
        if isinstance(event, dict):
            for choice in event.get("choices", []):
                delta = choice.get("delta") or {}
                if "tool_calls" in delta:
                    call = delta.pop("tool_calls")[0]
                    delta["content"] = json.dumps(call.get("function", {}))
        out.append(event)
    return out


def _wrong_arguments_and_functions(payload, req):
    if "choices" not in payload:
        return payload
    choice, body = _choice(req)
    if choice == "auto":
        for call in _calls(payload):
            call["function"]["arguments"] = '{"town": "Paris"}'  # JSON, but not the declared schema
    if body.get("functions"):
        message = payload["choices"][0]["message"]
        call = message.pop("function_call")
        message["tool_calls"] = [{"id": "call_f", "type": "function", "function": call}]
        payload["choices"][0]["finish_reason"] = "tool_calls"
    return payload


def _accepting_invalid_tools_and_refusing_foreign_ids(inner):
    def handle(req):
        body = req.json() or {}
        tools = body.get("tools") or []
        if any(t.get("type") != "function" or "function" not in t for t in tools):
            return json_reply({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                               "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                            "message": {"role": "assistant", "content": "ok", "refusal": None}}]})
        if "call_Qx7Lm2Rt8Vw1Zc4EaB3yK9pN" in req.body.decode():
            error = {"message": "Tool call id must be 9 characters", "type": "invalid_request_error",
                     "param": None, "code": None}
            return json_reply({"error": error}, status=400)
        return inner(req)

    return handle


BROKEN = {
    "calls": (reference_proxy(body=_broken_calls, chunks=_deltas_without_index),
              {"tool.arguments-json-string", "tool.call-ids-unique", "tool.finish-reason-tool-calls",
               "tool.choice-named", "tool.choice-none", "tool.parallel-false-single-call", "stream.tool-call-index"},
              set()),
    "surroundings": (_accepting_invalid_tools_and_refusing_foreign_ids(
                         reference_proxy(body=_wrong_arguments_and_functions, chunks=_calls_as_text)),
                     {"tool.definition-invalid-rejected", "tool.result-message-accepted", "stream.tool-calls-streamed"},
                     {"tool.arguments-match-schema", "tool.functions-deprecated-handled"}),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_tool_calls_fail_with_their_requirements(name):
    handler, failing, warned = BROKEN[name]
    run = run_suite(*SUITES, against=handler)
    run.assert_fails(failing, warned)


# -- legal variations ---------------------------------------------------------------------------
def _legal_extras(payload, req):
    """Extra keys on calls (as Gemini and TGI send), short non-OpenAI ids (Mistral's 9 characters),
    and "stop" ending a call forced by name (as OpenAI does)."""
    if "choices" not in payload:
        return payload
    choice, _ = _choice(req)
    for n, call in enumerate(_calls(payload)):
        call["index"] = n
        call["function"]["description"] = None
        call["extra_content"] = {"vendor": {"signature": "abc"}}
        call["id"] = f"a{n}B{n}c{n}D{n}e"[:9]
    if isinstance(choice, dict) and payload["choices"][0]["finish_reason"] == "tool_calls":
        payload["choices"][0]["finish_reason"] = "stop"  # a whole call: a cut one still says "length"
    return payload


def _type_and_empty_name_on_every_delta(events, req):
    """LM Studio's continuations: `type` repeated and `function.name: ""`. The SDK's accumulator
    replaces type and concatenates "" to nothing, so both are harmless."""
    seen = set()
    for event in events:
        for choice in event.get("choices", []) if isinstance(event, dict) else []:
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                if "id" in delta:
                    seen.add(delta["index"])
                elif delta.get("index") in seen:
                    delta["type"] = "function"
                    delta.setdefault("function", {})["name"] = ""
    return events


def _function_call_null(payload, req):
    for choice in payload.get("choices") or []:
        choice["message"]["function_call"] = choice["message"].get("function_call")  # null beside tool_calls
    return payload


def test_legal_tool_call_variations_are_accepted():
    run = run_suite(*SUITES, against=reference_proxy(body=lambda p, r: _function_call_null(_legal_extras(p, r), r),
                                                     chunks=_type_and_empty_name_on_every_delta))
    run.assert_clean()
    for rid in ("stream.tool-call-id-name-once", "tool.function-call-not-beside-tool-calls",
                "tool.cut-call-finish-length"):
        assert run.verdict_of(rid) == "pass", (rid, run.summary())


# -- what real servers showed was missing (issue 11) ----------------------------------------------
def _id_and_name_on_every_delta_and_legacy_call(events, req):
    """id and name repeated on every delta (the SDK's helper would read "call_1call_1" and
    "get_weatherget_weather"), and a legacy function_call delta beside the tool calls."""
    heads = {}
    for event in events:
        for choice in event.get("choices", []) if isinstance(event, dict) else []:
            delta = choice.get("delta") or {}
            for call in delta.get("tool_calls") or []:
                if "id" in call:
                    heads[call["index"]] = call
                    delta["function_call"] = {"name": call["function"]["name"], "arguments": ""}
                elif call.get("index") in heads:
                    call["id"] = heads[call["index"]]["id"]
                    call.setdefault("function", {})["name"] = heads[call["index"]]["function"]["name"]
    return events


def _legacy_call_beside_and_cut_call_said_tool_calls(payload, req):
    if "choices" not in payload:
        return payload
    for choice in payload["choices"]:
        calls = choice["message"].get("tool_calls") or []
        if calls:
            choice["message"]["function_call"] = dict(calls[0]["function"])  # llama-cpp-python's legacy copy
        if choice["finish_reason"] == "length" and calls:
            choice["finish_reason"] = "tool_calls"  # the cap cut the arguments, the reason says "run them"
    return payload


def test_repeated_ids_legacy_calls_and_cut_calls_fail_their_requirements():
    run = run_suite(*SUITES, against=reference_proxy(body=_legacy_call_beside_and_cut_call_said_tool_calls,
                                                     chunks=_id_and_name_on_every_delta_and_legacy_call))
    run.assert_fails({"tool.cut-call-finish-length"},
                     warned={"stream.tool-call-id-name-once", "tool.function-call-not-beside-tool-calls"})
    # a name repeated whole is the warning above, not a call to an undeclared function
    assert "tool.function-name-declared" not in run.failed_requirements(), run.summary()


def _honouring_only_max_tokens(inner):
    def handle(req):
        body = req.json() or {}
        if "max_completion_tokens" in body and "max_tokens" in body:
            body.pop("max_completion_tokens")
            req = dataclasses.replace(req, body=json.dumps(body).encode())
        return inner(req)

    return handle


def test_a_server_honouring_only_max_tokens_still_has_its_cut_call_judged():
    run = run_suite("suites/test_tools.py", "-k", "cut_by_the_cap", against=_honouring_only_max_tokens(reference_proxy()))
    run.assert_clean()
    assert run.verdict_of("tool.cut-call-finish-length") == "pass", run.summary()


def _ignoring_caps(inner):
    def handle(req):
        body = req.json() or {}
        if isinstance(body, dict) and body.get("tools"):
            body.pop("max_completion_tokens", None)
            body.pop("max_tokens", None)
            req = dataclasses.replace(req, body=json.dumps(body).encode())
        return inner(req)

    return handle


def test_a_call_the_cap_did_not_cut_is_not_judged():
    run = run_suite("suites/test_tools.py", "-k", "cut_by_the_cap", against=_ignoring_caps(reference_proxy()))
    assert run.returncode == 0, run.summary()
    assert run.verdict_of("tool.cut-call-finish-length") == "not_judged", run.summary()
