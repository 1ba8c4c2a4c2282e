"""A non-streamed chat.completion: its schema, and what its fields must say about each other."""

from __future__ import annotations

import time
from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure
from . import check
from .common import success_object
from .schema import check_presence, check_schema

SCHEMA = "CreateChatCompletionResponse"
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")
CLOCK_SKEW = 24 * 3600  # generous: we test the unit (seconds, not ms), not the vendor's NTP


def completion_body(exchange: Exchange, requirement: str) -> dict[str, Any]:
    return success_object(exchange, requirement)


def choices(exchange: Exchange, requirement: str) -> list[dict[str, Any]]:
    value = completion_body(exchange, requirement).get("choices")
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ConformanceFailure(requirement, "choices: a list of objects", value, exchange)
    return value


@check("response.schema")
def schema(exchange: Exchange) -> None:
    check_schema(completion_body(exchange, "response.schema"), SCHEMA, "response.schema", exchange)


def _presence(requirement: str) -> Any:
    def presence(exchange: Exchange) -> None:
        check_presence(completion_body(exchange, requirement), SCHEMA, requirement, exchange)

    # named before registering, so each presence check gets its own registry entry
    presence.__name__ = requirement.split(".", 1)[1].replace("-", "_")
    return check(requirement)(presence)


message_refusal_key = _presence("response.message-refusal-key")
choice_logprobs_key = _presence("response.choice-logprobs-key")
message_content_key = _presence("response.message-content-key")


@check("response.object-chat-completion")
def object_is_chat_completion(exchange: Exchange) -> None:
    body = completion_body(exchange, "response.object-chat-completion")
    if body.get("object") != "chat.completion":
        raise ConformanceFailure("response.object-chat-completion", 'object: "chat.completion"', body.get("object"), exchange)


@check("response.created-unix-seconds")
def created_unix_seconds(exchange: Exchange) -> None:
    created = completion_body(exchange, "response.created-unix-seconds").get("created")
    now = time.time()
    if isinstance(created, bool) or not isinstance(created, int):
        raise ConformanceFailure("response.created-unix-seconds", "an integer Unix timestamp in seconds",
                                 f"{type(created).__name__} {created!r}", exchange)
    if abs(created - now) > CLOCK_SKEW:
        unit = " (looks like milliseconds)" if created > now * 100 else ""
        raise ConformanceFailure("response.created-unix-seconds", f"Unix seconds near now ({int(now)})",
                                 f"{created}{unit}", exchange)


@check("response.usage-total-consistent")
def usage_total_consistent(exchange: Exchange) -> None:
    usage = completion_body(exchange, "response.usage-total-consistent").get("usage")
    if usage is None:
        return  # usage is optional in the spec; its presence is not this requirement
    try:
        ok = usage["prompt_tokens"] + usage["completion_tokens"] == usage["total_tokens"]
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ConformanceFailure("response.usage-total-consistent", "total_tokens == prompt_tokens + completion_tokens",
                                 usage, exchange)


@check("response.usage-present")
def usage_present(exchange: Exchange) -> None:
    usage = completion_body(exchange, "response.usage-present").get("usage")
    if not isinstance(usage, dict):
        raise ConformanceFailure("response.usage-present", "a usage object",
                                 "no usage" if usage is None else repr(usage), exchange)


@check("response.n-choices")
def n_choices(exchange: Exchange, n: int) -> None:
    got = choices(exchange, "response.n-choices")
    if len(got) != n:
        raise ConformanceFailure("response.n-choices", f"{n} choices for n={n}", f"{len(got)} choices", exchange)


@check("response.choice-indices-distinct")
def choice_indices(exchange: Exchange) -> None:
    indices = [c.get("index") for c in choices(exchange, "response.choice-indices-distinct")]
    if sorted(i for i in indices if isinstance(i, int)) != list(range(len(indices))):
        raise ConformanceFailure("response.choice-indices-distinct", f"indices 0..{len(indices) - 1}, each once",
                                 indices, exchange)


@check("response.finish-reason-enum")
def finish_reason_enum(exchange: Exchange) -> None:
    for c in choices(exchange, "response.finish-reason-enum"):
        if c.get("finish_reason") not in FINISH_REASONS:
            raise ConformanceFailure("response.finish-reason-enum", f"finish_reason one of {FINISH_REASONS}",
                                     c.get("finish_reason"), exchange)


@check("response.model-present")
def model_present(exchange: Exchange) -> None:
    model = completion_body(exchange, "response.model-present").get("model")
    if not isinstance(model, str) or not model:
        raise ConformanceFailure("response.model-present", "a non-empty model string", model, exchange)


@check("response.id-present")
def id_present(exchange: Exchange) -> None:
    value = completion_body(exchange, "response.id-present").get("id")
    if not isinstance(value, str) or not value:
        raise ConformanceFailure("response.id-present", "a non-empty id string", value, exchange)


def content(choice: dict[str, Any]) -> str:
    message = choice.get("message") or {}
    value = message.get("content") if isinstance(message, dict) else None
    return value if isinstance(value, str) else ""


@check("response.finish-reason-length")
def finish_reason_length(exchange: Exchange) -> None:
    """For a request whose token cap is far below what the prompt asks for."""
    for c in choices(exchange, "response.finish-reason-length"):
        if c.get("finish_reason") != "length":
            raise ConformanceFailure("response.finish-reason-length", 'finish_reason "length" when the token cap cut the output',
                                     f"finish_reason={c.get('finish_reason')!r}, content={content(c)!r}", exchange)


@check("response.max-tokens-respected")
def max_tokens_respected(exchange: Exchange, limit: int) -> None:
    body = completion_body(exchange, "response.max-tokens-respected")
    used = (body.get("usage") or {}).get("completion_tokens")
    if isinstance(used, int) and used > limit:
        raise ConformanceFailure("response.max-tokens-respected", f"usage.completion_tokens <= {limit}", used, exchange)


@check("response.stop-excluded")
def stop_excluded(exchange: Exchange, stop: list[str]) -> None:
    for c in choices(exchange, "response.stop-excluded"):
        hit = [s for s in stop if s in content(c)]
        if hit:
            raise ConformanceFailure("response.stop-excluded", f"the stop sequence {hit[0]!r} not in the content",
                                     content(c), exchange)


@check("response.finish-reason-stop")
def finish_reason_stop(exchange: Exchange) -> None:
    """For a request whose stop sequence occurs in the answer the prompt asks for."""
    for c in choices(exchange, "response.finish-reason-stop"):
        if c.get("finish_reason") != "stop":
            raise ConformanceFailure("response.finish-reason-stop", 'finish_reason "stop" when a stop sequence ended the output',
                                     f"finish_reason={c.get('finish_reason')!r}, content={content(c)!r}", exchange)
