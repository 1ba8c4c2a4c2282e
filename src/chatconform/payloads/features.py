"""The requests the feature suites send: tools, structured output, logprobs, stored completions, seed.

Each prompt is one a real model answers in a few tokens and the reference server answers by its
documented rules (see chatconform.reference.generator), so one expectation fits both. Token caps
are just above what the answer needs: a tool call takes 20-40 tokens, a small JSON object ~20.
"""

from __future__ import annotations

import copy
from typing import Any

from . import ECHO_PROMPT, minimal

# -- tools ------------------------------------------------------------------------------------
CITY_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name, for example Paris"}},
    "required": ["city"],
    "additionalProperties": False,
}


def function_tool(name: str, description: str) -> dict[str, Any]:
    return {"type": "function",
            "function": {"name": name, "description": description, "parameters": copy.deepcopy(CITY_PARAMETERS)}}


WEATHER_TOOL = function_tool("get_weather", "Current weather in a city.")
TIME_TOOL = function_tool("get_time", "Current local time in a city.")
TOOLS = [WEATHER_TOOL, TIME_TOOL]
WEATHER_PROMPT = "What's the weather in Paris? Use the tool."
TIME_PROMPT = "What time is it in Paris? Use the tool."
BOTH_PROMPT = "What's the weather and the local time in Paris? Use the tools."
TOOL_TOKENS = 64  # a call with its arguments fits comfortably; two calls still fit
REPLY_TOKENS = 32


def tool_request(model: str, prompt: str = WEATHER_PROMPT, **overrides: Any) -> dict[str, Any]:
    """Both tools declared (so a named choice is distinguishable from "the first tool")."""
    base = {"messages": [{"role": "user", "content": prompt}], "tools": TOOLS, "max_completion_tokens": TOOL_TOKENS}
    return minimal(model, **{**base, **overrides})


CUT_CALL_TOKENS = 3  # a call's arguments ({"city": "Paris"}) need 5+ tokens: this cap cuts them


def cut_call_request(model: str, both_caps: bool = True) -> dict[str, Any]:
    """A call forced by name under a cap too small for its arguments. The cap is sent as
    `max_tokens` as well as `max_completion_tokens`: servers that honour only the deprecated one
    must cut the call too (``both_caps`` False: only max_completion_tokens, for a server that
    refuses the pair)."""
    caps = {"max_completion_tokens": CUT_CALL_TOKENS, "max_tokens": CUT_CALL_TOKENS if both_caps else ...}
    return tool_request(model, tool_choice={"type": "function", "function": {"name": "get_weather"}}, **caps)


def functions_request(model: str) -> dict[str, Any]:
    """The deprecated pair: `functions` and a forced `function_call`."""
    return minimal(model, messages=[{"role": "user", "content": WEATHER_PROMPT}],
                   functions=[copy.deepcopy(WEATHER_TOOL["function"])], function_call={"name": "get_weather"},
                   max_completion_tokens=TOOL_TOKENS)


TOOL_RESULT = '{"city": "Paris", "temperature_c": 18, "conditions": "sunny"}'
# An id in another provider's format: a replayed conversation carries ids the server never minted.
FOREIGN_CALL_ID = "call_Qx7Lm2Rt8Vw1Zc4EaB3yK9pN"


def _assistant_turn(calls: list[dict[str, Any]]) -> dict[str, Any]:
    standard = [{"id": c.get("id"), "type": "function",
                 "function": {"name": (c.get("function") or {}).get("name"),
                              "arguments": (c.get("function") or {}).get("arguments")}} for c in calls]
    return {"role": "assistant", "content": None, "tool_calls": standard}


