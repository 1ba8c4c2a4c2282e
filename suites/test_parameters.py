"""Request parameters: documented values are accepted, values just outside their range are refused.

Every case changes one thing in the minimal request (payloads.minimal), so each verdict is about
exactly one parameter; together they form the per-parameter support table printed at the end of
the run. The tables below are the whole test plan: one test per row.

Values that should be accepted (and the newer parameters, which may be honoured) only ask
"accepted?", so the cases that will run are sent several to a request: values of different
parameters, compatible ones only (payloads.parameters.groups: no key set twice, nothing a legal
server may refuse together, a stream alone). A combined request that is not cleanly answered 2xx
is split in two and each half sent, down to one case per request, so a refusal is only ever
judged on a request holding that one value: grouping saves billed completions, never fails a
legal server. Invalid values are refused for free, and each still has a request of its own.
"""

from __future__ import annotations

import json

import pytest

from chatconform import payloads
from chatconform.checks import errors, parameters
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.checks.common import judged, require_success
from chatconform.checks.parameters import is_success, verdict
from chatconform.payloads.parameters import Case, combined_body, groups, make_case
from chatconform.failures import Unsupported
from chatconform.plugin.concurrency import declare, uses

requirement = pytest.mark.requirement

# Requirements are written as requirement(...) marks, even in the tables, so that every citation is
# a literal the catalogue's static coverage scan (requirements.cited_requirement_ids) can see.
BOUNDS = requirement("request.boundaries-accepted")
STANDARD = requirement("request.standard-parameters-accepted")
NULLS = requirement("request.null-parameters-accepted")
WRONG_TYPE = requirement("request.wrong-type-rejected")
NEWER_PARAMETERS = requirement("request.newer-parameters-handled")
OUT_OF_RANGE = "accepted out-of-range value!"

TOKEN = "1000"  # a token id in every vocabulary in use (they all hold at least 32k tokens)
METADATA_BOUNDS = {f"key{i:02d}".ljust(64, "k"): "v" * 512 for i in range(16)}  # 16 pairs, 64/512 chars
TOOLS_128 = [{"type": "function", "function": {"name": f"f{i:03d}", "parameters": {"type": "object", "properties": {}}}}
             for i in range(128)]


def user(content=payloads.ECHO_PROMPT):
    return {"role": "user", "content": content}


def row(parameter, value, mark, **kw) -> Case:
    (requirement_id,) = mark.args
    return make_case(parameter, value, requirement_id, **kw)


def accept(parameter, value, mark=BOUNDS, **kw) -> Case:
    return row(parameter, value, mark, **kw)


def reject(parameter, value, mark, **kw) -> Case:
    ranged = mark.args[0].endswith(("-range", "-max-4", "-limits"))
    return row(parameter, value, mark, accepted_verdict=OUT_OF_RANGE if ranged else "accepted invalid value!", **kw)


TEMPERATURE = requirement("request.temperature-range")
TOP_P = requirement("request.top-p-range")
PRESENCE = requirement("request.presence-penalty-range")
FREQUENCY = requirement("request.frequency-penalty-range")
N = requirement("request.n-range")
TOP_LOGPROBS = requirement("request.top-logprobs-range")
LOGIT_BIAS = requirement("request.logit-bias-range")
METADATA = requirement("request.metadata-limits")
LOGPROBS_ON = {"logprobs": True}
STORE_ON = {"store": True}  # OpenAI refuses metadata without it ("only allowed when 'store' is enabled")

# A plain value of each optional capability's parameter: refused as well, the capability is missing.
PLAIN = {
    "logprobs": LOGPROBS_ON,
    "logit_bias": {"logit_bias": {TOKEN: 1}},
    "stop": {"stop": ["zq1"]},
    "store": STORE_ON,
    "tools": {"tools": TOOLS_128[:1], "tool_choice": "none"},
}

