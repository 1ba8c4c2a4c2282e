"""The tools suites fail on broken tool calls with the right requirement, and accept legal variations."""

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
    if isinstance(choice, dict):
        payload["choices"][0]["finish_reason"] = "stop"
    return payload


def _id_on_every_delta(events, req):
    ids = {}
    for event in events:
        for choice in event.get("choices", []) if isinstance(event, dict) else []:
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                if "id" in delta:
                    ids[delta["index"]] = delta["id"]
                elif delta.get("index") in ids:
                    delta["id"] = ids[delta["index"]]
                    delta.setdefault("function", {})["name"] = ""  # LM Studio's empty name on continuations
    return events


def test_legal_tool_call_variations_are_accepted():
    run = run_suite(*SUITES, against=reference_proxy(body=_legal_extras, chunks=_id_on_every_delta))
    run.assert_clean()
