"""Turning a generated request body into one worth sending: cheap, for this target, and still honest.

Schemathesis draws bodies from the request schema. Sent as drawn they would be expensive (long
conversations, n up to 128, no token cap), would use capabilities the target does not claim, and
would break rules the schema cannot state (top_logprobs needs logprobs, a named tool_choice must
name a declared tool). `positive` fixes all of that while keeping every value the schema allows;
`negative` does the same to the valid parts of an invalid body and leaves the invalid parts, the
point of the case, exactly as generated. `rejection` then says which requirement a server breaks
by accepting what is left.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .. import payloads, spec
from ..target import Target

REQUEST_SCHEMA = "CreateChatCompletionRequest"

MAX_TOKENS = payloads.MAX_TOKENS
MAX_N = 2
MAX_TOP_LOGPROBS = 2
MAX_TOOLS = 2
MAX_LOGIT_BIAS = 2
MAX_TEXT = 40  # free-text fields the schema leaves unbounded (descriptions, user): billed as prompt
TOKEN_IDS = 1000  # logit_bias keys are folded below this: every tokenizer has such ids

ECHO_MESSAGE = {"role": "user", "content": payloads.ECHO_PROMPT}
# JSON mode needs the word in the prompt (OpenAI refuses it otherwise)
JSON_MESSAGE = {"role": "user", "content": 'Reply with the JSON object {"ok": true} and nothing else.'}
TOOL_PARAMETERS = {
    "type": "object",
    "properties": {"word": {"type": "string"}},
    "required": ["word"],
    "additionalProperties": False,
}
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}

# Optional capabilities (specs/requirements.yaml) and the parameters that need them.
CAPABILITY_OF = {
    "logprobs": "logprobs",
    "top_logprobs": "logprobs",
    "tools": "tools",
    "tool_choice": "tools",
    "parallel_tool_calls": "parallel_tool_calls",
    "functions": "functions",
    "function_call": "functions",
    "n": "n",
    "stream_options": "stream_usage",
    "logit_bias": "logit_bias",
    "store": "store",
    "metadata": "store",
    "seed": "seed",
    "stop": "stop",
}
# request.newer-parameters-handled (MAY): honoured or refused, either is fine, so a generated
# value can neither pass nor fail anything here; the request suite judges them one by one.
NEWER = frozenset({"reasoning_effort", "verbosity", "prompt_cache_key", "safety_identifier", "service_tier",
                   "prediction"})
# Generates audio (billed per second) and needs an audio model; no requirement covers it.
NEVER = frozenset({"audio"})

# The requirement a server breaks by accepting an out-of-range value of the parameter.
RANGE_REQUIREMENT = {
    "temperature": "request.temperature-range",
    "top_p": "request.top-p-range",
    "presence_penalty": "request.presence-penalty-range",
    "frequency_penalty": "request.frequency-penalty-range",
    "n": "request.n-range",
    "top_logprobs": "request.top-logprobs-range",
    "logit_bias": "request.logit-bias-range",
}
MISSING_REQUIREMENT = {"model": "request.model-required", "messages": "request.messages-required"}
INVALID = "error.status-400-invalid"

JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
              type(None): "null"}


@lru_cache(maxsize=1)
def _request_properties() -> dict[str, Any]:
    return spec.load_openapi()["components"]["schemas"][REQUEST_SCHEMA]["properties"]


@lru_cache(maxsize=1)
def extensions() -> frozenset[str]:
    """Vendor extensions (x-extension in the spec): sent only to targets whose profile declares them."""
    return frozenset(name for name, prop in _request_properties().items() if prop.get("x-extension"))


@lru_cache(maxsize=1)
def message_roles() -> frozenset[str]:
    mapping = spec.load_openapi()["components"]["schemas"]["ChatCompletionRequestMessage"]["discriminator"]["mapping"]
    return frozenset(mapping)


def _types(schema: Any, depth: int = 0) -> set[str]:
    """The JSON types a (sub)schema can accept, following $ref and anyOf/oneOf; empty: any."""
    if not isinstance(schema, dict) or depth > 8:
        return set()
    if "$ref" in schema:
        return _types(spec.resolve(schema["$ref"]), depth + 1)
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    found: set[str] = set()
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        branch_types = _types(branch, depth + 1)
        if not branch_types:
            return set()
        found |= branch_types
    return found


def _has_wrong_type(key: str, value: Any) -> bool:
    allowed = _types(_request_properties().get(key))
    if not allowed:
        return False
    kind = JSON_TYPES.get(type(value))
    return kind not in allowed and not (kind == "integer" and "number" in allowed)


def allowed(key: str, target: Target) -> bool:
    """Whether generated requests to this target may carry the parameter at all."""
    if key in NEWER or key in NEVER:
        return False
    if key in extensions():
        return key in target.profile.extensions
    capability = CAPABILITY_OF.get(key)
    return capability is None or target.has(capability)


# -- positive -----------------------------------------------------------------------------------
def _cap(value: Any, limit: int) -> Any:
    # JSON Schema counts 5.0 as an integer, so generated integers may arrive as integral floats
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
        return limit
    return value


def _short(value: Any) -> Any:
    return value[:MAX_TEXT] if isinstance(value, str) else value


def _functions(items: list[Any]) -> list[dict[str, Any]]:
    """At most MAX_TOOLS definitions with distinct names; parameters replaced by one small schema
    (a generated `parameters` object is rarely a valid JSON Schema, and vendors refuse those)."""
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or item.get("name") in [f["name"] for f in out]:
            continue
        shaped = {"name": item["name"], "parameters": TOOL_PARAMETERS}
        if "description" in item:
            shaped["description"] = _short(item["description"])
        if "strict" in item:
            shaped["strict"] = item["strict"]
        out.append(shaped)
        if len(out) == MAX_TOOLS:
            break
    return out


def _tools(body: dict[str, Any]) -> None:
    tools = body.pop("tools", None)
    functions = _functions([t.get("function") for t in tools or [] if isinstance(t, dict)])
    if functions:
        body["tools"] = [{"type": "function", "function": f} for f in functions]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            body["tool_choice"] = {"type": "function", "function": {"name": functions[0]["name"]}}
    else:
        # without tools OpenAI refuses tool_choice and parallel_tool_calls altogether
        body.pop("tool_choice", None)
        body.pop("parallel_tool_calls", None)
    legacy = _functions(body.pop("functions", None) or [])
    if legacy and "tools" not in body:
        body["functions"] = legacy
        call = body.get("function_call")
        if isinstance(call, dict):
            body["function_call"] = {"name": legacy[0]["name"]}
    else:
        body.pop("function_call", None)


def _response_format(body: dict[str, Any], target: Target) -> bool:
    """Keeps a response_format the target supports; True when the answer must be JSON."""
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("json_object", "json_schema") and not target.has(kind):
        body.pop("response_format")
        return False
    if kind == "json_schema":
        shaped = {"name": fmt["json_schema"]["name"], "schema": ANSWER_SCHEMA}
        for key in ("description", "strict"):
            if key in fmt["json_schema"]:
                shaped[key] = _short(fmt["json_schema"][key])
        body["response_format"] = {"type": "json_schema", "json_schema": shaped}
    return kind in ("json_object", "json_schema")


def _stop(body: dict[str, Any]) -> None:
    # an empty stop sequence is meaningless (and makes "the output excludes it" untestable)
    stop = body.get("stop")
    if isinstance(stop, list):
        stop = [s for s in stop if s] or None
    if stop in ("", None) and "stop" in body:
        body["stop"] = None
    elif stop is not None:
        body["stop"] = stop


def positive(generated: dict[str, Any], target: Target, *, stream: bool | None, store: bool = False) -> dict[str, Any]:
    """A valid body for this target: one short message, capped sizes, supported parameters only.

    ``stream``: True forces a stream, False forbids one, None keeps the generated choice.
    ``store``: store the completion (stateful tests only; elsewhere store and metadata are dropped).
    """
    body = {k: copy.deepcopy(v) for k, v in generated.items() if allowed(k, target)}
    body["model"] = target.model
    if store and target.has("store"):
        body["store"] = True
    else:
        body.pop("store", None)
        body.pop("metadata", None)
    if stream is True:
        body["stream"] = True
    elif stream is False:
        body.pop("stream", None)
    if body.get("stream") is not True:
        body.pop("stream_options", None)
    # one token cap, always present and small; null would mean "no limit"
    cap = body.pop("max_completion_tokens", None)
    legacy = body.pop("max_tokens", None)
    if cap is None and legacy is not None:
        body["max_tokens"] = _cap(legacy, MAX_TOKENS)
    else:
        body["max_completion_tokens"] = _cap(cap, MAX_TOKENS) if cap is not None else MAX_TOKENS
    if "n" in body:
        body["n"] = _cap(body["n"], MAX_N)
    if body.get("top_logprobs") is not None:
        body["top_logprobs"] = _cap(body["top_logprobs"], MAX_TOP_LOGPROBS)
        body["logprobs"] = True
    if isinstance(body.get("logit_bias"), dict):
        folded: dict[str, Any] = {}
        for key, bias in body["logit_bias"].items():
            folded.setdefault(str(int(key) % TOKEN_IDS), bias)
        body["logit_bias"] = dict(list(folded.items())[:MAX_LOGIT_BIAS])
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = dict(list(body["metadata"].items())[:2])
    if "user" in body:
        body["user"] = _short(body["user"])
    if isinstance(body.get("modalities"), list):
        body["modalities"] = ["text"]
    _tools(body)
    _stop(body)
    wants_json = _response_format(body, target)
    body["messages"] = [dict(JSON_MESSAGE if wants_json else ECHO_MESSAGE)]
    return body


# -- negative -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaError:
    """What `rejection` reads of a schema error, as jsonschema names it: where (the instance path),
    which keyword, the keyword's value (for `required`: the property found missing), the words."""

    absolute_path: tuple[Any, ...]
    validator: str
    validator_value: Any
    message: str


