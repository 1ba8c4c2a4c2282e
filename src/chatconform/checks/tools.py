"""Function tools: tool_choice, the calls a response carries, their arguments, and tool results.

Checks read the declared tools and the tool_choice from the exchange's own request, so each one
judges a response against exactly what was asked.
"""

from __future__ import annotations

import json
from typing import Any


from ..client import Exchange
from ..failures import ConformanceFailure, NotJudged
from . import check
from .common import require_response
from .responses import choices, completion_body
from .streaming import assembled_tool_calls, chunks, tool_call_deltas


def _request(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request_json
    return body if isinstance(body, dict) else {}


def declared_functions(exchange: Exchange) -> dict[str, dict[str, Any]]:
    """Function name -> function definition, from the request's `tools` and deprecated `functions`."""
    request = _request(exchange)
    found: dict[str, dict[str, Any]] = {}
    for tool in request.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found[function["name"]] = function
    for function in request.get("functions") or []:
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found[function["name"]] = function
    return found


def choice_calls(exchange: Exchange, requirement: str) -> list[tuple[dict[str, Any], list[Any]]]:
    """(choice, its message.tool_calls as a list) for every choice; absent or null tool_calls is []."""
    out = []
    for choice in choices(exchange, requirement):
        message = choice.get("message")
        if not isinstance(message, dict):
            raise ConformanceFailure(requirement, "choices[].message: an object", choice, exchange)
        calls = message.get("tool_calls")
        if calls is None:
            calls = []
        if not isinstance(calls, list):
            raise ConformanceFailure(requirement, "message.tool_calls: a list", calls, exchange,
                                     where=f"choice {choice.get('index')}")
        out.append((choice, calls))
    return out


def _where(choice: dict[str, Any], n: int) -> str:
    return f"choice {choice.get('index')}, tool_calls[{n}]"


def _function(call: Any) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    return function if isinstance(function, dict) else {}


def parsed_arguments(call: Any) -> tuple[Any, str | None]:
    """(arguments as parsed JSON, None) or (None, why they are not a JSON object in a string)."""
    args = _function(call).get("arguments")
    if not isinstance(args, str):
        return None, f"arguments is a {type(args).__name__}, not a string: {args!r}"
    try:
        value = json.loads(args)
    except ValueError:
        return None, f"arguments do not parse as JSON: {args!r}"
    if isinstance(value, str):
        return None, f"arguments are JSON encoded twice (a string inside the string): {args!r}"
    if not isinstance(value, dict):
        return None, f"arguments parse to a {type(value).__name__}, not an object: {args!r}"
    return value, None


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _cut(choice: dict[str, Any]) -> bool:
    # a call cut by the token cap may legitimately end mid-arguments
    return choice.get("finish_reason") == "length"


@check("tool.arguments-json-string")
def arguments_json_string(exchange: Exchange) -> None:
    requirement = "tool.arguments-json-string"
    for choice, calls in choice_calls(exchange, requirement):
        if _cut(choice):
            continue
        for n, call in enumerate(calls):
            _, problem = parsed_arguments(call)
            if problem:
                raise ConformanceFailure(requirement, "function.arguments: a string holding a JSON object", problem,
                                         exchange, where=_where(choice, n))


@check("tool.function-name-declared")
def function_name_declared(exchange: Exchange) -> None:
    requirement = "tool.function-name-declared"
    declared = declared_functions(exchange)
    for choice, calls in choice_calls(exchange, requirement):
        for n, call in enumerate(calls):
            name = _function(call).get("name")
            if name not in declared:
                raise ConformanceFailure(requirement, f"function.name one of {sorted(declared)}", repr(name),
                                         exchange, where=_where(choice, n))


@check("tool.arguments-match-schema")
def arguments_match_schema(exchange: Exchange) -> None:
    requirement = "tool.arguments-match-schema"
    declared = declared_functions(exchange)
    for choice, calls in choice_calls(exchange, requirement):
        if _cut(choice):
            continue
        for n, call in enumerate(calls):
            args, problem = parsed_arguments(call)
            schema = (declared.get(_function(call).get("name")) or {}).get("parameters")
            if problem or not isinstance(schema, dict):
                continue  # unparseable arguments and undeclared names are other requirements' failures
            import jsonschema  # on first use: importing it costs a tenth of a second of every start-up

            error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(args))
            if error is not None:
                path = "".join(f"[{p!r}]" for p in error.absolute_path) or "(root)"
                raise ConformanceFailure(requirement, "arguments valid against the function's parameters schema",
                                         f"{args!r}: at {path}: {error.message}", exchange, where=_where(choice, n))


