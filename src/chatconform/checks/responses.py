"""A non-streamed chat.completion: its schema, and what its fields must say about each other."""

from __future__ import annotations

import time
from typing import Any

from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
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
    if usage is None:  # usage is optional in the spec; its presence is response.usage-present's
        raise NotJudged("response.usage-total-consistent", "the completion reports no usage", exchange)
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


def _completion_tokens(body: dict[str, Any]) -> int | None:
    usage = body.get("usage")
    used = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return used if isinstance(used, int) and not isinstance(used, bool) else None


def _words(text: str) -> int:
    # every whitespace-separated word is at least one token, so this is a lower bound on the tokens
    return len(text.split())


def _baseline_reply(baseline: Exchange, requirement: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, its single choice) of the deterministic baseline, or NotJudged: without it there is
    no knowing what the model would have produced."""
    try:
        body = completion_body(baseline, requirement)
        found = choices(baseline, requirement)
    except ConformanceFailure as exc:
        raise NotJudged(requirement, f"the baseline request got no usable completion ({exc.received})",
                        baseline) from None
    if len(found) != 1:
        raise NotJudged(requirement, f"the baseline has {len(found)} choices, not one", baseline)
    return body, found[0]


def cap_ignored(exchange: Exchange, cap: int, baseline_content: str | None, requirement: str) -> str | None:
    """Why the reply shows the cap was not applied (more completion tokens than the cap, or the
    baseline's whole reply under finish_reason "stop"), or None when it was."""
    body = completion_body(exchange, requirement)
    used = _completion_tokens(body)
    if used is not None and used > cap:
        return f"usage.completion_tokens {used} > cap {cap}"
    for c in choices(exchange, requirement):
        text = content(c)
        if used is None and _words(text) > cap:
            return f"{_words(text)} words under a cap of {cap} tokens"
        if c.get("finish_reason") == "stop" and baseline_content and text == baseline_content and \
                _words(baseline_content) > cap:
            return "the baseline's whole reply, not cut"
    return None


def tokens_needed(baseline: Exchange) -> int | None:
    """How many completion tokens the baseline's reply took (its usage, else its word count), or
    None without a usable single-choice baseline."""
    try:
        body = baseline.json()
        found = body["choices"]
        if not (200 <= (baseline.status or 0) < 300 and isinstance(found, list) and len(found) == 1):
            return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    needed = _completion_tokens(body)
    return needed if needed is not None else _words(content(found[0]) if isinstance(found[0], dict) else "")


def _needed(baseline: Exchange, requirement: str, cap: int) -> int:
    """The baseline's token count, or NotJudged when a cap of ``cap`` would not cut its reply."""
    _baseline_reply(baseline, requirement)
    needed = tokens_needed(baseline) or 0
    if needed <= cap:
        raise NotJudged(requirement, f"the baseline reply needs only {needed} tokens, within the cap of {cap}",
                        baseline)
    return needed


@check("response.finish-reason-length")
def finish_reason_length(exchange: Exchange, baseline: Exchange, cap: int) -> None:
    """For the baseline request with only the token cap changed (``cap`` below what the baseline
    used): the reply is cut, so finish_reason is "length". Not judged when the baseline fits under
    the cap, or when the cap was ignored (that is response.max-tokens-respected's failure)."""
    requirement = "response.finish-reason-length"
    _, base_choice = _baseline_reply(baseline, requirement)
    needed = _needed(baseline, requirement, cap)
    ignored = cap_ignored(exchange, cap, content(base_choice), requirement)
    if ignored:
        raise NotJudged(requirement, f"the reply was not cut ({ignored}): the cap was ignored, which is "
                                     "response.max-tokens-respected's failure", exchange)
    for c in choices(exchange, requirement):
        if c.get("finish_reason") != "length":
            raise ConformanceFailure(requirement, 'finish_reason "length" when the token cap cut the output',
                                     f"finish_reason={c.get('finish_reason')!r}, content={content(c)!r} (the "
                                     f"baseline needs {needed} tokens, the cap is {cap})", exchange)


@check("response.max-tokens-respected")
def max_tokens_respected(exchange: Exchange, limit: int, baseline: Exchange | None = None) -> None:
    """No more completion tokens than the cap. With the baseline (the same request uncapped), not
    judged when the baseline itself fits under the cap: a reply that stops by itself proves nothing."""
    requirement = "response.max-tokens-respected"
    body = completion_body(exchange, requirement)
    used = _completion_tokens(body)
    if used is not None and used > limit:
        raise ConformanceFailure(requirement, f"usage.completion_tokens <= {limit}", used, exchange)
    if used is None:
        words = max((_words(content(c)) for c in choices(exchange, requirement)), default=0)
        if words > limit:  # each word is at least one token
            raise ConformanceFailure(requirement, f"at most {limit} completion tokens",
                                     f"{words} words (and no usage.completion_tokens)", exchange)
    if baseline is not None:
        _needed(baseline, requirement, limit)
    if used is None:
        raise NotJudged(requirement, "no usage.completion_tokens to compare with the cap", exchange)


def stop_request_word(exchange: Exchange) -> str | None:
    request = exchange.request_json if isinstance(exchange.request_json, dict) else {}
    stop = request.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    return stops[0] if len(stops) == 1 and stops[0] else None


def _stop_outcome(exchange: Exchange, baseline: Exchange, requirement: str) -> tuple[dict[str, Any], str, bool]:
    """(the stopped choice, the stop word, whether the reply is the baseline cut right before the
    stop word): only such a reply shows the model produced the stop text and the server acted on it."""
    _, base_choice = _baseline_reply(baseline, requirement)
    word = stop_request_word(exchange)
    base_text = content(base_choice)
    if word is None or word not in base_text:
        raise NotJudged(requirement, f"the stop sequence {word!r} is not in the baseline reply {base_text!r}",
                        baseline)
    found = choices(exchange, requirement)
    if len(found) != 1:
        raise NotJudged(requirement, f"{len(found)} choices, not one", exchange)
    text = content(found[0])
    expected = base_text[: base_text.find(word)]
    return found[0], word, word not in text and text.strip() == expected.strip()


@check("response.stop-excluded")
def stop_excluded(exchange: Exchange, stop: list[str] | None = None, baseline: Exchange | None = None) -> None:
    """The stop sequence is not in the content. With the baseline (the same request without
    ``stop``), judged only when the model can be seen to have produced the stop text (the reply is
    the baseline cut right before it); without one, only a stop sequence in the content is judged
    (a failure): its absence proves nothing."""
    requirement = "response.stop-excluded"
    if baseline is None:
        for c in choices(exchange, requirement):
            hit = [s for s in stop or [] if s in content(c)]
            if hit:
                raise ConformanceFailure(requirement, f"the stop sequence {hit[0]!r} not in the content",
                                         content(c), exchange)
        raise NotJudged(requirement, "no baseline: the model may never have produced the stop sequence", exchange)
    choice, word, reached = _stop_outcome(exchange, baseline, requirement)
    if word in content(choice):
        raise ConformanceFailure(requirement, f"the stop sequence {word!r} not in the content", content(choice),
                                 exchange)
    if not reached:
        raise NotJudged(requirement, f"the model never produced the stop text {word!r}: the reply "
                                     f"{content(choice)!r} is not the baseline cut before it", exchange)


@check("response.finish-reason-stop")
def finish_reason_stop(exchange: Exchange, baseline: Exchange) -> None:
    """For the baseline request with a stop sequence taken from the baseline's own reply: once the
    stop sequence ended the output, finish_reason is "stop"."""
    requirement = "response.finish-reason-stop"
    choice, word, reached = _stop_outcome(exchange, baseline, requirement)
    if word in content(choice):
        raise NotJudged(requirement, f"the stop sequence {word!r} did not end the output (see "
                                     "response.stop-excluded)", exchange)
    if not reached:
        raise NotJudged(requirement, f"the model never produced the stop text {word!r}: the reply "
                                     f"{content(choice)!r} is not the baseline cut before it", exchange)
    if choice.get("finish_reason") != "stop":
        raise ConformanceFailure(requirement, 'finish_reason "stop" when a stop sequence ended the output',
                                 f"finish_reason={choice.get('finish_reason')!r}, content={content(choice)!r}",
                                 exchange)