def tool_result_request(model: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The conversation continued after ``calls``: the assistant turn, then one tool result per call."""
    messages = [{"role": "user", "content": WEATHER_PROMPT}, _assistant_turn(calls)]
    messages += [{"role": "tool", "tool_call_id": c.get("id"), "content": TOOL_RESULT} for c in calls]
    return minimal(model, messages=messages, tools=TOOLS, max_completion_tokens=REPLY_TOKENS)


def foreign_tool_result_request(model: str) -> dict[str, Any]:
    call = {"id": FOREIGN_CALL_ID, "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    return tool_result_request(model, [call])


# Each invalid definition breaks one rule of ChatCompletionTool (tool.definition-invalid-rejected).
INVALID_TOOLS: dict[str, dict[str, Any]] = {
    "no-function": {"type": "function"},
    "no-name": {"type": "function", "function": {"description": "Current weather in a city.",
                                                 "parameters": CITY_PARAMETERS}},
    "unknown-type": {"type": "not_a_tool_type", "function": WEATHER_TOOL["function"]},
}


def invalid_tool_request(model: str, case: str) -> dict[str, Any]:
    return minimal(model, tools=[INVALID_TOOLS[case]])


# -- structured output ------------------------------------------------------------------------
JSON_OBJECT_PROMPT = 'Reply in JSON: an object with one key "city" set to the capital of France.'
JSON_TOKENS = 40
CITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
JSON_SCHEMA_PROMPT = "What is the capital of France? Give the city and its country."


JSON_RETRY_TOKENS = 64  # the one retry when every choice was cut by JSON_TOKENS: bounded, never more


def json_object_request(model: str, max_completion_tokens: int = JSON_TOKENS) -> dict[str, Any]:
    return minimal(model, messages=[{"role": "user", "content": JSON_OBJECT_PROMPT}],
                   response_format={"type": "json_object"}, max_completion_tokens=max_completion_tokens)


def json_schema_request(model: str, max_completion_tokens: int = JSON_TOKENS) -> dict[str, Any]:
    response_format = {"type": "json_schema",
                       "json_schema": {"name": "capital", "schema": CITY_SCHEMA, "strict": True}}
    return minimal(model, messages=[{"role": "user", "content": JSON_SCHEMA_PROMPT}],
                   response_format=response_format, max_completion_tokens=max_completion_tokens)


# Each malformed response_format breaks one rule (structured.malformed-format-rejected).
MALFORMED_FORMATS: dict[str, Any] = {
    "unknown-type": {"type": "not_a_format"},
    "missing-type": {},
    "json-schema-without-object": {"type": "json_schema"},
    "json-schema-without-name": {"type": "json_schema", "json_schema": {"schema": CITY_SCHEMA}},
}


def malformed_format_request(model: str, case: str) -> dict[str, Any]:
    return minimal(model, response_format=MALFORMED_FORMATS[case])


# -- logprobs ---------------------------------------------------------------------------------
TOP_LOGPROBS = 2


def logprobs_request(model: str) -> dict[str, Any]:
    return minimal(model, logprobs=True, top_logprobs=TOP_LOGPROBS)


# -- stored completions -----------------------------------------------------------------------
STORED_MESSAGES = [
    {"role": "system", "content": "You follow instructions exactly."},
    {"role": "user", "content": ECHO_PROMPT},
]
NEVER_ISSUED_ID = "chatcmpl-chatconform-never-issued-0000"


def stored_request(model: str) -> dict[str, Any]:
    return minimal(model, messages=STORED_MESSAGES, store=True)


# -- seed and logit_bias ----------------------------------------------------------------------
SEED = 424242
OPEN_PROMPT = "Write five random words."  # room for variety, so only the seed can make two answers agree
SEED_TOKENS = 12
# Token id 15 is "0" in the GPT-2, cl100k, o200k and Qwen vocabularies; in any vocabulary it is
# some ordinary token, which is all the check needs (it never learns or assumes the token's text).
FORCED_TOKEN = 15
FORCED_TOKENS = 4


def seed_request(model: str) -> dict[str, Any]:
    return minimal(model, messages=[{"role": "user", "content": OPEN_PROMPT}], seed=SEED, temperature=1,
                   max_completion_tokens=SEED_TOKENS)


def forced_token_request(model: str) -> dict[str, Any]:
    return minimal(model, logit_bias={str(FORCED_TOKEN): 100}, max_completion_tokens=FORCED_TOKENS)