ACCEPTED = [
    # inclusive bounds of every documented range
    accept("temperature", 0),
    accept("temperature", 2),
    accept("top_p", 0),
    accept("top_p", 1),
    accept("presence_penalty", -2),
    accept("presence_penalty", 2),
    accept("presence_penalty", -1, PRESENCE),
    accept("frequency_penalty", -2),
    accept("frequency_penalty", 2),
    accept("frequency_penalty", -1, FREQUENCY),
    accept("n", 1),
    accept("top_logprobs", 0, also=LOGPROBS_ON, capability="logprobs"),
    accept("top_logprobs", 20, also=LOGPROBS_ON, capability="logprobs"),
    accept("logit_bias", {TOKEN: -100}, label="-100", capability="logit_bias"),
    accept("logit_bias", {TOKEN: 100}, label="100", capability="logit_bias"),
    accept("stop", ["zq1", "zq2", "zq3", "zq4"], label="4-strings", capability="stop"),
    accept("metadata", METADATA_BOUNDS, label="16-pairs-max-lengths", also=STORE_ON, capability="store"),
    accept("tools", TOOLS_128, requirement("request.tools-max-128"), label="128-functions",
           also={"tool_choice": "none"}, capability="tools"),
    # every standard parameter, with a value any model can take
    accept("stop", "zq1", STANDARD, capability="stop"),
    accept("stop", ["zq1"], STANDARD, capability="stop"),
    accept("user", "chatconform-user", STANDARD),
    accept("seed", 2**63 - 1, STANDARD, label="int64-max"),
    accept("seed", -(2**63), STANDARD, label="int64-min"),
    accept("store", False, STANDARD),
    accept("metadata", {"purpose": "conformance"}, STANDARD, also=STORE_ON, capability="store"),
    accept("logprobs", False, STANDARD),
    accept("modalities", ["text"], STANDARD),
    accept("response_format", {"type": "text"}, STANDARD, label="text"),
    accept("stream", True, STANDARD, label="true+include_usage", also={"stream_options": {"include_usage": True}}),
    # JSON null means "absent"
    *[accept(name, None, NULLS) for name in ("stream_options", "temperature", "top_p", "n", "stop", "seed",
                                             "logprobs", "presence_penalty", "frequency_penalty")],
    # roles
    accept("role", "developer", requirement("request.developer-role-accepted"),
           overrides={"messages": [{"role": "developer", "content": "Answer briefly."}, user()]}),
]

REFUSED = [
    reject("temperature", 2.01, TEMPERATURE),
    reject("temperature", -0.01, TEMPERATURE),
    reject("top_p", 1.01, TOP_P),
    reject("top_p", -0.01, TOP_P),
    reject("presence_penalty", 2.01, PRESENCE),
    reject("presence_penalty", -2.01, PRESENCE),
    reject("frequency_penalty", 2.01, FREQUENCY),
    reject("frequency_penalty", -2.01, FREQUENCY),
    reject("n", 0, N),
    reject("n", 129, N),
    reject("top_logprobs", 21, TOP_LOGPROBS, also=LOGPROBS_ON, capability="logprobs"),
    reject("top_logprobs", -1, TOP_LOGPROBS, also=LOGPROBS_ON, capability="logprobs"),
    reject("top_logprobs", 2, requirement("request.top-logprobs-requires-logprobs"), label="2-without-logprobs",
           capability="logprobs", names=("top_logprobs", "logprobs")),
    reject("logit_bias", {TOKEN: 101}, LOGIT_BIAS, label="101", capability="logit_bias"),
    reject("logit_bias", {TOKEN: -101}, LOGIT_BIAS, label="-101", capability="logit_bias"),
    reject("logit_bias", {"abc": 1}, LOGIT_BIAS, label="key-abc", capability="logit_bias"),
    reject("stop", ["zq1", "zq2", "zq3", "zq4", "zq5"], requirement("request.stop-max-4"), label="5-strings",
           capability="stop"),
    reject("metadata", {f"k{i}": "v" for i in range(17)}, METADATA, label="17-pairs", also=STORE_ON,
           capability="store"),
    reject("metadata", {"k" * 65: "v"}, METADATA, label="65-char-key", also=STORE_ON, capability="store"),
    reject("metadata", {"k": "v" * 513}, METADATA, label="513-char-value", also=STORE_ON, capability="store"),
    reject("metadata", {"k": 1}, METADATA, label="number-value", also=STORE_ON, capability="store"),
    reject("model", ..., requirement("request.model-required")),
    reject("messages", ..., requirement("request.messages-required")),
    reject("messages", [], requirement("request.messages-non-empty")),
    reject("role", "wizard", requirement("request.role-enum"), names=("messages",),
           overrides={"messages": [{"role": "wizard", "content": payloads.ECHO_PROMPT}]}),
    # wrong JSON types
    reject("temperature", "hot", WRONG_TYPE),
    reject("n", 1.5, WRONG_TYPE),
    reject("stream", "yes", WRONG_TYPE),
    reject("max_completion_tokens", "4", WRONG_TYPE),
    reject("messages", user(), WRONG_TYPE, label="object"),
]

