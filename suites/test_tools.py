"""Function tools: every tool_choice form, the calls that come back, and the conversation after them.

Two tools are declared (get_weather, get_time) so a named choice is distinguishable from "the first
tool". One exchange per tool_choice form is shared by every test that judges it.
"""

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import tools
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.failures import Unsupported
from chatconform.plugin.concurrency import declare, each_using, uses

requirement = pytest.mark.requirement
pytestmark = pytest.mark.capability("tools")

NAMED = "get_time"
REQUESTS = {
    "required": lambda model: fp.tool_request(model, tool_choice="required"),
    "auto": lambda model: fp.tool_request(model, tool_choice="auto"),
    "none": lambda model: fp.tool_request(model, tool_choice="none", max_completion_tokens=fp.REPLY_TOKENS),
    "named": lambda model: fp.tool_request(model, fp.TIME_PROMPT,
                                           tool_choice={"type": "function", "function": {"name": NAMED}}),
    "parallel-false": lambda model: fp.tool_request(model, fp.BOTH_PROMPT, tool_choice="required",
                                                    parallel_tool_calls=False),
}
CALLING = ["required", "auto", "named"]  # exchanges whose calls are judged on their own merits
for _form, _body in REQUESTS.items():
    declare(f"tools.{_form}", lambda client, target, body=_body: client.chat(body(target.model)))
declare("tools.cut", lambda client, target: client.chat(fp.cut_call_request(target.model)))
declare("tools.foreign-result", lambda client, target: client.chat(fp.foreign_tool_result_request(target.model)))
declare("tools.functions", lambda client, target: client.chat(fp.functions_request(target.model)))
for _case in fp.INVALID_TOOLS:
    declare(f"tools.invalid.{_case}", lambda client, target, case=_case: client.chat(fp.invalid_tool_request(target.model, case)))


@pytest.fixture
def exchange_for(client, target, shared):
    """exchange_for(form): the shared exchange for one tool_choice form, or unsupported if refused."""

    def get(form):
        exchange = shared(f"tools.{form}")
        unsupported_if_rejected(exchange, "tools", "tools")
        unsupported_if_rejected(exchange, "tools", "tool_choice")
        if form == "parallel-false":
            unsupported_if_rejected(exchange, "parallel_tool_calls", "parallel_tool_calls")
        return exchange

    return get


@requirement("tool.choice-required")
@uses("tools.required")
def test_required_calls_a_tool(exchange_for):
    tools.at_least_one_call(exchange_for("required"))


@requirement("tool.choice-auto")
@uses("tools.auto")
def test_auto_answers_or_calls(exchange_for):
    tools.answered_or_called(exchange_for("auto"))


@requirement("tool.choice-none")
@uses("tools.none")
def test_none_answers_with_text(exchange_for):
    tools.no_calls(exchange_for("none"))


@requirement("tool.choice-named")
@uses("tools.named")
def test_named_choice_calls_that_function(exchange_for):
    tools.calls_only(exchange_for("named"), NAMED)


@requirement("tool.arguments-json-string")
@pytest.mark.parametrize("form", each_using("tools", CALLING))
def test_arguments_are_a_json_object_in_a_string(exchange_for, form):
    tools.arguments_json_string(exchange_for(form))


@requirement("tool.arguments-match-schema")
@pytest.mark.parametrize("form", each_using("tools", CALLING))
def test_arguments_match_the_parameters_schema(exchange_for, form):
    tools.arguments_match_schema(exchange_for(form))


@requirement("tool.function-name-declared")
@pytest.mark.parametrize("form", each_using("tools", CALLING))
def test_called_functions_were_declared(exchange_for, form):
    tools.function_name_declared(exchange_for(form))


@requirement("tool.call-ids-unique")
@pytest.mark.parametrize("form", each_using("tools", CALLING))
def test_call_ids_are_present_and_distinct(exchange_for, form):
    tools.call_ids_unique(exchange_for(form))


@requirement("tool.finish-reason-tool-calls")
@pytest.mark.parametrize("form", each_using("tools", ["required", "auto", "none", "named"]))
def test_finish_reason_tool_calls_exactly_when_tools_were_called(exchange_for, form):
    tools.finish_reason_tool_calls(exchange_for(form))


@requirement("tool.function-call-not-beside-tool-calls")
@pytest.mark.parametrize("form", each_using("tools", CALLING))
def test_no_legacy_function_call_beside_tool_calls(exchange_for, form):
    tools.no_function_call_beside_tool_calls(exchange_for(form))


@requirement("tool.cut-call-finish-length")
@uses("tools.cut")
def test_a_call_cut_by_the_cap_ends_with_length(client, target, shared):
    """Both caps are sent (a server may honour only max_tokens); one retry with max_completion_tokens
    alone if the pair is refused."""
    exchange = shared("tools.cut")
    unsupported_if_rejected(exchange, "tools", "tools")
    unsupported_if_rejected(exchange, "tools", "tool_choice")
    if exchange.status is not None and 400 <= exchange.status < 500:
        exchange = shared("tools.cut.one-cap", lambda: client.chat(fp.cut_call_request(target.model, both_caps=False)))
        unsupported_if_rejected(exchange, "tools", "tools")
    tools.cut_call_finish_length(exchange)


@requirement("tool.parallel-false-single-call")
@pytest.mark.capability("tools", "parallel_tool_calls")
@uses("tools.parallel-false")
def test_parallel_false_gives_at_most_one_call(exchange_for):
    tools.at_most_one_call(exchange_for("parallel-false"))


@requirement("tool.result-message-accepted")
@uses("tools.required")
def test_the_servers_own_calls_can_be_answered(exchange_for, client, target, shared):
    calls = _calls_of(exchange_for("required"))
    if not calls:
        pytest.skip("the tool_choice=required exchange made no call to answer (see tool.choice-required)")
    exchange = shared("tools.result", lambda: client.chat(fp.tool_result_request(target.model, calls)))
    tools.result_accepted(exchange)


@requirement("tool.result-message-accepted")
@uses("tools.foreign-result")
def test_a_replayed_call_id_in_another_format_is_accepted(client, target, shared):
    exchange = shared("tools.foreign-result")
    unsupported_if_rejected(exchange, "tools", "tools")
    tools.result_accepted(exchange)


@requirement("tool.definition-invalid-rejected")
@pytest.mark.parametrize("case", each_using("tools.invalid", sorted(fp.INVALID_TOOLS)))
def test_an_invalid_tool_definition_is_rejected(shared, case):
    tools.definition_rejected(shared(f"tools.invalid.{case}"))


@requirement("tool.functions-deprecated-handled")
@pytest.mark.capability("tools", "functions")
@uses("tools.functions")
def test_deprecated_functions_are_handled(client, target, shared):
    exchange = shared("tools.functions")
    if tools.rejected_cleanly(exchange):
        raise Unsupported("functions", f"the deprecated functions/function_call were refused: {exchange.excerpt(200)}")
    tools.function_call_returned(exchange)


def _calls_of(exchange):
    try:
        body = exchange.json()
        return [c for c in body["choices"][0]["message"].get("tool_calls") or [] if isinstance(c, dict)]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return []