def _forced_named(exchange: Exchange) -> bool:
    return isinstance(_request(exchange).get("tool_choice"), dict)


@check("tool.finish-reason-tool-calls")
def finish_reason_tool_calls(exchange: Exchange) -> None:
    """Calls under auto/required end with "tool_calls" ("length" only if a call really was cut),
    and "tool_calls" never comes without calls."""
    requirement = "tool.finish-reason-tool-calls"
    named = _forced_named(exchange)
    for choice, calls in choice_calls(exchange, requirement):
        reason = choice.get("finish_reason")
        if calls and not named and reason != "tool_calls":
            truncated = reason == "length" and any(parsed_arguments(c)[1] for c in calls)
            if not truncated:
                raise ConformanceFailure(requirement, 'finish_reason "tool_calls" on a choice that called tools',
                                         f"finish_reason={reason!r} with {len(calls)} tool call(s)", exchange,
                                         where=f"choice {choice.get('index')}")
        if reason == "tool_calls" and not calls:
            raise ConformanceFailure(requirement, 'finish_reason "tool_calls" only on a choice with tool calls',
                                     f"finish_reason 'tool_calls', message={choice.get('message')!r}", exchange,
                                     where=f"choice {choice.get('index')}")


@check("tool.cut-call-finish-length")
def cut_call_finish_length(exchange: Exchange) -> None:
    """For a forced call under a cap too small for its arguments: a call whose arguments were cut
    (they do not parse as JSON) ends with finish_reason "length", never "tool_calls" (a client would
    run a call with broken arguments). Not judged when the arguments came back whole."""
    requirement = "tool.cut-call-finish-length"
    judged = False
    for choice, calls in choice_calls(exchange, requirement):
        cut = [n for n, call in enumerate(calls)
               if isinstance(_function(call).get("arguments"), str) and not _parses(_function(call)["arguments"])]
        if not cut:
            continue
        judged = True
        if choice.get("finish_reason") != "length":
            raise ConformanceFailure(requirement, 'finish_reason "length" on a call whose arguments the cap cut',
                                     f"finish_reason={choice.get('finish_reason')!r}, arguments="
                                     f"{_function(calls[cut[0]]).get('arguments')!r}", exchange,
                                     where=_where(choice, cut[0]))
    if not judged:
        raise NotJudged(requirement, "no call was cut: every call's arguments parse as JSON (or there was no call)",
                        exchange)


@check("tool.function-call-not-beside-tool-calls")
def no_function_call_beside_tool_calls(exchange: Exchange) -> None:
    """A message that carries tool_calls carries no non-null legacy function_call beside them."""
    requirement = "tool.function-call-not-beside-tool-calls"
    judged = False
    for choice, calls in choice_calls(exchange, requirement):
        if not calls:
            continue
        judged = True
        legacy = choice["message"].get("function_call")
        if legacy is not None:
            raise ConformanceFailure(requirement, "message.function_call absent or null beside message.tool_calls",
                                     f"function_call={legacy!r} beside {len(calls)} tool call(s)", exchange,
                                     where=f"choice {choice.get('index')}")
    if not judged:
        raise NotJudged(requirement, "no choice carried tool calls", exchange)


@check("tool.call-ids-unique")
def call_ids_unique(exchange: Exchange) -> None:
    requirement = "tool.call-ids-unique"
    seen: dict[str, str] = {}
    for choice, calls in choice_calls(exchange, requirement):
        for n, call in enumerate(calls):
            where = _where(choice, n)
            call_id = call.get("id") if isinstance(call, dict) else None
            if not isinstance(call_id, str) or not call_id:
                raise ConformanceFailure(requirement, "a non-empty string id on every tool call", repr(call_id),
                                         exchange, where=where)
            if call_id in seen:
                raise ConformanceFailure(requirement, "distinct tool call ids",
                                         f"{call_id!r} at {seen[call_id]} and {where}", exchange)
            seen[call_id] = where


@check("tool.choice-none")
def no_calls(exchange: Exchange) -> None:
    requirement = "tool.choice-none"
    for choice, calls in choice_calls(exchange, requirement):
        message = choice["message"]
        if calls or message.get("function_call"):
            raise ConformanceFailure(requirement, 'no tool calls under tool_choice "none"',
                                     calls or message.get("function_call"), exchange,
                                     where=f"choice {choice.get('index')}")
        if not isinstance(message.get("content"), str):
            raise ConformanceFailure(requirement, "a text answer (message.content a string)",
                                     repr(message.get("content")), exchange, where=f"choice {choice.get('index')}")


