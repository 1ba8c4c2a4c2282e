"""response_format: JSON mode yields a JSON object, a strict JSON Schema yields a matching document,
and a malformed response_format is a client error.

A reply cut by the cap before it could be judged is retried once with a bounded larger cap
(JSON_RETRY_TOKENS); cut again, it is not judged. A request that gets no completion is judged
only by structured.format-answered-or-refused (a 4xx naming response_format: unsupported).
"""

import pytest

from chatconform.payloads import features as fp
from chatconform.checks import structured
from chatconform.checks.capabilities import unsupported_if_rejected
from chatconform.plugin.concurrency import declare, each_using, uses

requirement = pytest.mark.requirement


REQUESTS = {"json_object": fp.json_object_request, "json_schema": fp.json_schema_request}
for _kind, _body in REQUESTS.items():
    declare(f"structured.{_kind}", lambda client, target, body=_body: client.chat(body(target.model)))
for _case in fp.MALFORMED_FORMATS:
    declare(f"structured.malformed.{_case}",
            lambda client, target, case=_case: client.chat(fp.malformed_format_request(target.model, case)))


def _first_exchange(client, target, shared, kind):
    exchange = shared(f"structured.{kind}")
    unsupported_if_rejected(exchange, kind, "response_format")
    unsupported_if_rejected(exchange, kind, kind)
    return exchange


def _exchange(client, target, shared, record, kind, requirement_id):
    exchange = _first_exchange(client, target, shared, kind)
    if structured.all_cut(exchange):
        record.info(requirement_id, f"every choice hit the cap of {fp.JSON_TOKENS} tokens: retried once with "
                                    f"{fp.JSON_RETRY_TOKENS}")
        exchange = shared(f"structured.{kind}.larger-cap", lambda: client.chat(
            REQUESTS[kind](target.model, max_completion_tokens=fp.JSON_RETRY_TOKENS)))
        unsupported_if_rejected(exchange, kind, "response_format")
    _note_cut(exchange, record, requirement_id)
    return exchange


def _json_object_exchange(client, target, shared, record):
    return _exchange(client, target, shared, record, "json_object", "structured.json-object")


def _json_schema_exchange(client, target, shared, record):
    return _exchange(client, target, shared, record, "json_schema", "structured.json-schema-valid")


@requirement("structured.format-answered-or-refused")
@pytest.mark.parametrize("kind", [pytest.param(k, marks=[pytest.mark.capability(k), uses(f"structured.{k}")])
                                  for k in ("json_object", "json_schema")])
def test_a_json_response_format_is_answered_or_refused_cleanly(client, target, shared, kind):
    structured.answered_or_refused(_first_exchange(client, target, shared, kind))


@requirement("structured.json-object")
@pytest.mark.capability("json_object")
@uses("structured.json_object")
def test_json_mode_yields_a_json_object(client, target, shared, record):
    structured.json_object(_json_object_exchange(client, target, shared, record))


@requirement("structured.json-schema-valid")
@pytest.mark.capability("json_schema")
@uses("structured.json_schema")
def test_json_schema_output_validates(client, target, shared, record):
    structured.json_schema_valid(_json_schema_exchange(client, target, shared, record))


@requirement("structured.json-schema-strict")
@pytest.mark.capability("json_schema")
@uses("structured.json_schema")
def test_strict_json_schema_output_has_exactly_the_schemas_properties(client, target, shared, record):
    structured.json_schema_strict(_json_schema_exchange(client, target, shared, record))


@requirement("structured.malformed-format-rejected")
@pytest.mark.parametrize("case", each_using("structured.malformed", sorted(fp.MALFORMED_FORMATS)))
def test_a_malformed_response_format_is_rejected(shared, case):
    structured.malformed_rejected(shared(f"structured.malformed.{case}"))


def _note_cut(exchange, record, requirement_id):
    """A choice cut by the token cap is not judged; say so rather than pass silently."""
    try:
        reasons = [c.get("finish_reason") for c in exchange.json()["choices"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return  # the check itself reports an unusable response
    cut = reasons.count("length")
    if cut:
        record.info(requirement_id, f"{cut} of {len(reasons)} choices hit the token cap (finish_reason length) "
                                    "and were not judged")