# Newer or model-specific OpenAI parameters: honoured or refused by name, and the choice is recorded.
NEWER = [
    row("reasoning_effort", "low", NEWER_PARAMETERS),
    row("verbosity", "low", NEWER_PARAMETERS),
    row("prompt_cache_key", "chatconform", NEWER_PARAMETERS),
    row("safety_identifier", "chatconform-user", NEWER_PARAMETERS),
    row("service_tier", "auto", NEWER_PARAMETERS),
    row("prediction", {"type": "content", "content": payloads.ECHO_WORDS}, NEWER_PARAMETERS, label="content"),
]

UNKNOWN = row("x_chatconform_unknown", True, requirement("request.unknown-parameter"))
STREAM_OPTIONS_ALONE = row("stream_options", {"include_usage": True},
                           requirement("request.stream-options-without-stream"), label="without-stream")


def _key(case: Case) -> str:
    return f"parameters.{case.id}"


# each refused value alone: refusals are not billed, and nothing groups them (one wrong value
# per request, so the refusal is the value's); declared, so the pool sends them ahead
for _case in REFUSED:
    declare(_key(_case), lambda client, target, case=_case: client.chat(case.body(target.model)))


def _params(cases, *marks, own=True):
    """One pytest param per case, citing the case's requirement (unless ``own`` is false) and
    ``marks``; a declared case is marked with its exchange."""
    out = []
    for case in cases:
        case_marks = [requirement(case.requirement)] if own else []
        case_marks += marks
        if case in REFUSED:
            case_marks.append(uses(_key(case)))
        if case.capability:
            case_marks.append(pytest.mark.capability(case.capability))
        out.append(pytest.param(case, id=case.id, marks=case_marks))
    return out


@pytest.fixture
def exchange_for(client, target, shared):
    """The one exchange of a case, shared by every test that judges it."""

    def get(case: Case):
        if case in REFUSED:
            return shared(_key(case))
        body = case.body(target.model)
        return shared("parameters:" + json.dumps(body, sort_keys=True), lambda: client.chat(body))

    return get


def _clean(exchange) -> bool:
    return is_success(exchange) and exchange.problem is None


@pytest.fixture
def grouped_exchange(request, client, target, shared, exchange_for):
    """grouped_exchange(case): the exchange that answers an accepted (or newer) case: a combined
    request shared with the other cases of its group when that one was cleanly accepted, else the
    exchange of the half holding the case, and so on down to the case's own request."""
    from chatconform.plugin.concurrency import will_run

    def planned(function: str) -> list[Case]:
        cases = []
        for item in request.session.items:
            callspec = getattr(item, "callspec", None)
            if (getattr(item, "originalname", None) == function and item.module is request.module
                    and callspec is not None and will_run(item, target)):
                cases.append(callspec.params["case"])
        return cases

    def settle(cases: list[Case], case: Case):
        if len(cases) == 1:
            return exchange_for(case)
        body = combined_body(cases, target.model)
        exchange = shared("parameters:" + json.dumps(body, sort_keys=True), lambda: client.chat(body))
        if _clean(exchange) or not exchange.attempts:  # accepted, or not sent at all (a limit): no split
            return exchange
        half = len(cases) // 2
        return settle(cases[:half] if case in cases[:half] else cases[half:], case)

    def get(case: Case, function: str):
        for group in groups(planned(function)):
            if case in group:
                return settle(group, case)
        return exchange_for(case)

    return get


def _raise_if_capability_missing(case: Case, exchange_for) -> None:
    """A refused value of an optional capability is "unsupported" only if a plain value of the same
    parameter is refused too; otherwise the refusal is about the value (an exclusive bound, a
    lower limit) and the case fails. The plain probe is sent only when a case was refused."""
    plain = make_case(case.capability, None, case.requirement, label="plain", overrides=PLAIN[case.capability])
    probe = exchange_for(plain)
    if not is_success(probe):
        for name in plain.overrides:
            unsupported_if_rejected(probe, case.capability, name)


@pytest.mark.parametrize("case", _params(ACCEPTED))
def test_valid_value_is_accepted(case, exchange_for, grouped_exchange, record):
    exchange = grouped_exchange(case, "test_valid_value_is_accepted")
    found = verdict(exchange)
    try:
        if case.capability and not is_success(exchange):
            _raise_if_capability_missing(case, exchange_for)
    except Unsupported:
        record.support(case.parameter, case.label, f"unsupported ({found})")
        raise
    record.support(case.parameter, case.label, found)
    require_success(exchange, case.requirement)
    judged(case.requirement, exchange)