@check("tool.choice-auto")
def answered_or_called(exchange: Exchange) -> None:
    requirement = "tool.choice-auto"
    for choice, calls in choice_calls(exchange, requirement):
        content = choice["message"].get("content")
        answered = isinstance(content, str) and (content.strip() or _cut(choice))
        if not calls and not answered:
            raise ConformanceFailure(requirement, "either tool calls or a text answer",
                                     f"content={content!r}, finish_reason={choice.get('finish_reason')!r}",
                                     exchange, where=f"choice {choice.get('index')}")


@check("tool.choice-required")
def at_least_one_call(exchange: Exchange) -> None:
    requirement = "tool.choice-required"
    for choice, calls in choice_calls(exchange, requirement):
        if not calls:
            raise ConformanceFailure(requirement, 'at least one tool call under tool_choice "required"',
                                     f"no tool_calls; content={choice['message'].get('content')!r}, "
                                     f"finish_reason={choice.get('finish_reason')!r}", exchange,
                                     where=f"choice {choice.get('index')}")


@check("tool.choice-named")
def calls_only(exchange: Exchange, name: str) -> None:
    requirement = "tool.choice-named"
    for choice, calls in choice_calls(exchange, requirement):
        names = [_function(c).get("name") for c in calls]
        if not names or any(n != name for n in names):
            raise ConformanceFailure(requirement, f"calls to {name!r} only (at least one)",
                                     f"calls to {names}; content={choice['message'].get('content')!r}", exchange,
                                     where=f"choice {choice.get('index')}")


@check("tool.parallel-false-single-call")
def at_most_one_call(exchange: Exchange) -> None:
    requirement = "tool.parallel-false-single-call"
    for choice, calls in choice_calls(exchange, requirement):
        if len(calls) > 1:
            names = [_function(c).get("name") for c in calls]
            raise ConformanceFailure(requirement, "at most one tool call with parallel_tool_calls false",
                                     f"{len(calls)} calls: {names}", exchange, where=f"choice {choice.get('index')}")


@check("tool.result-message-accepted")
def result_accepted(exchange: Exchange) -> None:
    """The continued conversation is answered: 2xx and at least one choice with a message."""
    requirement = "tool.result-message-accepted"
    found = choices(exchange, requirement)
    if not found or not all(isinstance(c.get("message"), dict) for c in found):
        raise ConformanceFailure(requirement, "an answer (choices with a message) to the tool results",
                                 completion_body(exchange, requirement), exchange)


@check("tool.definition-invalid-rejected")
def definition_rejected(exchange: Exchange) -> None:
    require_response(exchange)
    if exchange.status != 400:
        raise ConformanceFailure("tool.definition-invalid-rejected", "HTTP 400 for an invalid tool definition",
                                 exchange.excerpt(), exchange)


@check("tool.functions-deprecated-handled")
def function_call_returned(exchange: Exchange) -> None:
    """A forced deprecated call: message.function_call with the forced name and string arguments.

    OpenAI ends a call forced by name with "stop" (as for a named tool_choice), so either reason is fine.
    """
    requirement = "tool.functions-deprecated-handled"
    forced = (_request(exchange).get("function_call") or {}).get("name")
    for choice in choices(exchange, requirement):
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        call = message.get("function_call")
        where = f"choice {choice.get('index')}"
        if not isinstance(call, dict) or call.get("name") != forced or not isinstance(call.get("arguments"), str):
            raise ConformanceFailure(requirement, f"message.function_call {{name: {forced!r}, arguments: <string>}}",
                                     f"function_call={call!r}, tool_calls={message.get('tool_calls')!r}", exchange,
                                     where=where)
        if choice.get("finish_reason") not in ("function_call", "stop"):
            raise ConformanceFailure(requirement, 'finish_reason "function_call" (or "stop" for a forced call)',
                                     choice.get("finish_reason"), exchange, where=where)


# -- the same, streamed -----------------------------------------------------------------------
def _streamed_content(exchange: Exchange, requirement: str) -> dict[Any, str]:
    out: dict[Any, str] = {}
    for chunk in chunks(exchange, requirement):
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                text = (choice.get("delta") or {}).get("content")
                out[choice.get("index")] = out.get(choice.get("index"), "") + (text if isinstance(text, str) else "")
    return out


@check("stream.tool-calls-streamed")
def calls_streamed(exchange: Exchange) -> None:
    """For a streamed request that must call a tool: the calls arrive as delta.tool_calls."""
    requirement = "stream.tool-calls-streamed"
    if not tool_call_deltas(exchange, requirement):
        content = _streamed_content(exchange, requirement)
        raise ConformanceFailure(requirement, "the tool calls as delta.tool_calls",
                                 f"no tool-call deltas; streamed content: {content!r}", exchange)


