"""Vendor extensions from the seed documents: optional everywhere, recorded where present.

Response-side extras are looked for in the shared plain completion and stream; those the profile
declares (`extensions.response`) are validated against its schemas, the rest only recorded.
Request-side extensions are sent only where the profile declares them (`extensions.request`,
with the profile's `example` value; `conventions` for the developer-name and vendor/model
conventions); elsewhere they are reported unsupported, since on any other server they are simply
unknown parameters (request.unknown-parameter).

Seed 001's gateway headers (deployment name, tags, cache refresh) are the profile's
`headers.required` / `optional`; the plugin sends them (--header), they are not judged here.
"""

import pytest

from chatconform import payloads
from chatconform.checks import extensions, streaming
from chatconform.failures import NotApplicable, Unsupported
from chatconform.plugin.concurrency import each_using

requirement = pytest.mark.requirement

VENDOR_FIELDS = {
    "enable_thinking": False,  # seed 002; false keeps the answer cheap where thinking exists
    "user_security_context": {"application_name": "chatconform"},  # seed 000 (Azure)
    "context": "The capital of France is Paris.",  # seed 001's guardrail grounding text
    "verbosity": "low",  # seed 002
    "reasoning_effort": "minimal",  # seed 002's lowest
    "service_tier": "auto",  # seed 001
}


def _declared(target, name):
    if name not in target.profile.extensions:
        raise Unsupported(name, f"profile {target.profile.name} declares no {name!r} extension")
    return target.profile.extensions[name]


def _value(target, field):
    example = target.profile.extensions[field].example
    return VENDOR_FIELDS[field] if example is None else example


@requirement("ext.vendor-fields-tolerated")
def test_vendor_fields_in_a_completion_are_recorded(completion, record):
    try:
        body = completion.json()
    except ValueError:
        pytest.skip("the plain completion is not JSON (see response.schema)")
    found = extensions.vendor_fields(body)
    parts = [f"{kind}: {', '.join(paths)}" for kind, paths in found.items() if paths]
    record.info("ext.vendor-fields-tolerated", "fields beyond the OpenAI schema: " + ("; ".join(parts) or "none"))


@requirement("ext.reasoning-separate")
def test_reasoning_is_not_mixed_into_content(completion, record):
    extensions.reasoning_separate(completion)
    filled = extensions.reasoning_fields(completion)
    if filled:
        record.info("ext.reasoning-separate", f"reasoning returned in message.{', message.'.join(filled)}")


@requirement("ext.top-k-accepted")
def test_top_k_is_accepted(client, target, record):
    _declared(target, "top_k")
    exchange = client.chat(payloads.minimal(target.model, top_k=5))
    record.support("top_k", "5", "accepted" if exchange.status == 200 else f"HTTP {exchange.status}")
    extensions.top_k_accepted(exchange)


@requirement("ext.vendor-request-fields")
@pytest.mark.parametrize("field", sorted(VENDOR_FIELDS))
def test_vendor_request_field_is_accepted(client, target, record, field):
    _declared(target, field)
    value = _value(target, field)
    exchange = client.chat(payloads.minimal(target.model, **{field: value}))
    record.support(field, repr(value)[:40],
                   "accepted (effect not observable)" if exchange.status == 200 else f"HTTP {exchange.status}")
    extensions.vendor_request_field(exchange)


@requirement("ext.model-vendor-prefix")
def test_vendor_prefixed_model_is_accepted(client, target, completion, record):
    if "/" in target.model:
        record.info("ext.model-vendor-prefix", f"the model under test, {target.model!r}, is itself vendor/model")
        extensions.model_vendor_prefix(completion)
        return
    vendor = target.profile.conventions.get("model_vendor")
    if not vendor:
        raise Unsupported("model_vendor_prefix", f"profile {target.profile.name} names no model_vendor convention "
                                                 f"and the model id {target.model!r} has no vendor prefix")
    exchange = client.chat(payloads.minimal(f"{vendor}/{target.model}"))
    record.support("model", "vendor/model", "accepted" if exchange.status == 200 else f"HTTP {exchange.status}")
    extensions.model_vendor_prefix(exchange)


@requirement("ext.developer-name-convention")
def test_user_message_named_developer_is_accepted(client, target, record):
    if target.profile.conventions.get("developer_message") != "user-name-developer":
        raise Unsupported("developer_name_convention",
                          f"profile {target.profile.name} does not use seed 000's role=user, name=developer convention")
    messages = [{"role": "user", "name": "developer", "content": "Answer exactly as asked."},
                {"role": "user", "content": payloads.ECHO_PROMPT}]
    exchange = client.chat(payloads.minimal(target.model, messages=messages))
    record.info("ext.developer-name-convention", "accepted; whether it is treated as developer instructions is not "
                "observable" if exchange.status == 200 else f"HTTP {exchange.status}")
    extensions.developer_name_convention(exchange)


@requirement("ext.data-sources")
def test_data_sources_give_a_grounded_answer(client, target):
    sources = _declared(target, "data_sources").example
    if not isinstance(sources, list) or not sources:
        raise Unsupported("data_sources", "needs a configured search index: give the data_sources entries to send "
                                          "as extensions.request.data_sources.example in the profile")
    messages = [{"role": "user", "content": "What do the indexed documents say? Answer in one sentence."}]
    exchange = client.chat(payloads.minimal(target.model, messages=messages, data_sources=sources,
                                            max_completion_tokens=64))
    extensions.grounded_with_citations(exchange)


@requirement("ext.declared-field-schema")
@pytest.mark.parametrize("kind", each_using("", ("completion", "stream")))
def test_declared_vendor_fields_have_their_schema(shared, target, record, kind):
    declared = target.profile.extensions.response
    if not declared:  # nothing this target promises: the requirement does not apply to it
        raise NotApplicable("ext.declared-field-schema",
                            f"profile {target.profile.name} declares no response fields; vendor fields are only recorded")
    exchange = shared(kind)
    bodies = None if kind == "completion" else streaming.chunks(exchange, "ext.declared-field-schema")
    judged = extensions.declared_fields_valid(exchange, declared, bodies)
    record.info("ext.declared-field-schema", f"{judged} declared field values judged in the {kind} "
                                             f"({', '.join(sorted(declared))})")
