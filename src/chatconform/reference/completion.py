"""The JSON bodies of a finished generation: CreateChatCompletionResponse and its stream chunks.

Both are built from the same Generation, so the concatenated stream deltas equal the
non-streamed message for the same request by construction.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatconform import __version__
from chatconform.reference.generator import Call, Choice, Generation

SYSTEM_FINGERPRINT = "fp_ref_" + __version__.replace(".", "_")


def usage(gen: Generation) -> dict:
    return {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "total_tokens": gen.prompt_tokens + gen.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call(call: Call) -> dict:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _choice_logprobs(gen: Generation, choice: Choice) -> dict | None:
    if not gen.logprobs:
        return None
    return {"content": choice.logprobs if choice.content is not None else None, "refusal": None}


def completion_body(gen: Generation, *, completion_id: str, created: int, model: str) -> dict:
    choices = []
    for choice in gen.choices:
        message: dict = {"role": "assistant", "content": choice.content, "refusal": None}
        if choice.tool_calls:
            message["tool_calls"] = [_tool_call(c) for c in choice.tool_calls]
        if choice.function_call:
            message["function_call"] = {"name": choice.function_call.name,
                                        "arguments": choice.function_call.arguments}
        choices.append({
            "index": choice.index,
            "message": message,
            "logprobs": _choice_logprobs(gen, choice),
            "finish_reason": choice.finish_reason,
        })
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage(gen),
        "service_tier": "default",  # the only tier there is; a requested tier is accepted, not honoured
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _choice_events(gen: Generation, choice: Choice) -> Iterator[dict]:
    """The `choices[]` entries one choice contributes to the stream, in order."""
    def event(delta: dict, logprobs: dict | None = None, finish_reason: str | None = None) -> dict:
        return {"index": choice.index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}

    yield event({"role": "assistant", "content": "" if choice.content is not None else None})
    for position, token in enumerate(choice.tokens):
        logprobs = None
        if gen.logprobs:
            logprobs = {"content": [choice.logprobs[position]], "refusal": None}
        yield event({"content": token.text}, logprobs)
    for k, call in enumerate(choice.tool_calls):
        yield event({"tool_calls": [{"index": k, "id": call.id, "type": "function",
                                     "function": {"name": call.name, "arguments": ""}}]})
        for piece in call.pieces:
            yield event({"tool_calls": [{"index": k, "function": {"arguments": piece.text}}]})
    if choice.function_call:
        yield event({"function_call": {"name": choice.function_call.name, "arguments": ""}})
        for piece in choice.function_call.pieces:
            yield event({"function_call": {"arguments": piece.text}})
    yield event({}, None, choice.finish_reason)


def stream_chunks(gen: Generation, body: dict, include_usage: bool) -> Iterator[dict]:
    """CreateChatCompletionStreamResponse objects; choices take turns, one entry per chunk."""
    base = {key: body[key] for key in ("id", "created", "model", "service_tier", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    pending = [_choice_events(gen, c) for c in gen.choices]
    while pending:
        still = []
        for events in pending:
            entry = next(events, None)
            if entry is None:
                continue
            still.append(events)
            chunk = {**base, "choices": [entry]}
            if include_usage:
                chunk["usage"] = None
            yield chunk
        pending = still
    if include_usage:
        yield {**base, "choices": [], "usage": body["usage"]}
