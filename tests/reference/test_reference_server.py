"""Self-tests of the reference server, in process (Starlette TestClient) plus one real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import warnings

import httpx
import jsonschema
import pytest

from chatconform.reference import ServerConfig, create_app
from chatconform.reference.validation import schema_validator

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2 on import; httpx is what this project pins
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

KEY = {"Authorization": "Bearer sk-test"}
RATE_HEADERS = [f"x-ratelimit-{kind}-{what}" for kind in ("limit", "remaining", "reset")
                for what in ("requests", "tokens")]
USER = [{"role": "user", "content": "Repeat exactly: one two three four five"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "parameters": {"type": "object", "additionalProperties": False, "required": ["city"],
                   "properties": {"city": {"type": "string", "minLength": 3},
                                  "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                  "days": {"type": "integer", "minimum": 1, "maximum": 7}}}}}
TIME = {"type": "function", "function": {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"},
                                                    "precise": {"type": "boolean"},
                                                    "fields": {"type": "array", "items": {"type": "string"},
                                                               "minItems": 2}}}}}


@pytest.fixture
def client():
    return TestClient(create_app(ServerConfig()))


def chat(client, headers=KEY, **body):
    body.setdefault("model", "ref-model")
    body.setdefault("messages", USER)
    return client.post("/v1/chat/completions", json=body, headers=headers)


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def assert_valid(schema_name: str, instance) -> None:
    errors = [e.message for e in schema_validator(schema_name).iter_errors(instance)]
    assert not errors, errors


def assert_error(response, status: int, type_: str, param=None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid("ErrorResponse", body)
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == type_
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]


def sse_chunks(response) -> list[dict]:
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    frames = response.text.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]", frames[-3:]
    chunks = []
    for frame in frames[:-2]:
        assert frame.startswith("data: ") and "\n" not in frame, frame
        chunk = json.loads(frame[len("data: "):])
        assert_valid("CreateChatCompletionStreamResponse", chunk)
        chunks.append(chunk)
    return chunks


# ---------------------------------------------------------------- plain completions

def test_plain_completion_matches_the_spec(client):
    body = ok(chat(client))
    assert_valid("CreateChatCompletionResponse", body)
    assert body["object"] == "chat.completion" and body["model"] == "ref-model"
    assert re.fullmatch(r"chatcmpl-[0-9a-f]+", body["id"])
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "one two three four five", "refusal": None}
    assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    usage = body["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_vocabulary_reply_is_deterministic_per_seed(client):
    messages = [{"role": "user", "content": "Tell me something"}]
    first = ok(chat(client, messages=messages, seed=7))["choices"][0]["message"]["content"]
    again = ok(chat(client, messages=messages, seed=7))["choices"][0]["message"]["content"]
    other = ok(chat(client, messages=messages, seed=8))["choices"][0]["message"]["content"]
    assert first == again != other
    assert 8 <= len(first.split()) <= 16


def test_stop_cuts_before_the_stop_sequence(client):
    choice = ok(chat(client, stop=["four", "three"]))["choices"][0]
    assert choice["message"]["content"] == "one two "
    assert choice["finish_reason"] == "stop"
    assert ok(chat(client, stop="two"))["choices"][0]["message"]["content"] == "one "


@pytest.mark.parametrize("param", ["max_completion_tokens", "max_tokens"])
def test_token_cap_gives_length(client, param):
    body = ok(chat(client, **{param: 2}))
    assert body["choices"][0]["message"]["content"] == "one two"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


def test_n_choices(client):
    messages = [{"role": "user", "content": "Say anything"}]
    body = ok(chat(client, messages=messages, n=3))
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert len({c["message"]["content"] for c in body["choices"]}) == 3


def test_logprobs_shape_and_concatenation(client):
    body = ok(chat(client, messages=[{"role": "user", "content": "Say anything"}], logprobs=True, top_logprobs=3))
    assert_valid("CreateChatCompletionResponse", body)
    choice = body["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    for entry in entries:
        assert entry["logprob"] <= 0
        assert entry["bytes"] == list(entry["token"].encode("utf-8"))
        top = entry["top_logprobs"]
        assert len(top) == 3 and top[0]["token"] == entry["token"]
        assert len({t["token"] for t in top}) == 3
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
    without_top = ok(chat(client, logprobs=True))["choices"][0]["logprobs"]["content"]
    assert all(e["top_logprobs"] == [] for e in without_top)


def test_logit_bias_bans_and_forces(client):
    messages = [{"role": "user", "content": "Say anything"}]
    plain = ok(chat(client, messages=messages, seed=1, logprobs=True))["choices"][0]
    banned = plain["message"]["content"].split()[0]
    # the vocabulary id of a word is stable; find it through a forced reply
    from chatconform.reference.tokens import token_id
    bias = ok(chat(client, messages=messages, seed=1, logit_bias={str(token_id(banned)): -100}))
    assert banned not in bias["choices"][0]["message"]["content"].split()
    forced = ok(chat(client, messages=messages, logit_bias={str(token_id("river")): 100}, max_completion_tokens=4))
    assert forced["choices"][0]["message"]["content"] == "river river river river"
    echo = ok(chat(client, logit_bias={str(token_id("three")): -100}))
    assert echo["choices"][0]["message"]["content"] == "one two four five"
    assert_error(chat(client, logit_bias={"abc": 5}), 400, "invalid_request_error", "logit_bias")
    assert_error(chat(client, logit_bias={"1": 101}), 400, "invalid_request_error", "logit_bias.1")


# ---------------------------------------------------------------- streaming

def test_stream_framing_and_reassembly(client):
    plain = ok(chat(client, seed=3, messages=[{"role": "user", "content": "Say anything"}]))
    response = chat(client, seed=3, messages=[{"role": "user", "content": "Say anything"}], stream=True)
    assert response.status_code == 200
    chunks = sse_chunks(response)
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]


def test_stream_usage_chunk_and_logprobs(client):
    chunks = sse_chunks(chat(client, stream=True, stream_options={"include_usage": True}, n=2, logprobs=True))
    assert all("usage" in c for c in chunks)
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 10
    content_chunks = [c for c in chunks[:-1] if c["choices"][0]["delta"].get("content")]
    assert all(len(c["choices"][0]["logprobs"]["content"]) == 1 for c in content_chunks)
    for index in (0, 1):
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]
                       if c["choices"][0]["index"] == index)
        assert text == "one two three four five"


def test_streamed_tool_calls_reassemble(client):
    chunks = sse_chunks(chat(client, stream=True, tools=[WEATHER, TIME], tool_choice="required"))
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for piece in chunk["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(piece["index"], {"arguments": ""})
            if "id" in piece:
                assert set(piece) == {"index", "id", "type", "function"} and piece["function"]["arguments"] == ""
                call.update(id=piece["id"], name=piece["function"]["name"])
            else:
                assert set(piece) == {"index", "function"} and set(piece["function"]) == {"arguments"}
            call["arguments"] += piece["function"]["arguments"]
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    jsonschema.validate(json.loads(calls[0]["arguments"]), WEATHER["function"]["parameters"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


# ---------------------------------------------------------------- tools and formats

def _calls(body: dict) -> list[dict]:
    message = body["choices"][0]["message"]
    assert message["content"] is None
    return message["tool_calls"]


def test_tool_choice_required_calls_every_tool(client):
    body = ok(chat(client, tools=[WEATHER, TIME], tool_choice="required"))
    assert_valid("CreateChatCompletionResponse", body)
    calls = _calls(body)
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2 and all(c["id"].startswith("call_") for c in calls)
    for call, tool in zip(calls, (WEATHER, TIME)):
        jsonschema.validate(json.loads(call["function"]["arguments"]), tool["function"]["parameters"])
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_parallel_tool_calls_false_makes_one_call(client):
    calls = _calls(ok(chat(client, tools=[WEATHER, TIME], tool_choice="required", parallel_tool_calls=False)))
    assert len(calls) == 1


def test_named_tool_choice(client):
    named = {"type": "function", "function": {"name": "get_time"}}
    calls = _calls(ok(chat(client, tools=[WEATHER, TIME], tool_choice=named)))
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    missing = {"type": "function", "function": {"name": "nope"}}
    assert_error(chat(client, tools=[WEATHER], tool_choice=missing), 400, "invalid_request_error", "tool_choice")


def test_auto_calls_after_user_and_answers_after_tool_result(client):
    calls = _calls(ok(chat(client, tools=[WEATHER, TIME])))
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    history = USER + [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
    ]
    answer = ok(chat(client, tools=[WEATHER], messages=history))["choices"][0]
    assert answer["finish_reason"] == "stop" and answer["message"]["content"] == "one two three four five"
    orphan = USER + [{"role": "tool", "tool_call_id": "call_x", "content": "sunny"}]
    assert_error(chat(client, messages=orphan), 400, "invalid_request_error", "messages[1].tool_call_id")


def test_tool_choice_none_answers_with_text(client):
    choice = ok(chat(client, tools=[WEATHER], tool_choice="none"))["choices"][0]
    assert choice["message"]["content"] == "one two three four five" and "tool_calls" not in choice["message"]


def test_deprecated_function_call(client):
    body = ok(chat(client, functions=[WEATHER["function"]], function_call={"name": "get_weather"}))
    assert_valid("CreateChatCompletionResponse", body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"]["name"] == "get_weather"
    jsonschema.validate(json.loads(choice["message"]["function_call"]["arguments"]),
                        WEATHER["function"]["parameters"])


def test_json_object_and_json_schema(client):
    messages = [{"role": "user", "content": "Answer in JSON: red green"}]
    content = ok(chat(client, messages=messages, response_format={"type": "json_object"}))["choices"][0]
    assert json.loads(content["message"]["content"]) == {"answer": "red green"}
    schema = {"type": "object", "required": ["name", "score", "tags"], "additionalProperties": False,
              "properties": {"name": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
                             "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
                             "note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 5}]}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "result", "schema": schema, "strict": True}}
    content = ok(chat(client, messages=messages, response_format=fmt))["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(content), schema)
    # OpenAI's rule: json_object needs the word "json" in the conversation
    assert_error(chat(client, response_format={"type": "json_object"}), 400, "invalid_request_error", "messages")


# ---------------------------------------------------------------- stored completions

def test_stored_completion_and_messages(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say: a b"},
                {"role": "assistant", "content": "a b"}, {"role": "user", "content": "Say: c d"}]
    created = ok(chat(client, messages=messages, store=True, metadata={"suite": "self"}))
    cid = created["id"]
    fetched = client.get(f"/v1/chat/completions/{cid}", headers=KEY)
    assert fetched.status_code == 200 and fetched.json() == created
    page = ok(client.get(f"/v1/chat/completions/{cid}/messages", headers=KEY))
    assert_valid("ChatCompletionMessageList", page)
    assert [m["id"] for m in page["data"]] == [f"{cid}-{i}" for i in range(4)]
    assert [m["role"] for m in page["data"]] == ["system", "user", "assistant", "user"]
    assert page["first_id"] == f"{cid}-0" and page["last_id"] == f"{cid}-3" and page["has_more"] is False
    first = ok(client.get(f"/v1/chat/completions/{cid}/messages?limit=2&order=desc", headers=KEY))
    assert [m["id"] for m in first["data"]] == [f"{cid}-3", f"{cid}-2"] and first["has_more"] is True
    rest = ok(client.get(f"/v1/chat/completions/{cid}/messages?limit=2&order=desc&after={cid}-2", headers=KEY))
    assert [m["id"] for m in rest["data"]] == [f"{cid}-1", f"{cid}-0"] and rest["has_more"] is False
    assert_error(client.get(f"/v1/chat/completions/{cid}/messages?limit=0", headers=KEY),
                 400, "invalid_request_error", "limit")
    assert_error(client.get("/v1/chat/completions/chatcmpl-missing", headers=KEY), 404, "not_found_error")
    assert_error(client.get("/v1/chat/completions/chatcmpl-missing/messages", headers=KEY), 404, "not_found_error")


def test_streamed_completion_is_stored_assembled(client):
    chunks = sse_chunks(chat(client, stream=True, store=True))
    stored = ok(client.get(f"/v1/chat/completions/{chunks[0]['id']}", headers=KEY))
    assert stored["choices"][0]["message"]["content"] == "one two three four five"
    assert stored["created"] == chunks[0]["created"]


def test_unstored_completion_is_not_retrievable(client):
    cid = ok(chat(client))["id"]
    assert_error(client.get(f"/v1/chat/completions/{cid}", headers=KEY), 404, "not_found_error")


# ---------------------------------------------------------------- auth, errors, headers

@pytest.mark.parametrize("headers", [{"Authorization": "Bearer right"}, {"authorization": "bearer right"},
                                     {"api-key": "right"}])
def test_configured_key_accepted_in_both_header_styles(headers):
    client = TestClient(create_app(ServerConfig(api_key="right")))
    ok(chat(client, headers=headers))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"api-key": "wrong"},
                                     {"Authorization": "Basic cmlnaHQ="}, {"Authorization": "Bearer"},
                                     {"api-key": ""}])
def test_bad_keys_get_401(headers):
    client = TestClient(create_app(ServerConfig(api_key="right")))
    error = assert_error(chat(client, headers=headers, temperature=99), 401, "authentication_error")
    assert error["code"] == "invalid_api_key"


def test_any_key_accepted_without_configured_key(client):
    ok(chat(client, headers={"api-key": "whatever"}))
    assert_error(chat(client, headers={}), 401, "authentication_error")


def test_restricted_key_gets_403_everywhere():
    client = TestClient(create_app(ServerConfig(api_key="right", restricted_api_key="limited")))
    for headers in ({"Authorization": "Bearer limited"}, {"api-key": "limited"}):
        assert_error(chat(client, headers=headers), 403, "permission_error")
        assert_error(client.get("/v1/chat/completions/x", headers=headers), 403, "permission_error")
        assert_error(client.get("/v1/chat/completions/x/messages", headers=headers), 403, "permission_error")


@pytest.mark.parametrize("body, param", [
    ({"temperature": 3}, "temperature"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"frobnicate": True}, "frobnicate"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"n": 0}, "n"),
    ({"model": None}, "model"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"response_format": {"type": "yaml"}}, "response_format.type"),
])
def test_invalid_requests_name_the_param(client, body, param):
    assert_error(chat(client, **body), 400, "invalid_request_error", param)


def test_missing_required_top_level_param(client):
    response = client.post("/v1/chat/completions", json={"messages": USER}, headers=KEY)
    assert_error(response, 400, "invalid_request_error", "model")


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"", b'{"model": NaN}'])
def test_unparseable_or_non_object_bodies(client, content):
    response = client.post("/v1/chat/completions", content=content,
                           headers={**KEY, "Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request_error")
    assert response.json()["error"]["param"] is None


def test_oversized_body_gets_413():
    client = TestClient(create_app(ServerConfig(max_body_bytes=200)))
    response = chat(client, messages=[{"role": "user", "content": "x" * 500}])
    assert_error(response, 413, "invalid_request_error")


def test_model_allow_list():
    client = TestClient(create_app(ServerConfig(models=("alpha", "beta"))))
    ok(chat(client, model="beta"))
    error = assert_error(chat(client, model="gamma"), 404, "not_found_error", "model")
    assert error["code"] == "model_not_found"


def test_unknown_route_and_wrong_method(client):
    assert_error(client.get("/v1/images/generations", headers=KEY), 404, "not_found_error")
    response = client.put("/v1/chat/completions", headers=KEY)
    assert_error(response, 405, "invalid_request_error")
    assert {"POST", "GET"} <= set(response.headers["allow"].replace(" ", "").split(","))


def test_rate_limit_429_with_retry_after():
    client = TestClient(create_app(ServerConfig(rate_limit_rpm=2)))
    ok(chat(client))
    ok(chat(client))
    response = chat(client)
    assert_error(response, 429, "rate_limit_error")
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    ok(chat(client, headers={"Authorization": "Bearer another-key"}))  # buckets are per key


def test_every_response_carries_request_id_and_rate_limit_headers():
    client = TestClient(create_app(ServerConfig(api_key="right")))
    good = {"Authorization": "Bearer right"}
    responses = [
        chat(client, headers=good),
        chat(client, headers=good, stream=True),
        chat(client, headers=good, temperature=5),
        chat(client, headers={}),
        client.get("/v1/chat/completions/missing", headers=good),
        client.get("/nowhere"),
        client.put("/v1/chat/completions", headers=good),
    ]
    ids = set()
    for response in responses:
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        ids.add(response.headers["x-request-id"])
        for name in RATE_HEADERS:
            assert name in response.headers, (name, response.status_code)
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
            assert re.fullmatch(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|h|m|s))+", response.headers[name])
    assert len(ids) == len(responses)


def test_handler_failure_is_a_500_envelope(monkeypatch):
    import chatconform.reference.app as app_module

    def explode(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "generate", explode)
    response = TestClient(create_app(ServerConfig())).post(
        "/v1/chat/completions", json={"model": "m", "messages": USER}, headers=KEY)
    error = assert_error(response, 500, "api_error")
    assert "boom" not in error["message"] and "x-request-id" in response.headers


# ---------------------------------------------------------------- the real CLI

def test_cli_serve_subprocess():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chatconform", "serve", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=20)
        assert line and line[0], f"no listening line; stderr: {process.stderr.read() if process.poll() else ''}"
        match = re.fullmatch(r"chatconform reference server listening on (http://127\.0\.0\.1:(\d+)/v1)\n", line[0])
        assert match, line[0]
        response = httpx.post(f"{match.group(1)}/chat/completions", timeout=10,
                              headers={"Authorization": "Bearer k"},
                              json={"model": "m", "messages": [{"role": "user", "content": "Say: ready"}]})
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "ready"
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
