"""Vendor extensions from the seed documents: optional everywhere, recorded where present.

Response-side extras are looked for in the shared plain completion. Request-side extensions are
sent only where the profile declares them (`extensions` for body fields, `conventions` for the
developer-name and vendor/model conventions); elsewhere they are reported unsupported, since on
any other server they are simply unknown parameters (request.unknown-parameter).

Seed 001's gateway headers (deployment name, tags, cache refresh) are not exercised: the seed
describes them without naming them, so there is no header to send.
"""

import pytest

from chatconform import payloads
from chatconform.checks import extensions
from chatconform.failures import Unsupported

requirement = pytest.mark.requirement

VENDOR_FIELDS = {
    "enable_thinking": False,  # seed 002; false keeps the answer cheap where thinking exists
    "user_security_context": {"application_name": "chatconform"},  # seed 000 (Azure)
    "context": "The capital of France is Paris.",  # seed 001's guardrail grounding text
}


def _declared(target, name):
    if name not in target.profile.extensions:
        raise Unsupported(name, f"profile {target.profile.name} declares no {name!r} extension")
    return target.profile.extensions[name]


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
    exchange = client.chat(payloads.minimal(target.model, **{field: VENDOR_FIELDS[field]}))
    record.support(field, repr(VENDOR_FIELDS[field])[:40],
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
    declared = _declared(target, "data_sources")
    sources = declared.get("request") if isinstance(declared, dict) else None
    if not isinstance(sources, list) or not sources:
        raise Unsupported("data_sources", "needs a configured search index: give the data_sources entries to send "
                                          "as extensions.data_sources.request in the profile")
    messages = [{"role": "user", "content": "What do the indexed documents say? Answer in one sentence."}]
    exchange = client.chat(payloads.minimal(target.model, messages=messages, data_sources=sources,
                                            max_completion_tokens=64))
    extensions.grounded_with_citations(exchange)