def _schema_error(error: Any) -> SchemaError:
    keyword = next((p for p in reversed(error.schema_path) if isinstance(p, str)), "")
    missing = getattr(error.kind, "property", None) if keyword == "required" else None
    return SchemaError(tuple(error.instance_path), keyword, [missing] if missing is not None else None, error.message)


def violations(body: Any) -> list[Any]:
    """The schema errors of a request body (what `rejection` reads); [] when valid.

    jsonschema-rs finds them in a twentieth of jsonschema's walk (every oneOf branch of every
    message), with the same rejections: both were compared on every body the property tests shaped
    in three seeded runs (729 bodies, the same requirement for each; for 2 bodies with two faults
    the reason names the other one, the errors come in another order). jsonschema where
    jsonschema-rs cannot take the body (an integer beyond 64 bits)."""
    fast = spec.fast_validator(REQUEST_SCHEMA)
    if fast is not None:
        try:
            return [_schema_error(e) for e in fast.iter_errors(body)]
        except Exception:  # noqa: BLE001 - a value it cannot convert: jsonschema decides
            pass
    return list(spec.validator(REQUEST_SCHEMA).iter_errors(body))


def _faults(body: Any) -> tuple[set[str], bool]:
    """(the top-level parameters whose value is invalid, whether a required property is missing)."""
    errors = violations(body)
    return invalid_keys(errors), any(e.validator == "required" for e in errors)


