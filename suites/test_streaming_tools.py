"""Tool calls in a stream: delivered as delta.tool_calls, indexed, and reassembled into valid calls.

One streamed request with tool_choice "required" serves every test here.
"""

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import streaming, tools
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.plugin.concurrency import declare, uses

requirement = pytest.mark.requirement
STREAM = declare("tools.required.stream",
                 lambda client, target: client.chat(fp.tool_request(target.model, tool_choice="required", stream=True)))
pytestmark = [pytest.mark.capability("tools"), uses(STREAM)]


@pytest.fixture
def tool_stream(client, target, shared):
    """tool_stream(): the shared streamed exchange, or unsupported if the target refused it."""

    def get():
        exchange = shared(STREAM)
        unsupported_if_rejected(exchange, "tools", "tools")
        unsupported_if_rejected(exchange, "tools", "tool_choice")
        return exchange

    return get


@requirement("stream.tool-calls-streamed")
def test_tool_calls_arrive_as_tool_call_deltas(tool_stream):
    tools.calls_streamed(tool_stream())


@requirement("stream.tool-call-index")
def test_every_tool_call_delta_has_an_index(tool_stream):
    streaming.tool_call_index(tool_stream())


@requirement("stream.tool-call-first-delta-fields")
def test_first_delta_of_each_call_has_id_type_and_name(tool_stream):
    streaming.tool_call_first_delta(tool_stream())


@requirement("stream.tool-call-id-name-once")
def test_id_and_name_come_only_in_the_first_delta_of_each_call(tool_stream):
    streaming.tool_call_id_name_once(tool_stream())


@requirement("tool.function-call-not-beside-tool-calls")
def test_no_legacy_function_call_delta_beside_tool_calls(tool_stream):
    tools.streamed_no_function_call_beside_tool_calls(tool_stream())


@requirement("stream.tool-call-arguments-json")
def test_argument_fragments_concatenate_to_json(tool_stream):
    streaming.tool_call_arguments(tool_stream())


@requirement("tool.finish-reason-tool-calls")
def test_streamed_finish_reason_is_tool_calls(tool_stream):
    tools.streamed_finish_reason(tool_stream())


@requirement("tool.call-ids-unique")
def test_streamed_call_ids_are_present_and_distinct(tool_stream):
    tools.streamed_call_ids_unique(tool_stream())


@requirement("tool.function-name-declared")
def test_streamed_calls_name_declared_functions(tool_stream):
    tools.streamed_names_declared(tool_stream())


@requirement("stream.chunk-schema")
def test_tool_call_chunks_are_valid_against_the_schema(tool_stream):
    streaming.chunk_schema(tool_stream())
