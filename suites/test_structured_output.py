"""response_format: JSON mode yields a JSON object, a strict JSON Schema yields a matching document,
and a malformed response_format is a client error."""

import pytest

from chatconform import feature_payloads as fp
from chatconform.checks import structured
from chatconform.checks.capabilities import unsupported_if_rejected

requirement = pytest.mark.requirement


def _json_object_exchange(client, target, shared, record):
    exchange = shared("structured.json_object", lambda: client.chat(fp.json_object_request(target.model)))
    unsupported_if_rejected(exchange, "json_object", "response_format")
    _note_cut(exchange, record, "structured.json-object")
    return exchange


def _json_schema_exchange(client, target, shared, record):
    exchange = shared("structured.json_schema", lambda: client.chat(fp.json_schema_request(target.model)))
    unsupported_if_rejected(exchange, "json_schema", "response_format")
    _note_cut(exchange, record, "structured.json-schema-valid")
    return exchange


@requirement("structured.json-object")
@pytest.mark.capability("json_object")
def test_json_mode_yields_a_json_object(client, target, shared, record):
    structured.json_object(_json_object_exchange(client, target, shared, record))


@requirement("structured.json-schema-valid")
@pytest.mark.capability("json_schema")
def test_json_schema_output_validates(client, target, shared, record):
    structured.json_schema_valid(_json_schema_exchange(client, target, shared, record))


@requirement("structured.json-schema-strict")
@pytest.mark.capability("json_schema")
def test_strict_json_schema_output_has_exactly_the_schemas_properties(client, target, shared, record):
    structured.json_schema_strict(_json_schema_exchange(client, target, shared, record))


@requirement("structured.malformed-format-rejected")
@pytest.mark.parametrize("case", sorted(fp.MALFORMED_FORMATS))
def test_a_malformed_response_format_is_rejected(client, target, case):
    structured.malformed_rejected(client.chat(fp.malformed_format_request(target.model, case)))


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