def _streamed_finish_reasons(exchange: Exchange, requirement: str) -> dict[Any, Any]:
    reasons: dict[Any, Any] = {}
    for chunk in chunks(exchange, requirement):
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("finish_reason") is not None:
                reasons[choice.get("index")] = choice.get("finish_reason")
    return reasons


@check("tool.finish-reason-tool-calls")
def streamed_finish_reason(exchange: Exchange) -> None:
    requirement = "tool.finish-reason-tool-calls"
    reasons = _streamed_finish_reasons(exchange, requirement)
    assembled = assembled_tool_calls(exchange, requirement)
    called = {choice for (choice, _index) in assembled}
    cut = {choice for (choice, _index), call in assembled.items() if not _parses(call["arguments"])}
    named = _forced_named(exchange)
    for index, reason in reasons.items():
        truncated = reason == "length" and index in cut
        if index in called and not named and reason != "tool_calls" and not truncated:
            raise ConformanceFailure(requirement, 'finish_reason "tool_calls" on a streamed choice that called tools',
                                     f"choice {index}: finish_reason={reason!r}", exchange)
        if reason == "tool_calls" and index not in called:
            raise ConformanceFailure(requirement, 'finish_reason "tool_calls" only on a choice with tool calls',
                                     f"choice {index}: no tool-call deltas", exchange)


@check("tool.call-ids-unique")
def streamed_call_ids_unique(exchange: Exchange) -> None:
    """Each streamed call (choice, index) gets one non-empty id, distinct from the other calls'."""
    requirement = "tool.call-ids-unique"
    ids: dict[tuple[Any, Any], str] = {}
    for _n, choice, delta in tool_call_deltas(exchange, requirement):
        if delta.get("id") and (choice, delta.get("index")) not in ids:
            ids[(choice, delta.get("index"))] = delta["id"]
    for key in {(choice, delta.get("index")) for _n, choice, delta in tool_call_deltas(exchange, requirement)}:
        if not isinstance(ids.get(key), str):
            raise ConformanceFailure(requirement, "a non-empty string id for every streamed tool call",
                                     f"choice {key[0]}, call index {key[1]}: no id", exchange)
    values = list(ids.values())
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ConformanceFailure(requirement, "distinct tool call ids", f"repeated: {duplicates}", exchange)


def _streamed_names(exchange: Exchange, requirement: str) -> dict[tuple[Any, Any], str]:
    """(choice, call index) -> the call's name: the fragments joined, or, when every non-empty
    fragment is the same name, that name (a name repeated on every delta is
    stream.tool-call-id-name-once's warning, not an undeclared function)."""
    fragments: dict[tuple[Any, Any], list[str]] = {}
    for _n, choice, delta in tool_call_deltas(exchange, requirement):
        fn = delta.get("function") if isinstance(delta.get("function"), dict) else {}
        name = fn.get("name")
        fragments.setdefault((choice, delta.get("index")), []).extend([name] if isinstance(name, str) and name else [])
    return {key: parts[0] if len(set(parts)) == 1 else "".join(parts) for key, parts in fragments.items()}


@check("tool.function-name-declared")
def streamed_names_declared(exchange: Exchange) -> None:
    requirement = "tool.function-name-declared"
    declared = declared_functions(exchange)
    for (choice, index), name in _streamed_names(exchange, requirement).items():
        if name not in declared:
            raise ConformanceFailure(requirement, f"function.name one of {sorted(declared)}",
                                     f"choice {choice}, call {index}: {name!r}", exchange)


@check("tool.function-call-not-beside-tool-calls")
def streamed_no_function_call_beside_tool_calls(exchange: Exchange) -> None:
    """A streamed choice that carries tool-call deltas carries no non-null delta.function_call."""
    requirement = "tool.function-call-not-beside-tool-calls"
    items = chunks(exchange, requirement)
    calling = {choice for _n, choice, _delta in tool_call_deltas(exchange, requirement)}
    if not calling:
        raise NotJudged(requirement, "the stream carried no tool-call deltas", exchange)
    for n, chunk in enumerate(items):
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index") not in calling:
                continue
            legacy = (choice.get("delta") or {}).get("function_call")
            if legacy is not None:
                raise ConformanceFailure(requirement, "delta.function_call absent or null beside delta.tool_calls",
                                         f"chunk #{n}, choice {choice.get('index')}: function_call={legacy!r}",
                                         exchange)


def rejected_cleanly(exchange: Exchange) -> bool:
    """A 400/422 carrying a JSON error envelope: how a server that dropped a deprecated feature says so."""
    if exchange.status not in (400, 422):
        return False
    try:
        body = exchange.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), (dict, str))