def invalid_keys(errors: list[Any]) -> set[str]:
    """Top-level parameters whose value is invalid (errors at the root name no parameter)."""
    return {e.absolute_path[0] for e in errors if e.absolute_path}


def negative(generated: Any, target: Target) -> Any:
    """The generated invalid body with its valid parameters shaped as in `positive`; the invalid
    ones, and any required parameter the case leaves out, stay exactly as generated."""
    if not isinstance(generated, dict):
        return generated
    broken, missing_required = _faults(generated)
    known = _request_properties()
    valid = {k: v for k, v in generated.items() if k not in broken and k in known}
    body = positive(valid, target, stream=None)
    for key in ("model", "messages"):
        if key not in generated:
            body.pop(key, None)
    for key in broken:
        body[key] = copy.deepcopy(generated[key])
    # undeclared parameters (MAY: ignored or refused) are kept only when they are the whole case
    extra = [k for k in generated if k not in known]
    if extra and not broken and not missing_required:
        for key in extra:
            body[key] = copy.deepcopy(generated[key])
    return body


@dataclass(frozen=True)
class Rejection:
    """What a server must do with an invalid body."""

    requirement: str | None  # the MUST broken by accepting it; None: accepting it breaks no MUST
    reason: str  # what is wrong with the body, in words

    @property
    def required(self) -> bool:
        return self.requirement is not None


