"""The fault catalogue: every way `chatconform serve --fault NAME / --variation NAME` can deviate.

One entry per deviation, each with a one-line description, the requirement IDs it violates, the
catalogue areas it concerns and, where a real server shipped it, the row of the shared deviations
list it reproduces (ST-.., RS-.., PA-.., ER-.., HD-.., AD-..). Three kinds:

* fault: a deviation a client would trip over; a test must fail citing one of its IDs.
* variation: legal but unusual behaviour; the tests of its areas must pass without a warning.
* hostile: a server that misbehaves at the HTTP level; the tests must end, with failures, in
  bounded time (see chatconform.reference.hostile).

Each implementation is one or a few small functions registered under a hook point of the server
(chatconform.reference.injection lists them). `chatconform serve --list-faults` prints this
catalogue; `chatconform selfcheck` runs the suites against each entry and prints the matrix.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from typing import Any

from starlette.datastructures import Headers, MutableHeaders

from chatconform.reference import hostile as raw
from chatconform.reference.errors import APIError
from chatconform.reference.injection import Context, Reply, declare_variation, fault, hostile, variation
from chatconform.reference.store import Stored
from chatconform.reference.streaming import DONE, encode

# The catalogue areas (specs/requirements.yaml) an entry concerns. The server knows the catalogue,
# not the suite's files: `chatconform selfcheck` runs the suites that cite the entry's requirements
# (a fault, a hostile behaviour) or its areas' requirements (a legal variation).
RESPONSES = "response"
STREAMING = "streaming"
STREAMING_TOOLS = "tools"
TOOLS = "tools"
PARAMETERS = "request"
ERRORS = "errors"
HEADERS = "headers"
AUTH = "auth"
STRUCTURED = "structured-output"
LOGPROBS = "logprobs"
SEED = "request"
STORED = "stored"
EXTENSIONS = "extensions"
EVERY_SUITE = (RESPONSES, STREAMING, TOOLS, PARAMETERS, ERRORS, HEADERS, AUTH, STRUCTURED, LOGPROBS, STORED,
               EXTENSIONS)
STREAMS = (STREAMING,)


# -- helpers --------------------------------------------------------------------------------------
def _chunks(items: list) -> list[dict]:
    return [i for i in items if isinstance(i, dict)]


def _entries(items: list) -> list[tuple[dict, dict]]:
    """(chunk, choice entry) for every choice entry of every chunk."""
    return [(c, e) for c in _chunks(items) for e in c.get("choices") or []]


def _choices(payload: dict) -> list[dict]:
    return payload.get("choices") or []


def _calls(payload: dict) -> list[dict]:
    return [call for choice in _choices(payload) for call in choice["message"].get("tool_calls") or []]


def _tool_deltas(items: list) -> list[tuple[dict, dict, dict]]:
    """(chunk, choice entry, tool-call delta) for every tool-call delta in the stream."""
    return [(c, e, d) for c, e in _entries(items) for d in (e.get("delta") or {}).get("tool_calls") or []]


def _is_usage_chunk(item: Any) -> bool:
    return isinstance(item, dict) and item.get("choices") == [] and item.get("usage") is not None


def _before_done(items: list, extra: list) -> list:
    at = items.index(DONE) if DONE in items else len(items)
    return items[:at] + extra + items[at:]


# ================================================================================================
# Stream framing and termination
# ================================================================================================
@fault("no-done", "The stream ends without `data: [DONE]`; the connection just closes.", [STREAMING],
       ["stream.done-terminates"], cite="ST-01", hook="chunks")
def _no_done(items: list, ctx: Context) -> list:
    return [i for i in items if i != DONE]


@fault("data-after-done", "A chunk follows `data: [DONE]`.", [STREAMING], ["stream.nothing-after-done"],
       hook="chunks")
def _data_after_done(items: list, ctx: Context) -> list:
    return items + [_chunks(items)[0]]


@fault("stream-content-type-json", "A stream is sent as Content-Type application/json.", [STREAMING],
       ["stream.content-type"], cite="AD-11", hook="headers")
def _stream_as_json(headers: MutableHeaders, status: int) -> None:
    if headers.get("content-type", "").startswith("text/event-stream"):
        headers["content-type"] = "application/json"


@fault("stream-content-type-text", "A stream is sent as Content-Type text/plain.", [STREAMING],
       ["stream.content-type"], cite="AD-12", hook="headers")
def _stream_as_text(headers: MutableHeaders, status: int) -> None:
    if headers.get("content-type", "").startswith("text/event-stream"):
        headers["content-type"] = "text/plain; charset=utf-8"


@fault("malformed-json-event", "One event's data is truncated JSON.", [STREAMING],
       ["stream.sse-framing", "stream.chunk-schema"], hook="chunks")
def _malformed_event(items: list, ctx: Context) -> list:
    second = items.index(_chunks(items)[1])
    return items[:second] + [encode(items[second])[:-7]] + items[second + 1:]


@fault("unterminated-last-event", "The final `data: [DONE]` line lacks its blank line, so it never "
       "completes an event.", [STREAMING], ["stream.sse-framing", "stream.done-terminates"], hook="chunks")
def _unterminated(items: list, ctx: Context) -> list:
    return [b"data: [DONE]" if i == DONE else i for i in items]


@fault("in-band-validation-error", "A streaming request that fails validation gets 200 and an error event "
       "instead of a 4xx, shaped as TGI does (error a string).", [STREAMING, ERRORS],
       ["stream.invalid-request-http-error", "error.status-400-invalid", "stream.in-band-error-recognisable"],
       cite="ST-03", hook="in_band_error")
def _in_band_validation(error: APIError, body: Any) -> list | None:
    if isinstance(body, dict) and body.get("stream") is True and error.status == 400:
        return [{"error": error.message, "error_type": "validation"}]  # TGI's shape; no [DONE] either
    return None


# ================================================================================================
# Chunk content
# ================================================================================================
@fault("chunk-object-wrong", 'Chunks say object "chat.completion".', [STREAMING], ["stream.chunk-object"],
       hook="chunks")
def _chunk_object(items: list, ctx: Context) -> list:
    for chunk in _chunks(items):
        chunk["object"] = "chat.completion"
    return items


@fault("chunk-id-changes", "Every chunk carries a different id.", [STREAMING], ["stream.single-id"],
       cite="ST-19", hook="chunks")
def _chunk_ids(items: list, ctx: Context) -> list:
    for n, chunk in enumerate(_chunks(items)):
        chunk["id"] = f"chatcmpl-{uuid.uuid4().hex[:24]}{n}"
    return items


@fault("chunk-created-changes", "Every chunk carries its own `created` timestamp.", [STREAMING],
       ["stream.single-created"], hook="chunks")
def _chunk_created(items: list, ctx: Context) -> list:
    for n, chunk in enumerate(_chunks(items)):
        chunk["created"] += n
    return items


@fault("empty-first-chunk", 'A first chunk with no choices and empty id, object and model (a prompt-filter '
       'annotation).', [STREAMING], ["stream.chunk-object", "stream.single-id", "stream.chunk-schema"],
       cite="ST-17", hook="chunks")
def _empty_first_chunk(items: list, ctx: Context) -> list:
    annotation = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                  "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    return [annotation] + items


@fault("finish-reason-never", "No chunk carries a non-null `finish_reason`.", [STREAMING],
       ["stream.finish-reason-once"], cite="AD-07", hook="chunks")
def _finish_never(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        entry["finish_reason"] = None
    return items


@fault("finish-reason-repeated", "The chunk carrying `finish_reason` is sent twice.", [STREAMING],
       ["stream.finish-reason-once", "stream.finish-reason-last"], hook="chunks")
def _finish_twice(items: list, ctx: Context) -> list:
    out = []
    for item in items:
        out.append(item)
        if isinstance(item, dict) and any(e.get("finish_reason") for e in item.get("choices") or []):
            out.append(json.loads(json.dumps(item)))
    return out


@fault("finish-reason-empty-string", 'Chunks before the last carry `finish_reason: ""` instead of null.',
       [STREAMING], ["stream.finish-reason-enum", "stream.finish-reason-once"], cite="ST-11", hook="chunks")
def _finish_empty(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        if entry.get("finish_reason") is None:
            entry["finish_reason"] = ""
    return items


@fault("finish-reason-key-dropped", "Chunks before the last omit the `finish_reason` key.", [STREAMING],
       ["stream.finish-reason-key"], cite="ST-22", hook="chunks")
def _finish_key_dropped(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        if entry.get("finish_reason") is None:
            entry.pop("finish_reason", None)
    return items


@fault("in-band-error-chunk", 'The stream ends with an upstream error chunk and `finish_reason: "error"`.',
       [STREAMING], ["stream.finish-reason-enum"], cite="ST-08", hook="chunks")
def _in_band_error_chunk(items: list, ctx: Context) -> list:
    for chunk, entry in _entries(items):
        if entry.get("finish_reason") is not None:
            chunk["error"] = {"code": 502, "message": "Upstream provider returned an error", "metadata": {}}
            entry["finish_reason"] = "error"
    return items


@fault("role-missing", "No delta carries `role`.", [STREAMING], ["stream.role-first"], cite="ST-21", hook="chunks")
def _role_missing(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        (entry.get("delta") or {}).pop("role", None)
    return items


@fault("role-repeated", 'Every delta repeats `role: "assistant"`.', [STREAMING], ["stream.role-first"],
       cite="ST-11", hook="chunks")
def _role_repeated(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        entry.setdefault("delta", {})["role"] = "assistant"
    return items


@fault("usage-chunk-missing", "`stream_options.include_usage` is ignored: no usage chunk.", [STREAMING],
       ["stream.usage-chunk-when-requested"], cite="ST-10", hook="chunks")
def _usage_chunk_missing(items: list, ctx: Context) -> list:
    return [i for i in items if not _is_usage_chunk(i)]


@fault("usage-on-every-chunk", "With include_usage, every chunk carries `usage`, not only the last.", [STREAMING],
       ["stream.usage-null-otherwise", "stream.usage-chunk-when-requested"], cite="ST-12", hook="chunks")
def _usage_everywhere(items: list, ctx: Context) -> list:
    if ctx.usage_requested:
        for chunk in _chunks(items):
            chunk["usage"] = dict(ctx.completion["usage"])
    return items


@fault("usage-unrequested", "A usage chunk is sent although include_usage was not requested.", [STREAMING],
       ["stream.no-usage-unrequested"], cite="ST-13", hook="chunks")
def _usage_unrequested(items: list, ctx: Context) -> list:
    if ctx.usage_requested:
        return items
    last = _chunks(items)[-1]
    usage = {**{k: last[k] for k in ("id", "object", "created", "model")}, "choices": [],
             "usage": ctx.completion["usage"]}
    return _before_done(items, [usage])


@fault("usage-in-content-chunk", "With include_usage, `usage` rides on the last content chunk; no separate "
       "chunk with empty choices.", [STREAMING], ["stream.usage-chunk-choices-empty"], cite="ST-13", hook="chunks")
def _usage_in_content(items: list, ctx: Context) -> list:
    if not ctx.usage_requested:
        return items
    kept = [i for i in items if not _is_usage_chunk(i)]
    _chunks(kept)[-1]["usage"] = ctx.completion["usage"]
    return kept


@fault("tool-call-delta-without-index", "Streamed tool-call deltas carry no `index`.", [STREAMING_TOOLS],
       ["stream.tool-call-index"], cite="ST-26", hook="chunks")
def _tool_delta_no_index(items: list, ctx: Context) -> list:
    for _, _, delta in _tool_deltas(items):
        delta.pop("index", None)
    return items


@fault("tool-call-fragment-dropped", "The first argument fragment of each streamed tool call is lost.",
       [STREAMING_TOOLS], ["stream.tool-call-arguments-json"], cite="ST-31", hook="chunks")
def _tool_fragment_dropped(items: list, ctx: Context) -> list:
    seen: set[tuple[Any, Any]] = set()
    out = []
    for item in items:
        deltas = _tool_deltas([item])
        if len(deltas) == 1:
            _, entry, delta = deltas[0]
            key = (entry.get("index"), delta.get("index"))
            if "id" not in delta and (delta.get("function") or {}).get("arguments") and key not in seen:
                seen.add(key)
                continue
        out.append(item)
    return out


@fault("tool-calls-streamed-as-text", "A streamed tool call arrives as JSON text in `delta.content` with "
       '`finish_reason: "stop"`.', [STREAMING_TOOLS], ["stream.tool-calls-streamed"], cite="ST-29", hook="chunks")
def _tool_calls_as_text(items: list, ctx: Context) -> list:
    calls: dict[Any, list[dict]] = defaultdict(list)
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("choices"):
            out.append(item)
            continue
        entries = []
        for entry in item["choices"]:
            delta = entry.get("delta") or {}
            if "tool_calls" in delta:
                for part in delta["tool_calls"]:
                    if "id" in part:
                        calls[entry["index"]].append({"name": part["function"]["name"], "arguments": ""})
                    calls[entry["index"]][-1]["arguments"] += part["function"].get("arguments", "")
                continue
            if entry.get("finish_reason") == "tool_calls":
                text = json.dumps([{"name": c["name"], "arguments": json.loads(c["arguments"] or "{}")}
                                   for c in calls[entry["index"]]])
                out.append({**item, "choices": [{**entry, "delta": {"content": text}, "finish_reason": None}]})
                entry = {**entry, "finish_reason": "stop"}
            entries.append(entry)
        if entries:
            out.append({**item, "choices": entries})
    return out


@fault("stream-tool-finish-stop", 'A streamed tool call ends with `finish_reason: "stop"`.', [STREAMING_TOOLS],
       ["tool.finish-reason-tool-calls"], cite="ST-27", hook="chunks")
def _stream_tool_stop(items: list, ctx: Context) -> list:
    for _, entry in _entries(items):
        if entry.get("finish_reason") == "tool_calls":
            entry["finish_reason"] = "stop"
    return items


# ================================================================================================
# Response bodies
# ================================================================================================
@fault("usage-missing", "A non-streamed response has no `usage`.", [RESPONSES], ["response.usage-present"],
       hook="completion")
def _usage_missing(payload: dict, ctx: Context) -> dict:
    payload.pop("usage", None)
    return payload


@fault("usage-total-wrong", "`usage.total_tokens` is not prompt_tokens + completion_tokens.", [RESPONSES],
       ["response.usage-total-consistent"], hook="completion")
def _usage_total(payload: dict, ctx: Context) -> dict:
    payload["usage"]["total_tokens"] = payload["usage"]["completion_tokens"]
    return payload


@fault("function-call-beside-tool-calls", "A message with tool_calls also carries the deprecated function_call "
       "(a copy of its first call).", [TOOLS], ["tool.function-call-not-beside-tool-calls"], hook="completion")
def _function_call_beside(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        calls = choice["message"].get("tool_calls")
        if calls:
            choice["message"]["function_call"] = dict(calls[0]["function"])
    return payload


@fault("stream-usage-differs", "The usage chunk counts one completion token more than the same request answered "
       "without streaming.", [STREAMING], ["stream.usage-matches-non-streamed"], hook="chunks")
def _stream_usage_differs(items: list, ctx: Context) -> list:
    for chunk in _chunks(items):
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            usage["completion_tokens"] += 1
            usage["total_tokens"] += 1
    return items


@fault("tool-delta-repeats-id-name", "Every tool-call delta repeats its call's id and function name (the SDK's "
       "stream helper concatenates them).", [STREAMING_TOOLS], ["stream.tool-call-id-name-once"], hook="chunks")
def _tool_delta_repeats(items: list, ctx: Context) -> list:
    first: dict[tuple, dict] = {}
    for _, entry, delta in _tool_deltas(items):
        key = (entry.get("index"), delta.get("index"))
        if key not in first:
            first[key] = delta
            continue
        delta["id"], delta["type"] = first[key].get("id"), "function"
        delta.setdefault("function", {})["name"] = (first[key].get("function") or {}).get("name")
    return items


@fault("created-milliseconds", "`created` is in milliseconds.", [RESPONSES], ["response.created-unix-seconds"],
       cite="AD-02", hook="completion")
def _created_ms(payload: dict, ctx: Context) -> dict:
    payload["created"] *= 1000
    return payload


@fault("created-float", "`created` is a float (seconds with a fraction).", [RESPONSES],
       ["response.created-unix-seconds", "response.schema"], cite="AD-01", hook="completion")
def _created_float(payload: dict, ctx: Context) -> dict:
    payload["created"] += 0.49
    return payload


@fault("finish-reason-eos", '`finish_reason` is "eos", outside the enum.', [RESPONSES],
       ["response.finish-reason-enum"], cite="RS-06", hook="completion")
def _finish_eos(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        if choice["finish_reason"] == "stop":
            choice["finish_reason"] = "eos"
    return payload


@fault("finish-reason-missing", "Choices have no `finish_reason`.", [RESPONSES], ["response.finish-reason-enum"],
       cite="RS-04", hook="completion")
def _finish_missing(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        choice.pop("finish_reason", None)
    return payload


@fault("n-ignored", "`n` is ignored: one choice whatever was asked.", [RESPONSES], ["response.n-choices"],
       cite="PA-15", hook="generation")
def _n_ignored(body: dict) -> dict:
    return {**body, "n": 1}


@fault("choice-indices-duplicate", "Every choice says `index: 0`.", [RESPONSES],
       ["response.choice-indices-distinct"], hook="completion")
def _indices_duplicate(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        choice["index"] = 0
    return payload


@fault("role-not-assistant", 'The message `role` is "model", not "assistant".', [RESPONSES], ["response.schema"],
       hook="completion")
def _role_model(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        choice["message"]["role"] = "model"
    return payload


@fault("content-key-missing", "The message has no `content` key.", [RESPONSES], ["response.message-content-key"],
       hook="completion")
def _content_missing(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        choice["message"].pop("content", None)
    return payload


@fault("content-parts-unread", "A message whose `content` is an array of text parts is answered as if it said "
       "nothing: the reply ignores the parts' text.", [PARAMETERS], ["request.content-parts-accepted"],
       hook="completion")
def _content_parts_unread(payload: dict, ctx: Context) -> dict:
    if any(isinstance(m, dict) and isinstance(m.get("content"), list) for m in ctx.body.get("messages") or []):
        for choice in _choices(payload):
            if isinstance(choice["message"].get("content"), str):
                choice["message"]["content"] = "Hello! How can I help you today?"
    return payload


@fault("object-wrong", '`object` is "text_completion".', [RESPONSES], ["response.object-chat-completion"],
       hook="completion")
def _object_wrong(payload: dict, ctx: Context) -> dict:
    payload["object"] = "text_completion"
    return payload


@fault("id-missing", "The response has no `id`.", [RESPONSES], ["response.id-present"], hook="completion")
def _id_missing(payload: dict, ctx: Context) -> dict:
    payload.pop("id", None)
    return payload


@fault("json-labelled-text", "A JSON completion is sent as Content-Type text/plain.", [RESPONSES],
       ["header.json-content-type"], hook="headers")
def _json_as_text(headers: MutableHeaders, status: int) -> None:
    if status == 200 and headers.get("content-type", "").startswith("application/json"):
        headers["content-type"] = "text/plain; charset=utf-8"


# -- tool calls in a response --------------------------------------------------------------------
@fault("tool-arguments-object", "`function.arguments` is a JSON object, not a string.", [TOOLS],
       ["tool.arguments-json-string"], cite="RS-01", hook="completion")
def _arguments_object(payload: dict, ctx: Context) -> dict:
    for call in _calls(payload):
        call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return payload


@fault("tool-arguments-double-encoded", "`function.arguments` is JSON encoded twice (a string in the string).",
       [TOOLS], ["tool.arguments-json-string"], cite="RS-03", hook="completion")
def _arguments_twice(payload: dict, ctx: Context) -> dict:
    for call in _calls(payload):
        call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    return payload


@fault("tool-call-id-empty", 'Tool calls carry `id: ""`.', [TOOLS], ["tool.call-ids-unique"], cite="RS-12",
       hook="completion")
def _call_id_empty(payload: dict, ctx: Context) -> dict:
    for call in _calls(payload):
        call["id"] = ""
    return payload


@fault("finish-reason-stop-with-tool-calls", 'A choice that calls tools ends with `finish_reason: "stop"`.',
       [TOOLS], ["tool.finish-reason-tool-calls"], cite="RS-07", hook="completion")
def _stop_with_calls(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        if choice["finish_reason"] == "tool_calls":
            choice["finish_reason"] = "stop"
    return payload


@fault("finish-reason-tool-calls-without-calls", 'A plain text answer ends with `finish_reason: "tool_calls"`.',
       [TOOLS], ["tool.finish-reason-tool-calls"], cite="RS-05", hook="completion")
def _tool_calls_without_calls(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        if ctx.body.get("tools") and not choice["message"].get("tool_calls"):
            choice["finish_reason"] = "tool_calls"
    return payload


# ================================================================================================
# Parameter handling
# ================================================================================================
@fault("stop-ignored", "`stop` is ignored: the stop sequence stays in the output.", [RESPONSES],
       ["response.stop-excluded"], hook="generation")
def _stop_ignored(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "stop"}


@fault("max-tokens-ignored", "`max_completion_tokens` (and `max_tokens`) are ignored.", [RESPONSES],
       ["response.max-tokens-respected", "response.finish-reason-length"], cite="PA-20", hook="generation")
def _max_tokens_ignored(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("max_completion_tokens", "max_tokens")}


@fault("finish-reason-stop-when-cut", 'An answer cut by the token cap says `finish_reason: "stop"`, not "length".',
       [RESPONSES], ["response.finish-reason-length"], hook="completion")
def _stop_when_cut(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        if choice["finish_reason"] == "length":
            choice["finish_reason"] = "stop"
    return payload


@fault("json-mode-not-enforced", "`response_format` json_object is accepted but the answer is plain text.",
       [STRUCTURED], ["structured.json-object"], cite="PA-14", hook="generation")
def _json_mode_ignored(body: dict) -> dict:
    if (body.get("response_format") or {}).get("type") == "json_object":
        return {k: v for k, v in body.items() if k != "response_format"}
    return body


@fault("json-schema-not-enforced", "`response_format` json_schema is accepted but the answer does not follow "
       "the schema.", [STRUCTURED], ["structured.json-schema-valid", "structured.json-schema-strict"],
       cite="PA-19", hook="generation")
def _json_schema_ignored(body: dict) -> dict:
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return {**body, "response_format": {"type": "json_object"}}  # JSON, but of its own shape
    return body


@fault("logprobs-dropped", "`logprobs: true` is accepted but no log probabilities come back.", [LOGPROBS],
       ["logprobs.content-shape"], cite="PA-21", hook="generation")
def _logprobs_dropped(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}


@fault("logprobs-legacy-shape", "Log probabilities come in the legacy completions shape (tokens, "
       "token_logprobs), not `logprobs.content`.", [LOGPROBS], ["logprobs.content-shape"], cite="RS-08",
       hook="completion")
def _logprobs_legacy(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        entries = (choice.get("logprobs") or {}).get("content")
        if entries is None:
            continue
        offsets, at = [], 0
        for e in entries:
            offsets.append(at)
            at += len(e["token"])
        choice["logprobs"] = {"tokens": [e["token"] for e in entries],
                              "token_logprobs": [e["logprob"] for e in entries],
                              "top_logprobs": [{a["token"]: a["logprob"] for a in e["top_logprobs"]} for e in entries],
                              "text_offset": offsets}
    return payload


@fault("top-logprobs-one-too-many", "Every token lists one alternative more than `top_logprobs` asked for.",
       [LOGPROBS], ["logprobs.top-logprobs-count"], hook="completion")
def _top_logprobs_extra(payload: dict, ctx: Context) -> dict:
    for choice in _choices(payload):
        for entry in (choice.get("logprobs") or {}).get("content") or []:
            lowest = min(a["logprob"] for a in entry["top_logprobs"] or [entry])
            entry["top_logprobs"].append({"token": " zzz", "logprob": round(lowest - 1, 6), "bytes": list(b" zzz")})
    return payload


@fault("seed-ignored", "`seed` is ignored: the same request and seed give different answers.", [SEED],
       ["request.seed-determinism"], cite="PA-04", hook="generation")
def _seed_ignored(body: dict) -> dict:
    return {**body, "seed": uuid.uuid4().int >> 66}


@fault("tool-choice-none-ignored", '`tool_choice: "none"` is ignored: the model calls a tool anyway.', [TOOLS],
       ["tool.choice-none"], cite="PA-18", hook="generation")
def _choice_none_ignored(body: dict) -> dict:
    return {**body, "tool_choice": "auto"} if body.get("tool_choice") == "none" else body


@fault("tool-choice-required-ignored", '`tool_choice: "required"` yields a text answer and no tool call.',
       [TOOLS], ["tool.choice-required"], cite="PA-17", hook="generation")
def _choice_required_ignored(body: dict) -> dict:
    return {**body, "tool_choice": "none"} if body.get("tool_choice") == "required" else body


@fault("parallel-tool-calls-ignored", "`parallel_tool_calls: false` is ignored: several calls come back.", [TOOLS],
       ["tool.parallel-false-single-call"], cite="PA-10", hook="generation")
def _parallel_ignored(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "parallel_tool_calls"}


@fault("foreign-tool-call-id-rejected", "A replayed conversation is refused unless every tool_call_id is exactly "
       "9 alphanumeric characters.", [TOOLS], ["tool.result-message-accepted"], cite="PA-03", hook="request")
def _nine_char_ids(body: Any) -> Any:
    for i, message in enumerate(body.get("messages") or [] if isinstance(body, dict) else []):
        call_id = message.get("tool_call_id") if isinstance(message, dict) else None
        if isinstance(call_id, str) and not re.fullmatch(r"[a-zA-Z0-9]{9}", call_id):
            raise APIError(400, f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9.",
                           param=f"messages[{i}].tool_call_id", code="invalid_value")
    return body


# ================================================================================================
# Validation
# ================================================================================================
RANGES = {"temperature": (0, 2), "top_p": (0, 1), "presence_penalty": (-2, 2), "frequency_penalty": (-2, 2),
          "n": (1, 128), "top_logprobs": (0, 20)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@fault("out-of-range-clamped", "Out-of-range sampling values are silently clamped into range and accepted.",
       [PARAMETERS], ["request.temperature-range", "request.top-p-range", "request.presence-penalty-range",
                      "request.frequency-penalty-range", "request.n-range", "request.top-logprobs-range",
                      "request.logit-bias-range"], cite="PA-04", hook="request")
def _clamped(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for name, (low, high) in RANGES.items():
        if _number(body.get(name)):
            body[name] = min(max(body[name], low), high)
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {k: min(max(v, -100), 100) if _number(v) else v for k, v in body["logit_bias"].items()}
    return body


@fault("empty-messages-accepted", "An empty `messages` array is answered as if it held an empty user message.",
       [PARAMETERS], ["request.messages-non-empty"], hook="request")
def _empty_messages(body: Any) -> Any:
    if isinstance(body, dict) and body.get("messages") == []:
        return {**body, "messages": [{"role": "user", "content": ""}]}
    return body


ROLES = ("developer", "system", "user", "assistant", "tool", "function")


@fault("unknown-role-accepted", "A message with an unknown `role` is accepted (treated as a user message).",
       [PARAMETERS], ["request.role-enum"], hook="request")
def _unknown_role(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        body = {**body, "messages": [
            {**m, "role": "user"} if isinstance(m, dict) and isinstance(m.get("role"), str) and m["role"] not in ROLES
            else m for m in body["messages"]]}
    return body


@fault("max-completion-tokens-rejected", "`max_completion_tokens` is refused with 422 as an extra input.",
       [PARAMETERS], ["request.max-completion-tokens-accepted"], cite="PA-01", hook="request")
def _max_completion_tokens_rejected(body: Any) -> Any:
    if isinstance(body, dict) and "max_completion_tokens" in body:
        raise APIError(422, "Extra inputs are not permitted", param="max_completion_tokens", code="extra_forbidden")
    return body


@fault("top-p-bounds-rejected", "`top_p` must lie strictly between 0 and 1: the valid bounds 0 and 1 are "
       "refused with 422.", [PARAMETERS], ["request.boundaries-accepted"], cite="PA-22", hook="request")
def _top_p_exclusive(body: Any) -> Any:
    top_p = body.get("top_p") if isinstance(body, dict) else None
    if _number(top_p) and not 0 < top_p < 1:
        raise APIError(422, "`top_p` must be > 0.0 and < 1.0", param="top_p", code="validation")
    return body


@fault("invalid-tool-accepted", "Malformed tool definitions are dropped silently instead of refused.", [TOOLS],
       ["tool.definition-invalid-rejected"], hook="request")
def _invalid_tools_dropped(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("tools"), list):
        valid = [t for t in body["tools"] if isinstance(t, dict) and t.get("type") == "function"
                 and isinstance(t.get("function"), dict) and "name" in t["function"]]
        body = {k: v for k, v in body.items() if k != "tools"} if not valid else {**body, "tools": valid}
    return body


@fault("malformed-format-500", "A malformed `response_format` crashes the server: 500 with an empty message.",
       [STRUCTURED], ["structured.malformed-format-rejected"], cite="PA-12", hook="request")
def _malformed_format_500(body: Any) -> Any:
    fmt = body.get("response_format") if isinstance(body, dict) else None
    if isinstance(fmt, dict) and (fmt.get("type") not in ("text", "json_object", "json_schema")
                                  or (fmt["type"] == "json_schema" and "name" not in (fmt.get("json_schema") or {}))):
        raise APIError(500, "", code=None)
    return body


@fault("validation-422", "Invalid requests get 422 instead of 400.", [PARAMETERS, ERRORS],
       ["error.status-400-invalid"], cite="ER-12", hook="error")
def _status_422(reply: Reply, error: APIError) -> Reply:
    return reply.with_(status=422) if reply.status == 400 else reply


@fault("validation-500", "Invalid requests get 500 instead of 400.", [PARAMETERS, ERRORS],
       ["error.client-error-not-5xx", "error.status-400-invalid"], cite="ER-02", hook="error")
def _status_500(reply: Reply, error: APIError) -> Reply:
    return reply.with_(status=500) if reply.status == 400 else reply


@fault("validation-200", "Invalid requests get 200 (with the error in the body).", [PARAMETERS, ERRORS],
       ["error.status-400-invalid"], cite="ER-05", hook="error")
def _status_200(reply: Reply, error: APIError) -> Reply:
    return reply.with_(status=200) if reply.status == 400 else reply


# ================================================================================================
# Error bodies
# ================================================================================================
@fault("error-plain-text", "Errors are plain text, not JSON.", [ERRORS],
       ["error.content-type-json", "error.envelope"], hook="error")
def _error_text(reply: Reply, error: APIError) -> Reply:
    return reply.with_(raw=error.message.encode("utf-8"), media_type="text/plain; charset=utf-8")


@fault("error-html", "Errors are an HTML page, as a proxy would send.", [ERRORS],
       ["error.content-type-json", "error.envelope"], hook="error")
def _error_html(reply: Reply, error: APIError) -> Reply:
    page = f"<html><head><title>{error.status}</title></head><body><h1>{error.status}</h1></body></html>"
    return reply.with_(raw=page.encode(), media_type="text/html; charset=utf-8")


@fault("error-flat", 'Errors are flat `{"object": "error", "message", "type", "code": 400}` without the '
       '`error` wrapper.', [ERRORS], ["error.envelope"], cite="ER-01", hook="error")
def _error_flat(reply: Reply, error: APIError) -> Reply:
    return reply.with_(payload={"object": "error", "message": error.message, "type": "BadRequestError",
                                "param": error.param, "code": reply.status})


@fault("error-as-string", 'Errors are `{"error": "<message>"}`.', [ERRORS], ["error.envelope"], cite="ER-04",
       hook="error")
def _error_string(reply: Reply, error: APIError) -> Reply:
    return reply.with_(payload={"error": error.message, "error_type": "validation"})


@fault("error-array", "Errors are a JSON array of error objects.", [ERRORS], ["error.envelope"], cite="ER-07",
       hook="error")
def _error_array(reply: Reply, error: APIError) -> Reply:
    return reply.with_(payload=[{"error": {"code": reply.status, "message": error.message,
                                           "status": "INVALID_ARGUMENT"}}])


@fault("error-message-missing", "The error object has no `message`.", [ERRORS], ["error.message-string"],
       hook="error")
def _error_no_message(reply: Reply, error: APIError) -> Reply:
    body = error.body()
    body["error"].pop("message")
    return reply.with_(payload=body)


@fault("error-message-object", "`error.message` is a list of validation details, not a string.", [ERRORS],
       ["error.message-string"], cite="ER-06", hook="error")
def _error_message_object(reply: Reply, error: APIError) -> Reply:
    body = error.body()
    body["error"]["message"] = [{"type": "value_error", "loc": ["body", error.param], "msg": error.message}]
    return reply.with_(payload=body)


@fault("error-code-integer", "`error.code` is the HTTP status as an integer.", [ERRORS], ["error.code-key"],
       cite="ER-09", hook="error")
def _error_code_int(reply: Reply, error: APIError) -> Reply:
    body = error.body()
    body["error"]["code"] = reply.status
    return reply.with_(payload=body)


@fault("error-empty-401", "A 401 has an empty body and no Content-Type.", [ERRORS, AUTH],
       ["error.envelope", "error.content-type-json", "error.message-string"], cite="ER-11", hook="error")
def _error_empty_401(reply: Reply, error: APIError) -> Reply:
    return reply.with_(raw=b"", media_type=None) if reply.status == 401 else reply


@fault("unknown-path-html", "An unknown path gets an HTML 404 page.", [ERRORS], ["error.unknown-path-404"],
       hook="error")
def _unknown_path_html(reply: Reply, error: APIError) -> Reply:
    if error.code != "unknown_url":
        return reply
    return reply.with_(raw=b"<html><body><h1>404 Not Found</h1></body></html>", media_type="text/html")


# ================================================================================================
# Headers and authentication
# ================================================================================================
@fault("no-request-id", "No response carries `x-request-id`.", [HEADERS],
       ["header.request-id", "header.request-id-on-errors"], cite="HD-03", hook="headers")
def _no_request_id(headers: MutableHeaders, status: int) -> None:
    del headers["x-request-id"]


@fault("no-request-id-on-errors", "Error responses carry no `x-request-id`.", [HEADERS],
       ["header.request-id-on-errors"], hook="headers")
def _no_request_id_on_errors(headers: MutableHeaders, status: int) -> None:
    if status >= 400:
        del headers["x-request-id"]


@fault("constant-request-id", "Every response carries the same `x-request-id`.", [HEADERS], ["header.request-id"],
       hook="headers")
def _constant_request_id(headers: MutableHeaders, status: int) -> None:
    headers["x-request-id"] = "req_0000000000000000"


@fault("no-ratelimit-headers", "No `x-ratelimit-*` headers.", [HEADERS], ["header.ratelimit"], hook="headers")
def _no_ratelimit(headers: MutableHeaders, status: int) -> None:
    for name in [k for k in headers.keys() if k.startswith("x-ratelimit-")]:
        del headers[name]


@fault("any-key-accepted", "Any key, or none, is accepted.", [AUTH, ERRORS],
       ["auth.wrong-key-401", "auth.missing-key-401", "error.status-401-auth"], cite="HD-04", hook="authenticate")
def _any_key(headers: Headers, default: Any) -> str:
    try:
        return default(headers)
    except APIError as error:
        if error.status == 401:
            return "anonymous"
        raise


@fault("bearer-only", "A key in the `api-key` header is refused; only `Authorization: Bearer` works.", [AUTH],
       ["auth.api-key-header-accepted"], hook="authenticate")
def _bearer_only(headers: Headers, default: Any) -> str:
    if headers.get("authorization") is None:
        raise APIError(401, "Missing bearer authentication in header.", code="invalid_api_key")
    return default(headers)


@fault("api-key-header-only", "`Authorization: Bearer` is refused; only the `api-key` header works.", [AUTH],
       ["auth.bearer-accepted"], cite="HD-01", hook="authenticate")
def _api_key_only(headers: Headers, default: Any) -> str:
    key = headers.get("api-key")
    if key is None:
        raise APIError(401, "Access denied due to missing subscription key. Make sure to include the key in the "
                            "'api-key' header.", code="invalid_api_key")
    return default(Headers(headers={"api-key": key}))


@fault("malformed-auth-accepted", "An Authorization header with another scheme (`Token <key>`) is accepted.",
       [AUTH], ["auth.malformed-header-401"], hook="authenticate")
def _other_scheme(headers: Headers, default: Any) -> str:
    parts = (headers.get("authorization") or "").split()
    if len(parts) == 2 and parts[0].lower() != "bearer":
        return default(Headers(headers={"authorization": f"Bearer {parts[1]}"}))
    return default(headers)


@fault("auth-failure-403", "A missing or wrong key gets 403 instead of 401.", [AUTH, ERRORS],
       ["auth.wrong-key-401", "auth.missing-key-401", "error.status-401-auth"], hook="authenticate")
def _auth_403(headers: Headers, default: Any) -> str:
    try:
        return default(headers)
    except APIError as error:
        if error.status == 401:
            raise APIError(403, "Forbidden.", code="forbidden") from None
        raise


# ================================================================================================
# Stored completions
# ================================================================================================
@fault("stored-retrieval-404", "`store: true` is accepted, the messages are listed, but GET of the completion "
       "itself is 404.",
       [STORED], ["stored.retrieve-same"], hook="lookup")
def _never_stored(found: Stored | None, route: str) -> Stored | None:
    return None if route == "completion" else found


@fault("stored-content-differs", "A retrieved completion's content differs from what was returned.", [STORED],
       ["stored.retrieve-same"], hook="lookup")
def _retrieved_differs(found: Stored | None, route: str) -> Stored | None:
    if found is None or route != "completion":
        return found
    completion = json.loads(json.dumps(found.completion))
    for choice in _choices(completion):
        content = choice["message"].get("content")
        if isinstance(content, str):
            choice["message"]["content"] = " ".join(reversed(content.split())) + " (regenerated)"
    return Stored(completion, found.messages)


@fault("stored-messages-bare-list", "The messages listing is a bare JSON array, not a list object.", [STORED],
       ["stored.messages-list-envelope"], hook="listing")
def _bare_listing(page: dict) -> Any:
    return page["data"]


@fault("stored-messages-reversed", "Stored messages are listed newest first by default.", [STORED],
       ["stored.messages-match-request"], hook="listing")
def _reversed_listing(page: dict) -> Any:
    data = list(reversed(page["data"]))
    return {**page, "data": data, "first_id": page["last_id"], "last_id": page["first_id"]}


@fault("stored-unknown-id-500", "An unknown completion id gets 500 instead of 404.", [STORED],
       ["stored.unknown-id-404"], hook="lookup")
def _unknown_id_500(found: Stored | None, route: str) -> Stored | None:
    if found is None:
        raise APIError(500, "The server had an error while processing your request.", code="internal_error")
    return found


@fault("stored-without-store", "Every completion is retrievable, also those created without `store: true`.",
       [STORED], ["stored.retrieve-not-stored-404"], hook="store")
def _store_everything(keep: bool) -> bool:
    return True


# ================================================================================================
# Legal variations: the suites must accept every one of these without a failure or a warning
# ================================================================================================
declare_variation("crlf-line-endings", "SSE lines end with CRLF.", STREAMS, framing={"newline": "\r\n"})
declare_variation("cr-line-endings", "SSE lines end with a lone CR (legal, rarely seen).", STREAMS,
                  framing={"newline": "\r"})
declare_variation("keep-alive-comments", "SSE comment lines (`: keep-alive`) before the events.", STREAMS,
                  framing={"comment_every": 2}, cite="ST-05")
declare_variation("data-without-space", "`data:{...}` without the optional space.", STREAMS,
                  framing={"space": False})
declare_variation("split-network-reads", "Every event arrives in small pieces, split inside lines and "
                  "line endings.", STREAMS, framing={"split_writes": True})
declare_variation("sse-id-event-retry-fields", "Events carry `id:` and `event: message` fields; the stream "
                  "opens with `retry:`.", STREAMS, framing={"event_ids": True, "retry_field": True})
declare_variation("multi-line-data", "Each chunk's JSON is spread over several `data:` lines.", STREAMS,
                  framing={"multiline": True})


def _add_vendor_fields(value: Any, depth: int = 0) -> Any:
    """An unknown field in every object down to the messages and deltas (not inside arguments or
    schemas: those are the client's own data)."""
    if isinstance(value, dict):
        out = {k: _add_vendor_fields(v, depth + 1) if k in ("choices", "message", "delta", "usage", "error")
               else v for k, v in value.items()}
        out["x_vendor"] = {"trace": "chatconform", "depth": depth}
        return out
    if isinstance(value, list):
        return [_add_vendor_fields(v, depth + 1) for v in value]
    return value


@variation("unknown-extra-fields", "Unknown extra fields in bodies, choices, messages, chunks, deltas and error "
           "envelopes.", EVERY_SUITE, cite="RS-14")
class _VendorFields:
    def completion(payload: dict, ctx: Context) -> dict:
        return _add_vendor_fields(payload)

    def chunks(items: list, ctx: Context) -> list:
        return [_add_vendor_fields(i) if isinstance(i, dict) else i for i in items]

    def reply(reply: Reply) -> Reply:
        if isinstance(reply.payload, dict) and "x_vendor" not in reply.payload:
            return reply.with_(payload={**reply.payload, "x_vendor": {"trace": "chatconform"}})
        return reply

    def error(reply: Reply, error: APIError) -> Reply:
        body = error.body()
        body["error"]["innererror"] = {"code": "ResponsibleAIPolicyViolation", "detail": None}
        body["x_vendor"] = {"trace": "chatconform"}
        return reply.with_(payload=body)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@variation("reordered-json-keys", "Every JSON object's keys come in reverse order.", EVERY_SUITE)
class _Reordered:
    def chunks(items: list, ctx: Context) -> list:
        return [_reordered(i) if isinstance(i, dict) else i for i in items]

    def reply(reply: Reply) -> Reply:
        return reply.with_(payload=_reordered(reply.payload))

    def error(reply: Reply, error: APIError) -> Reply:
        return reply.with_(payload=_reordered(reply.payload))


@variation("optional-fields-null", "Optional fields are present as null (system_fingerprint, service_tier, "
           "audio, refusal in deltas, usage without include_usage).", (RESPONSES, STREAMING, STREAMING_TOOLS, TOOLS))
class _Nulls:
    def completion(payload: dict, ctx: Context) -> dict:
        payload["system_fingerprint"] = None
        payload["service_tier"] = None
        for choice in _choices(payload):
            choice["message"]["audio"] = None
        return payload

    def chunks(items: list, ctx: Context) -> list:
        for chunk in _chunks(items):
            chunk["system_fingerprint"] = None
            chunk["service_tier"] = None
            chunk.setdefault("usage", None)
            for entry in chunk.get("choices") or []:
                entry.setdefault("delta", {}).setdefault("refusal", None)
        return items


@variation("header-case-and-charset", "Header names in mixed case (`X-Request-ID`), `charset=utf-8` on JSON "
           "content types.", (RESPONSES, STREAMING, ERRORS, HEADERS, AUTH), hook="headers")
def _header_case(headers: MutableHeaders, status: int) -> None:
    if headers.get("content-type") == "application/json":
        headers["content-type"] = "application/json; charset=utf-8"
    raw_list = headers.raw
    for i, (name, value) in enumerate(raw_list):
        text = name.decode("latin-1")
        raw_list[i] = ("X-Request-ID" if text == "x-request-id" else text.title()).encode("latin-1"), value


RETRIED_REQUESTS = 2  # only the first few: each retry costs the client a Retry-After second


@variation("rate-limited-then-success", "The first two valid completion requests get 429 with `Retry-After: 1`; "
           "the retries succeed.", (RESPONSES, STREAMING), hook="gate")
def _429_first(state: dict) -> APIError | None:
    state["seen"] = state.get("seen", 0) + 1
    if state["seen"] <= RETRIED_REQUESTS:
        return APIError(429, "Rate limit reached for requests. Please try again in 1s.", code="rate_limit_exceeded",
                        headers={"Retry-After": "1"})
    return None


@variation("overloaded-then-success", "The first two valid completion requests get 503 with `Retry-After: 1`; "
           "the retries succeed.", (RESPONSES, STREAMING), hook="gate")
def _503_first(state: dict) -> APIError | None:
    state["seen"] = state.get("seen", 0) + 1
    if state["seen"] <= RETRIED_REQUESTS:
        return APIError(503, "The server is overloaded. Please try again shortly.", code="overloaded",
                        headers={"Retry-After": "1"})
    return None


@variation("finish-reason-with-last-token", "The last content delta and `finish_reason` share one chunk (no "
           "separate empty-delta chunk).", STREAMS, cite="ST-24", hook="chunks")
def _finish_with_last(items: list, ctx: Context) -> list:
    out: list = []
    last_of: dict[Any, dict] = {}  # choice index -> its latest entry already in out
    for item in items:
        entries = item.get("choices") if isinstance(item, dict) else None
        if entries and len(entries) == 1:
            entry = entries[0]
            previous = last_of.get(entry["index"])
            if entry.get("finish_reason") and entry.get("delta") == {} and previous is not None:
                previous["finish_reason"] = entry["finish_reason"]
                continue
            last_of[entry["index"]] = entry
        out.append(item)
    return out


@variation("whole-tool-call-in-one-delta", "Each streamed tool call arrives whole in its first delta (id, name and "
           "all arguments).", [STREAMING_TOOLS], hook="chunks")
def _whole_tool_call(items: list, ctx: Context) -> list:
    out: list = []
    heads: dict[tuple[Any, Any], dict] = {}
    for item in items:
        deltas = _tool_deltas([item])
        if len(deltas) == 1:
            _, entry, delta = deltas[0]
            key = (entry["index"], delta.get("index"))
            if "id" in delta:
                heads[key] = delta
            elif key in heads:
                heads[key]["function"]["arguments"] += (delta.get("function") or {}).get("arguments", "")
                continue
        out.append(item)
    return out


@variation("json-whitespace", "JSON bodies are pretty-printed and start with blank lines.",
           (RESPONSES, ERRORS, TOOLS, STORED), cite="ST-06")
class _Whitespace:
    def reply(reply: Reply) -> Reply:
        return reply.with_(raw=b"\n\n" + json.dumps(reply.payload, indent=2, ensure_ascii=False).encode("utf-8"))

    def error(reply: Reply, error: APIError) -> Reply:
        return reply.with_(raw=b"\n\n" + json.dumps(reply.payload, indent=2, ensure_ascii=False).encode("utf-8"))


# ================================================================================================
# Hostile behaviours: run with a short --request-timeout; the suites must end, failing, in bounded time
# ================================================================================================
HOSTILE_SUITES = (STREAMING, RESPONSES)

hostile("hostile-no-headers", "Accepts the request and never sends a status line or headers.", HOSTILE_SUITES,
        ["stream.done-terminates", "response.schema"])(raw.never_respond)
hostile("hostile-stall-mid-response", "Sends headers and part of the body, then nothing, keeping the "
        "connection open.", HOSTILE_SUITES, ["stream.done-terminates", "response.schema"])(raw.stall)
hostile("hostile-endless-stream", "A 200 body that never ends: chunk after chunk, or one endless JSON string.",
        HOSTILE_SUITES, ["stream.done-terminates", "response.schema"])(raw.endless)
hostile("hostile-oversized-body", "A well-formed answer of 16 MiB, four times the suite's body cap.",
        HOSTILE_SUITES, ["stream.done-terminates", "response.schema"])(raw.oversized)
hostile("hostile-invalid-utf8", "The answer's content contains bytes that are not UTF-8.", HOSTILE_SUITES,
        ["stream.sse-framing", "response.schema"])(raw.invalid_utf8)
hostile("hostile-connection-reset", "Sends part of the body, then resets the TCP connection.", HOSTILE_SUITES,
        ["stream.done-terminates", "response.schema"])(raw.reset)
hostile("hostile-slow-drip", "Sends the answer one byte every half second, forever inside the read timeout.",
        HOSTILE_SUITES, ["stream.done-terminates", "response.schema"])(raw.slow_drip)
