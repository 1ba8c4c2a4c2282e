"""The grammar of a streamed chat completion: framing, chunks, termination, usage, tool-call deltas.

The byte stream has already been parsed by :mod:`chatconform.sse`, which accepts every legal
SSE framing; these checks judge only what the events say.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ..client import DONE, Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response
from .schema import check_presence, check_schema

CHUNK_SCHEMA = "CreateChatCompletionStreamResponse"
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


def _usable_stream(exchange: Exchange, requirement: str) -> None:
    require_response(exchange)
    if not 200 <= exchange.status < 300:  # type: ignore[operator]
        raise ConformanceFailure(requirement, "a 2xx streamed response", exchange.excerpt(), exchange)


def chunks(exchange: Exchange, requirement: str) -> list[dict[str, Any]]:
    """The JSON chunks before [DONE]; an event that is not a JSON object fails ``requirement``."""
    _usable_stream(exchange, requirement)
    out = []
    for n, event in enumerate(exchange.data_events()):
        try:
            value = json.loads(event.data)
        except ValueError:
            raise ConformanceFailure(
                requirement, "every data event before [DONE] to be JSON", f"event #{n}: {event.data!r}", exchange
            ) from None
        if not isinstance(value, dict):
            raise ConformanceFailure(requirement, "every data event to be a JSON object", f"event #{n}: {event.data!r}", exchange)
        out.append(value)
    return out


def _choice_entries(items: list[dict[str, Any]]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """choice index -> [(chunk number, choice entry)] in stream order."""
    by_index: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for n, chunk in enumerate(items):
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("index"), int):
                by_index[choice["index"]].append((n, choice))
    return by_index


@check("stream.content-type")
def content_type(exchange: Exchange) -> None:
    _usable_stream(exchange, "stream.content-type")
    if exchange.media_type != "text/event-stream":
        raise ConformanceFailure(
            "stream.content-type", "Content-Type: text/event-stream", exchange.content_type or "(none)", exchange
        )


@check("stream.done-terminates")
def done_terminates(exchange: Exchange) -> None:
    _usable_stream(exchange, "stream.done-terminates")
    if not exchange.done_seen:
        last = exchange.events[-1].data if exchange.events else "(no events)"
        how = exchange.problem or "the connection closed"
        raise ConformanceFailure(
            "stream.done-terminates", "a final `data: [DONE]` event", f"{how}; last event: {last!r}", exchange
        )


@check("stream.nothing-after-done")
def nothing_after_done(exchange: Exchange) -> None:
    _usable_stream(exchange, "stream.nothing-after-done")
    if exchange.after_done:
        raise ConformanceFailure(
            "stream.nothing-after-done", "no event after [DONE]", [e.data for e in exchange.after_done[:3]], exchange
        )


@check("stream.chunk-schema")
def chunk_schema(exchange: Exchange) -> None:
    for n, chunk in enumerate(chunks(exchange, "stream.chunk-schema")):
        check_schema(chunk, CHUNK_SCHEMA, "stream.chunk-schema", exchange, where=f"chunk #{n}")


@check("stream.finish-reason-key")
def finish_reason_key(exchange: Exchange) -> None:
    for n, chunk in enumerate(chunks(exchange, "stream.finish-reason-key")):
        check_presence(chunk, CHUNK_SCHEMA, "stream.finish-reason-key", exchange, where=f"chunk #{n}")


@check("stream.chunk-object")
def chunk_object(exchange: Exchange) -> None:
    for n, chunk in enumerate(chunks(exchange, "stream.chunk-object")):
        if chunk.get("object") != "chat.completion.chunk":
            raise ConformanceFailure("stream.chunk-object", 'object: "chat.completion.chunk"',
                                     f"chunk #{n}: object={chunk.get('object')!r}", exchange)


def _single(exchange: Exchange, requirement: str, field: str) -> None:
    values = [c.get(field) for c in chunks(exchange, requirement)]
    distinct = list(dict.fromkeys(json.dumps(v) for v in values))
    if len(distinct) > 1:
        raise ConformanceFailure(requirement, f"one `{field}` shared by every chunk", f"{len(distinct)} values: {distinct[:4]}", exchange)


@check("stream.single-id")
def single_id(exchange: Exchange) -> None:
    _single(exchange, "stream.single-id", "id")


@check("stream.single-created")
def single_created(exchange: Exchange) -> None:
    _single(exchange, "stream.single-created", "created")


@check("stream.role-first")
def role_first(exchange: Exchange) -> None:
    entries = _choice_entries(chunks(exchange, "stream.role-first"))
    if not entries:
        raise ConformanceFailure("stream.role-first", "at least one chunk with a choice", "no choices in any chunk", exchange)
    for index, seen in sorted(entries.items()):
        n, first = seen[0]
        role = (first.get("delta") or {}).get("role")
        if role != "assistant":
            raise ConformanceFailure("stream.role-first", 'delta.role "assistant" in the first chunk of each choice',
                                     f"choice {index}, chunk #{n}: delta={first.get('delta')!r}", exchange)


@check("stream.role-first")
def role_not_repeated(exchange: Exchange) -> None:
    """The second half of stream.role-first: once given, the role is not sent again."""
    for index, seen in sorted(_choice_entries(chunks(exchange, "stream.role-first")).items()):
        repeated = [n for n, entry in seen[1:] if (entry.get("delta") or {}).get("role") is not None]
        if repeated:
            raise ConformanceFailure("stream.role-first", "delta.role only in the first chunk of each choice",
                                     f"choice {index}: role repeated in chunks {repeated[:5]}", exchange)


def _finishing(exchange: Exchange, requirement: str) -> list[tuple[int, list[int], list[tuple[int, Any]]]]:
    """Per choice: (index, chunk numbers it appears in, [(chunk number, non-null finish_reason)])."""
    out = []
    for index, seen in sorted(_choice_entries(chunks(exchange, requirement)).items()):
        finishing = [(n, c.get("finish_reason")) for n, c in seen if c.get("finish_reason") is not None]
        out.append((index, [n for n, _ in seen], finishing))
    return out


@check("stream.finish-reason-once")
def finish_reason_once(exchange: Exchange) -> None:
    for index, _, finishing in _finishing(exchange, "stream.finish-reason-once"):
        if len(finishing) != 1:
            raise ConformanceFailure("stream.finish-reason-once", "exactly one non-null finish_reason per choice",
                                     f"choice {index}: {len(finishing)} ({finishing[:4]})", exchange)


@check("stream.finish-reason-last")
def finish_reason_last(exchange: Exchange) -> None:
    for index, appearances, finishing in _finishing(exchange, "stream.finish-reason-last"):
        if finishing and finishing[0][0] != appearances[-1]:
            raise ConformanceFailure("stream.finish-reason-last", "finish_reason in the last chunk of its choice",
                                     f"choice {index}: finish_reason at chunk #{finishing[0][0]}, "
                                     f"choice's last chunk #{appearances[-1]}", exchange)


@check("stream.finish-reason-enum")
def finish_reason_enum(exchange: Exchange) -> None:
    for index, _, finishing in _finishing(exchange, "stream.finish-reason-enum"):
        for n, reason in finishing:
            if reason not in FINISH_REASONS:
                raise ConformanceFailure("stream.finish-reason-enum", f"finish_reason one of {FINISH_REASONS} or null",
                                         f"choice {index}, chunk #{n}: {reason!r}", exchange)


def _usage_chunks(exchange: Exchange, requirement: str) -> tuple[list[dict[str, Any]], list[int]]:
    items = chunks(exchange, requirement)
    return items, [n for n, c in enumerate(items) if c.get("usage") is not None]


@check("stream.usage-chunk-when-requested")
def usage_chunk_when_requested(exchange: Exchange) -> None:
    """With stream_options.include_usage: exactly one usage chunk, the last before [DONE]."""
    items, with_usage = _usage_chunks(exchange, "stream.usage-chunk-when-requested")
    if with_usage != [len(items) - 1]:
        raise ConformanceFailure("stream.usage-chunk-when-requested", "exactly one chunk with usage, the last before [DONE]",
                                 f"usage in chunks {with_usage[:5]} of {len(items)}", exchange)


@check("stream.usage-chunk-choices-empty")
def usage_chunk_choices_empty(exchange: Exchange) -> None:
    items, with_usage = _usage_chunks(exchange, "stream.usage-chunk-choices-empty")
    for n in with_usage:
        if items[n].get("choices") != []:
            raise ConformanceFailure("stream.usage-chunk-choices-empty", "the usage chunk has choices: []",
                                     f"chunk #{n}: choices={items[n].get('choices')!r}", exchange)


@check("stream.usage-null-otherwise")
def usage_null_otherwise(exchange: Exchange) -> None:
    """With include_usage, no chunk but the usage chunk (the last) carries a usage object. The spec
    asks for "usage": null on the others; an absent key reads the same to every client, so it passes
    (the requirement's note)."""
    items, with_usage = _usage_chunks(exchange, "stream.usage-null-otherwise")
    last = len(items) - 1
    wrong = [n for n in with_usage if n != last]
    if wrong:
        raise ConformanceFailure("stream.usage-null-otherwise", "usage null (or absent) on every chunk but the usage chunk",
                                 f"usage set on chunks {wrong[:5]}", exchange)


@check("stream.no-usage-unrequested")
def no_usage_unrequested(exchange: Exchange) -> None:
    items = chunks(exchange, "stream.no-usage-unrequested")
    with_usage = [n for n, c in enumerate(items) if c.get("usage") is not None]
    if with_usage:
        raise ConformanceFailure("stream.no-usage-unrequested", "no usage without stream_options.include_usage",
                                 f"usage in chunks {with_usage[:5]}", exchange)


@check("stream.usage-consistent")
def usage_consistent(exchange: Exchange) -> None:
    for chunk in chunks(exchange, "stream.usage-consistent"):
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            p, c, t = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
            if not all(isinstance(v, int) for v in (p, c, t)) or p + c != t:  # type: ignore[operator]
                raise ConformanceFailure("stream.usage-consistent", "total_tokens == prompt_tokens + completion_tokens",
                                         usage, exchange)


def content_by_choice(exchange: Exchange, requirement: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for index, seen in _choice_entries(chunks(exchange, requirement)).items():
        out[index] = "".join((c.get("delta") or {}).get("content") or "" for _, c in seen)
    return out


def _plain_contents(non_streamed: Exchange) -> dict[int, str] | None:
    try:
        body = non_streamed.json()
        return {c["index"]: c["message"].get("content") or "" for c in body["choices"]}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _comparable(non_streamed: Exchange, requirement: str) -> dict[int, str]:
    """The non-streamed reply's contents by choice, or not judged when there is none to compare with."""
    ok = non_streamed.status is not None and 200 <= non_streamed.status < 300
    plain = _plain_contents(non_streamed) if ok else None
    if plain is None:
        raise NotJudged(requirement, f"no usable non-streamed response to compare with: {non_streamed.excerpt(200)}",
                        non_streamed)
    return plain


@check("stream.matches-non-streamed")
def matches_non_streamed(exchange: Exchange, non_streamed: Exchange) -> None:
    """For the same deterministic request (temperature 0 and a seed) sent both ways."""
    requirement = "stream.matches-non-streamed"
    streamed = content_by_choice(exchange, requirement)
    plain = _comparable(non_streamed, requirement)
    if streamed != plain:
        raise ConformanceFailure(requirement, f"streamed deltas concatenate to the non-streamed content {plain!r}",
                                 streamed, exchange)


USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


@check("stream.usage-matches-non-streamed")
def usage_matches_non_streamed(exchange: Exchange, non_streamed: Exchange) -> None:
    """The usage chunk of a deterministic stream counts what the same request sent without
    streaming counts. Judged only when both replies say the same: different text may rightly count
    differently."""
    requirement = "stream.usage-matches-non-streamed"
    streamed = content_by_choice(exchange, requirement)
    plain = _comparable(non_streamed, requirement)
    if streamed != plain:
        raise NotJudged(requirement, f"the replies differ ({streamed!r} streamed, {plain!r} not), so may their "
                                     "token counts", exchange)
    usage = non_streamed.json().get("usage")
    if not isinstance(usage, dict):
        raise NotJudged(requirement, "the non-streamed response has no usage to compare with", non_streamed)
    found = [c.get("usage") for c in chunks(exchange, requirement) if isinstance(c.get("usage"), dict)]
    if len(found) != 1:
        raise NotJudged(requirement, f"{len(found)} usage chunks, not one (see stream.usage-chunk-when-requested)",
                        exchange)
    differ = {k: (found[0].get(k), usage.get(k)) for k in USAGE_COUNTS if found[0].get(k) != usage.get(k)}
    if differ:
        raise ConformanceFailure(requirement, "the non-streamed usage " + ", ".join(
                                     f"{k}={usage.get(k)!r}" for k in USAGE_COUNTS),
                                 "streamed " + ", ".join(f"{k}={got!r}" for k, (got, _) in differ.items()), exchange)


@check("stream.n-choices-complete")
def n_choices_complete(exchange: Exchange, n: int) -> None:
    """A stream with n > 1: every choice 0..n-1 appears, its first entry carries role "assistant" and
    no later one does, and it gets exactly one non-null finish_reason."""
    requirement = "stream.n-choices-complete"
    entries = _choice_entries(chunks(exchange, requirement))
    if sorted(entries) != list(range(n)):
        raise ConformanceFailure(requirement, f"choices with indices 0..{n - 1} for n={n}",
                                 f"indices {sorted(entries)}", exchange)
    for index, seen in sorted(entries.items()):
        roles = [(m, (entry.get("delta") or {}).get("role")) for m, entry in seen
                 if (entry.get("delta") or {}).get("role") is not None]
        if [r for _, r in roles] != ["assistant"] or roles[0][0] != seen[0][0]:
            raise ConformanceFailure(requirement, f'delta.role "assistant" once, in the first chunk of choice {index}',
                                     f"choice {index}: roles {roles[:4]}, first chunk #{seen[0][0]}", exchange)
        finishing = [(m, e.get("finish_reason")) for m, e in seen if e.get("finish_reason") is not None]
        if len(finishing) != 1:
            raise ConformanceFailure(requirement, f"exactly one non-null finish_reason for choice {index}",
                                     f"choice {index}: {len(finishing)} ({finishing[:4]})", exchange)


def tool_call_deltas(exchange: Exchange, requirement: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(chunk number, choice index, tool-call delta) for every tool-call delta in the stream."""
    out = []
    for n, chunk in enumerate(chunks(exchange, requirement)):
        for choice in chunk.get("choices") or []:
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                out.append((n, choice.get("index"), delta))
    return out


def judged_tool_deltas(exchange: Exchange, requirement: str) -> list[tuple[int, int, dict[str, Any]]]:
    """The tool-call deltas a check judges; a stream without any gives it nothing to judge."""
    deltas = tool_call_deltas(exchange, requirement)
    if not deltas:
        raise NotJudged(requirement, "the stream carried no tool-call deltas", exchange)
    return deltas


@check("stream.tool-call-index")
def tool_call_index(exchange: Exchange) -> None:
    seen_in_chunk: dict[tuple[int, Any], list[Any]] = defaultdict(list)
    for n, choice, delta in judged_tool_deltas(exchange, "stream.tool-call-index"):
        if not isinstance(delta.get("index"), int):
            raise ConformanceFailure("stream.tool-call-index", "an integer `index` on every tool-call delta",
                                     f"chunk #{n}, choice {choice}: {delta!r}", exchange)
        indices = seen_in_chunk[(n, choice)]
        if delta["index"] in indices:
            # vLLM has shipped this: two calls sharing an index merge into garbage on the client
            raise ConformanceFailure("stream.tool-call-index", "distinct indices within one chunk",
                                     f"chunk #{n}, choice {choice}: index {delta['index']} repeated", exchange)
        indices.append(delta["index"])


@check("stream.tool-call-first-delta-fields")
def tool_call_first_delta(exchange: Exchange) -> None:
    seen: set[tuple[Any, Any]] = set()
    for n, choice, delta in judged_tool_deltas(exchange, "stream.tool-call-first-delta-fields"):
        key = (choice, delta.get("index"))
        if key in seen:
            continue
        seen.add(key)
        fn = delta.get("function") or {}
        if not (delta.get("id") and delta.get("type") == "function" and fn.get("name")):
            raise ConformanceFailure("stream.tool-call-first-delta-fields",
                                     "id, type \"function\" and function.name on the first delta of each call",
                                     f"chunk #{n}: {delta!r}", exchange)


def assembled_tool_calls(exchange: Exchange, requirement: str) -> dict[tuple[Any, Any], dict[str, str]]:
    calls: dict[tuple[Any, Any], dict[str, str]] = {}
    for _, choice, delta in tool_call_deltas(exchange, requirement):
        call = calls.setdefault((choice, delta.get("index")), {"name": "", "arguments": ""})
        fn = delta.get("function") or {}
        call["name"] += fn.get("name") or ""
        args = fn.get("arguments")
        call["arguments"] += args if isinstance(args, str) else ""
    return calls


@check("stream.tool-call-id-name-once")
def tool_call_id_name_once(exchange: Exchange) -> None:
    """Only the first delta of a call carries its `id` and `function.name`: the official SDK's stream
    helper concatenates every string it is sent (openai.lib.streaming._deltas.accumulate_delta), so
    a repeated id or name becomes "call_1call_1" or "get_weatherget_weather". An empty name ("")
    on later deltas concatenates to nothing and passes."""
    requirement = "stream.tool-call-id-name-once"
    deltas = judged_tool_deltas(exchange, requirement)
    seen: set[tuple[Any, Any]] = set()
    for n, choice, delta in deltas:
        key = (choice, delta.get("index"))
        if key not in seen:
            seen.add(key)
            continue
        fn = delta.get("function") if isinstance(delta.get("function"), dict) else {}
        repeated = [f for f, v in (("id", delta.get("id")), ("function.name", fn.get("name"))) if v]
        if repeated:
            raise ConformanceFailure(requirement, "id and function.name only on the first delta of each call",
                                     f"chunk #{n}, choice {choice}, call {delta.get('index')}: {' and '.join(repeated)} "
                                     f"repeated: {delta!r}", exchange)


@check("stream.tool-call-arguments-json")
def tool_call_arguments(exchange: Exchange) -> None:
    requirement = "stream.tool-call-arguments-json"
    for n, choice, delta in judged_tool_deltas(exchange, requirement):
        args = (delta.get("function") or {}).get("arguments")
        if args is not None and not isinstance(args, str):
            raise ConformanceFailure(requirement, "function.arguments fragments as strings",
                                     f"chunk #{n}: {type(args).__name__} {args!r}", exchange)
    for (choice, index), call in assembled_tool_calls(exchange, requirement).items():
        try:
            json.loads(call["arguments"])
        except ValueError:
            raise ConformanceFailure(requirement, "concatenated arguments that parse as JSON",
                                     f"choice {choice}, call {index}: {call['arguments']!r}", exchange) from None


def in_band_errors(exchange: Exchange) -> list[Any]:
    """Events that report an error inside a 200 stream (as llama.cpp, TGI and OpenRouter do)."""
    found = []
    for event in exchange.events:
        if event.data == DONE:
            continue
        try:
            value = json.loads(event.data)
        except ValueError:
            continue
        if event.event == "error" or (isinstance(value, dict) and "error" in value):
            found.append(value)
    return found


@check("stream.in-band-error-recognisable")
def in_band_error_recognisable(exchange: Exchange) -> None:
    """An error sent after the stream started must carry the error envelope, so clients can tell."""
    require_response(exchange)
    found = in_band_errors(exchange)
    if not found:
        raise NotJudged("stream.in-band-error-recognisable", "no error was sent inside the stream", exchange)
    for value in found:
        error = value.get("error") if isinstance(value, dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("message"), str)):
            raise ConformanceFailure("stream.in-band-error-recognisable",
                                     'an in-band error event shaped {"error": {"message": ..., "type": ...}}',
                                     value, exchange)


@check("stream.sse-framing")
def sse_framing(exchange: Exchange) -> None:
    """Events are well-formed: UTF-8, terminated by a blank line, data a JSON value or [DONE].

    Comments, CRLF line endings and `data:` without the space are legal SSE and pass.
    """
    _usable_stream(exchange, "stream.sse-framing")
    stats = exchange.stream_stats
    if not exchange.events:
        raise ConformanceFailure("stream.sse-framing", "at least one `data:` event", exchange.excerpt(), exchange)
    if stats is not None and stats.invalid_utf8:
        raise ConformanceFailure("stream.sse-framing", "a UTF-8 event stream", "bytes that are not UTF-8", exchange)
    if stats is not None and stats.unterminated_event:
        raise ConformanceFailure("stream.sse-framing", "every event ended by a blank line",
                                 "the stream ended in the middle of an event", exchange)
    for n, event in enumerate(exchange.events):
        if event.data == DONE:
            continue
        try:
            json.loads(event.data)
        except ValueError:
            raise ConformanceFailure("stream.sse-framing", "each event's data one JSON chunk or [DONE]",
                                     f"event #{n}: {event.data[:200]!r}", exchange) from None


@check("stream.empty-choices-only-usage")
def empty_choices_only_usage(exchange: Exchange) -> None:
    for n, chunk in enumerate(chunks(exchange, "stream.empty-choices-only-usage")):
        if chunk.get("choices") == [] and chunk.get("usage") is None:
            raise ConformanceFailure("stream.empty-choices-only-usage", "choices: [] only on the usage chunk",
                                     f"chunk #{n}: {json.dumps(chunk)[:200]}", exchange)


def _json_media_type(media_type: str) -> bool:
    """application/json, or a JSON-based type (application/problem+json, RFC 6839 `+json`)."""
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


@check("stream.invalid-request-http-error")
def invalid_request_http_error(exchange: Exchange) -> None:
    """A streaming request that fails validation gets a 4xx JSON error, not a 200 stream. Any JSON
    media type carries a JSON error body (`application/problem+json` too)."""
    require_response(exchange)
    requirement = "stream.invalid-request-http-error"
    if not (400 <= exchange.status < 500) or not _json_media_type(exchange.media_type):  # type: ignore[operator]
        raise ConformanceFailure(requirement, "a 4xx JSON error (application/json or +json) before any event",
                                 exchange.excerpt(), exchange)
    try:
        exchange.json()
    except ValueError:
        raise ConformanceFailure(requirement, "a JSON error body", exchange.excerpt(), exchange) from None