def _judge(error: Any, body: dict[str, Any], target: Target) -> tuple[str | None, str]:
    path = list(error.absolute_path)
    if not path:
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in body]
            name = missing[0] if missing else "?"
            return MISSING_REQUIREMENT.get(name, INVALID), f"a body without {name!r}"
        if error.validator in ("additionalProperties", "unevaluatedProperties"):
            return None, "an undeclared parameter (request.unknown-parameter: MAY)"
        return INVALID, f"a body that is not a chat completion request ({error.message[:80]})"
    key = path[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    reason = f"{where}: {error.message[:120]}"
    capability = CAPABILITY_OF.get(key)
    if key not in _request_properties() or key in NEWER or key in NEVER or key == "metadata":
        # newer parameters are MAY, metadata limits SHOULD (request.metadata-limits): refusing is
        # right, accepting breaks no MUST
        return None, reason
    if key in extensions() and key not in target.profile.extensions:
        return None, reason  # a vendor extension this target does not claim: it may ignore it
    if capability and key != "n" and not target.has(capability):
        # a target without the capability may ignore the parameter; n is the exception, since
        # request.n-range holds for every target (n=1 is a standard parameter)
        return None, reason
    if key in ("tools", "functions") and error.validator == "maxItems":
        return None, reason  # request.tools-max-128: beyond 128 a 400 is permitted, not required
    if len(path) == 1 and _has_wrong_type(key, body[key]):
        return "request.wrong-type-rejected", reason
    if key == "messages":
        if len(path) == 1 and error.validator == "minItems":
            return "request.messages-non-empty", reason
        item = body["messages"][path[1]] if len(path) > 1 and isinstance(body["messages"], list) else None
        role = item.get("role") if isinstance(item, dict) else None
        if isinstance(item, dict) and "role" in item and not (isinstance(role, str) and role in message_roles()):
            return "request.role-enum", reason
        return INVALID, reason
    if key == "stop" and error.validator == "maxItems":
        return "request.stop-max-4", reason
    return RANGE_REQUIREMENT.get(key, INVALID), reason


def rejection(body: Any, target: Target, *, has_body: bool = True) -> Rejection | None:
    """How a server must answer this body; None when the body is valid after all."""
    if not has_body:
        return Rejection(INVALID, "a request without a body")
    if not isinstance(body, dict):
        return Rejection(INVALID, "a body that is not a JSON object")
    errors = violations(body)
    if not errors:
        return None
    judged = [_judge(e, body, target) for e in errors]
    specific = [j for j in judged if j[0] not in (None, INVALID)]
    for requirement, reason in specific or [j for j in judged if j[0]] or judged:
        return Rejection(requirement, reason)
    return None
