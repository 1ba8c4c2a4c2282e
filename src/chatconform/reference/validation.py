"""Request validation: specs/openapi.yaml's schema first, then the rules a schema cannot state.

Every failure is an APIError(400) whose `param` follows one convention: the top-level request
parameter name (`temperature`, `model`, an unknown `foo`), extended with `.key` and `[index]`
for nested values: `messages[0].role`, `messages[2].content`, `response_format.json_schema.name`,
`tools[1].function.parameters`. Clients that only care about the top-level parameter take the
part before the first `.` or `[`.

The spec's schemas come from chatconform.spec, which only loads specs/ (the one thing the server
and the suite share).
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from chatconform import spec
from chatconform.reference.errors import APIError, invalid_request
from chatconform.reference.tokens import TOKEN_ID_SPACE


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for `#/components/schemas/<name>` (chatconform.spec builds and caches it)."""
    return spec.validator(name)


def compile_schemas() -> None:
    """Build every validator the server uses at start-up: a broken spec fails there, not per request."""
    for name in ("CreateChatCompletionRequest", "Metadata"):
        schema_validator(name)
        spec.fast_validator(name)


# ---------------------------------------------------------------- schema errors -> param

def _param(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _branch_errors(error: ValidationError) -> dict[int, list[ValidationError]]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return branches


def _ref_name(branch: Any) -> str | None:
    return branch.get("$ref", "").rsplit("/", 1)[-1] if isinstance(branch, dict) else None


def _refine(error: ValidationError) -> tuple[ValidationError, list[Any] | None]:
    """Descend from a oneOf/anyOf failure to the branch the instance evidently meant.

    Returns the most specific error, or (error, path) when the instance's discriminator value is
    itself what is wrong (unknown `role`, unknown `type`): then the path names that property.
    """
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches = _branch_errors(error)
        options = error.schema.get(error.validator, [])
        discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
        chosen: list[ValidationError] | None = None
        if isinstance(discriminator, dict) and isinstance(error.instance, dict):
            prop = discriminator.get("propertyName")
            target = (discriminator.get("mapping") or {}).get(error.instance.get(prop))
            if target is None:
                return error, list(error.absolute_path) + [prop]
            for index, option in enumerate(options):
                if _ref_name(option) == target.rsplit("/", 1)[-1]:
                    chosen = branches.get(index)
        else:
            # keep the branches whose failure is not a plain type mismatch of the value itself
            plausible = [errs for errs in branches.values()
                         if not any(e.validator == "type" and not e.relative_path for e in errs)]
            if len(plausible) == 1:
                chosen = plausible[0]
        if not chosen:
            return error, None
        error = min(chosen, key=lambda e: (-len(e.absolute_path), e.validator == "required"))
    return error, None


def _unexpected(error: ValidationError) -> list[str]:
    names = re.findall(r"'([^']*)'", error.message.split("(", 1)[-1]) if "(" in error.message else []
    if isinstance(error.instance, dict):
        names = [n for n in names if n in error.instance] or names
    return names


def _conditional(error: ValidationError) -> APIError | None:
    """A failed `then` of an if/then rule ("top_logprobs needs logprobs: true"): the parameter to
    name is the one the rule is about (the `if`'s), not the prerequisite that is missing."""
    path = list(error.absolute_schema_path)
    if "then" not in path:
        return None
    node: Any = spec.resolve("#/components/schemas/CreateChatCompletionRequest")
    for part in path[: path.index("then")]:
        node = node[part]
    trigger = (node.get("if", {}).get("required") or [None])[0]
    needs = ", ".join(f"'{name}': {rule.get('const')!r}".replace("True", "true")
                      for name, rule in node.get("then", {}).get("properties", {}).items())
    if trigger is None:
        return None
    return invalid_request(f"Invalid value for '{trigger}': it is only allowed with {needs}.", trigger)


def schema_error(error: ValidationError) -> APIError:
    conditional = _conditional(error)
    if conditional is not None:
        return conditional
    error, discriminator_path = _refine(error)
    if discriminator_path is not None:
        param = _param(discriminator_path)
        value = error.instance.get(discriminator_path[-1]) if isinstance(error.instance, dict) else None
        if value is None:
            return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
        return invalid_request(f"Invalid value for '{param}': {value!r} is not one of the supported values.",
                               param, "invalid_value")
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        param = _param(path + missing[:1])
        return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        extra = _unexpected(error)
        param = _param(path + extra[:1])
        label = "request argument" if not path else "parameter"
        return invalid_request(f"Unrecognized {label} supplied: {param}", param, "unknown_parameter")
    if error.validator == "propertyNames":
        param = _param(path)
        return invalid_request(f"Invalid key in '{param}': {error.message}", param, "invalid_value")
    param = _param(path) or None
    code = "invalid_type" if error.validator == "type" else "invalid_value"
    where = f"'{param}'" if param else "the request body"
    return invalid_request(f"Invalid value for {where}: {error.message}", param, code)


def _first_error(errors: list[ValidationError], body: dict) -> ValidationError:
    order = {key: i for i, key in enumerate(body)}
    return min(errors, key=lambda e: -1 if not e.absolute_path else order.get(e.absolute_path[0], len(order)))


# ---------------------------------------------------------------- semantic rules

def _check_json_schema(schema: Any, param: str) -> None:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise invalid_request(f"Invalid schema for '{param}': {exc.message}", param) from None


def _check_tools(body: dict) -> None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    names = [t["function"]["name"] for t in tools or []]
    for i, tool in enumerate(tools or []):
        if "parameters" in tool["function"]:
            _check_json_schema(tool["function"]["parameters"], f"tools[{i}].function.parameters")
    if not tools:
        if choice not in (None, "none", "auto"):
            raise invalid_request("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                                  "tool_choice")
        if "parallel_tool_calls" in body:
            raise invalid_request("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
                                  "'tools' are specified.", "parallel_tool_calls")
    if isinstance(choice, dict) and choice["function"]["name"] not in names:
        raise invalid_request(f"Invalid value for 'tool_choice': no function named '{choice['function']['name']}' "
                              "in 'tools'.", "tool_choice")
    functions = body.get("functions")
    for i, function in enumerate(functions or []):
        if "parameters" in function:
            _check_json_schema(function["parameters"], f"functions[{i}].parameters")
    call = body.get("function_call")
    if isinstance(call, dict) and call["name"] not in [f["name"] for f in functions or []]:
        raise invalid_request(f"Invalid value for 'function_call': no function named '{call['name']}' in 'functions'.",
                              "function_call")


def _check_messages(messages: list[dict]) -> None:
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "assistant":
            has_call = bool(message.get("tool_calls")) or message.get("function_call") is not None
            if message.get("content") is None and not has_call and not isinstance(message.get("refusal"), str):
                raise invalid_request(f"Invalid value for 'messages[{i}].content': an assistant message needs "
                                      "content unless it has tool_calls or function_call.", f"messages[{i}].content")
            open_calls = {call["id"] for call in message.get("tool_calls") or []}
        elif role == "tool":
            # the one ordering rule OpenAI enforces: a tool result answers a call just made
            if message["tool_call_id"] not in open_calls:
                raise invalid_request(f"Invalid value for 'messages[{i}].tool_call_id': a 'tool' message must answer a "
                                      "tool_call of the assistant message right before it.",
                                      f"messages[{i}].tool_call_id")
        else:
            open_calls = set()


def _mentions_json(messages: list[dict]) -> bool:
    for message in messages:
        content = message.get("content")
        texts = [content] if isinstance(content, str) else [
            p.get("text", "") for p in content or [] if isinstance(p, dict)]
        if any("json" in text.lower() for text in texts if isinstance(text, str)):
            return True
    return False


def _check_semantics(body: dict) -> None:
    for key in body.get("logit_bias") or {}:
        if int(key) >= TOKEN_ID_SPACE:
            raise invalid_request(f"Invalid key in 'logit_bias': {key} is not a token id.", "logit_bias")
    _check_tools(body)
    _check_messages(body["messages"])
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema" and "schema" in response_format["json_schema"]:
        _check_json_schema(response_format["json_schema"]["schema"], "response_format.json_schema.schema")
    if response_format.get("type") == "json_object" and not _mentions_json(body["messages"]):
        # OpenAI's rule: JSON mode without the word in the prompt can loop on whitespace
        raise invalid_request("'messages' must contain the word 'json' in some form to use 'response_format' of "
                              "type 'json_object'.", "messages")
    if "audio" in (body.get("modalities") or []):
        raise invalid_request("The reference server generates text only; 'modalities' may not include 'audio'.",
                              "modalities", "unsupported_value")


_INTEGER_PARAMS = ("n", "max_completion_tokens", "max_tokens", "top_logprobs", "seed", "top_k")


def _integers(body: dict) -> dict:
    """JSON Schema counts 2.0 as an integer; the generator needs int, so such values become ints."""
    body = dict(body)
    for name in _INTEGER_PARAMS:
        if isinstance(body.get(name), float):
            body[name] = int(body[name])
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {k: int(v) for k, v in body["logit_bias"].items()}
    return body


def validate_request(body: Any) -> dict:
    """The body, integer parameters as int, if it is a valid CreateChatCompletionRequest; else APIError(400)."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", None, "invalid_type")
    if not spec.surely_valid("CreateChatCompletionRequest", body):
        errors = list(schema_validator("CreateChatCompletionRequest").iter_errors(body))
        if errors:
            raise schema_error(_first_error(errors, body))
    body = _integers(body)
    _check_semantics(body)
    return body


def validate_models(body: dict, models: tuple[str, ...] | None) -> None:
    if models is not None and body["model"] not in models:
        raise APIError(404, f"The model '{body['model']}' does not exist or you do not have access to it.",
                       param="model", code="model_not_found")