@pytest.mark.parametrize(
    "case", _params(REFUSED, requirement("error.client-error-not-5xx", "error.status-400-invalid", "error.envelope"))
)
def test_invalid_value_is_refused_with_400(case, exchange_for, record):
    exchange = exchange_for(case)
    record.support(case.parameter, case.label, verdict(exchange, case.accepted_verdict))
    parameters.not_accepted(exchange, case.requirement, case.id)
    errors.not_5xx(exchange)
    errors.status_400(exchange)
    errors.envelope(exchange)
    judged(case.requirement, exchange)


@pytest.mark.parametrize("case", _params(REFUSED, requirement("error.param-names-parameter"), own=False))
def test_refusal_names_the_parameter(case, exchange_for):
    exchange = exchange_for(case)
    if not parameters.is_client_error(exchange):
        pytest.skip(f"not refused with a 4xx ({verdict(exchange)}): judged by test_invalid_value_is_refused_with_400")
    parameters.names_parameter(exchange, case.param_names)


@pytest.mark.parametrize("case", _params(NEWER))
def test_newer_parameter_is_honoured_or_refused_by_name(case, grouped_exchange, record):
    exchange = grouped_exchange(case, "test_newer_parameter_is_honoured_or_refused_by_name")
    found = verdict(exchange)
    record.support(case.parameter, case.label, found)
    record.info(case.requirement, f"{case.id}: {found}")
    parameters.honoured_or_refused(exchange, case.parameter)


@requirement("request.unknown-parameter")
def test_unknown_parameter_is_recorded(exchange_for, record):
    """OpenAI refuses unknown parameters, many servers ignore them: both are conformant."""
    exchange = exchange_for(UNKNOWN)
    found = verdict(exchange, "ignored (accepted)")
    record.support(UNKNOWN.parameter, UNKNOWN.label, found)
    record.info(UNKNOWN.requirement, f"unknown top-level parameter {UNKNOWN.parameter!r}: {found}")
    parameters.unknown_parameter_handled(exchange, UNKNOWN.parameter)


@requirement("request.stream-options-without-stream")
@pytest.mark.capability("stream_usage")
def test_stream_options_on_a_non_streamed_request_is_recorded(exchange_for, record):
    """The spec tells clients to send stream_options only with stream: true; a server may refuse
    it (OpenAI does) or ignore it (LiteLLM, llama-cpp-python do)."""
    exchange = exchange_for(STREAM_OPTIONS_ALONE)
    found = verdict(exchange, "ignored (accepted)")
    record.support("stream_options", "without stream", found)
    record.info("request.stream-options-without-stream", f"stream_options without stream: {found}")
    parameters.stream_options_without_stream(exchange)


@requirement("request.max-completion-tokens-accepted")
def test_max_completion_tokens_is_accepted(completion, record):
    record.support("max_completion_tokens", str(payloads.MAX_TOKENS), verdict(completion))
    require_success(completion, "request.max-completion-tokens-accepted")
    judged("request.max-completion-tokens-accepted", completion)


@requirement("request.max-tokens-deprecated-accepted")
def test_deprecated_max_tokens_is_accepted_and_caps_the_completion(client, target, record):
    cap = payloads.CAPPED_TOKENS
    exchange = client.chat(payloads.minimal(target.model, max_completion_tokens=..., max_tokens=cap))
    record.support("max_tokens", str(cap), verdict(exchange))
    parameters.max_tokens_bounds(exchange, cap)


@requirement("request.conversation-roles-accepted")
def test_conversation_of_system_user_and_assistant_messages_is_answered(client, target, record):
    messages = [
        {"role": "system", "content": "You repeat what you are asked to repeat.", "name": "setup"},
        {"role": "user", "content": "Repeat exactly, nothing else: one two", "name": "tester"},
        {"role": "assistant", "content": "one two", "name": "echo"},
        user(),
    ]
    exchange = client.chat(payloads.minimal(target.model, messages=messages))
    record.support("messages", "system+user+assistant, named", verdict(exchange))
    parameters.conversation_answered(exchange)


@requirement("request.content-parts-accepted")
def test_content_as_text_parts_is_answered_like_a_string(client, target, completion, record):
    parts = [{"role": "user", "content": [{"type": "text", "text": payloads.ECHO_PROMPT}]}]
    exchange = client.chat(payloads.minimal(target.model, messages=parts))
    record.support("content", "text parts", verdict(exchange))
    parameters.parts_like_string(exchange, completion)
